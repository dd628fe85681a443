// arms check FILE.BAT...: the batch files given, each checked whole as the interpreter reads it,
// without a config. Exit 0 when every file can run (warnings are printed), 1 when one cannot be
// parsed or read, 2 for a usage error.
import { CommandError } from '../../client/client';
import { check } from '../../batch/parse';
import { encodingName, forceEncoding, formatProblem, isError } from '../../batch/source';

export function checkFiles(files: string[], encoding?: string): number {
  if (encoding !== undefined) {
    const e = encodingName(encoding);
    if (!e) throw new CommandError(`--encoding: "${encoding}" is not one of utf-8, shift_jis (cp932), utf-16le`, 2);
    forceEncoding(e);
  }
  if (files.length === 0) throw new CommandError('--encoding applies to the files given: arms check --encoding shift_jis FILE.BAT', 2);
  let errors = 0;
  for (const f of files) {
    const problems = check(f);
    for (const p of problems) console.log(formatProblem(p));
    const bad = problems.filter(isError).length;
    errors += bad;
    const warnings = problems.length - bad;
    console.log(`${f}: ${bad ? `${bad} error(s): it cannot run` : 'runs'}${warnings ? `, ${warnings} warning(s)` : ''}`);
  }
  return errors > 0 ? 1 : 0;
}
