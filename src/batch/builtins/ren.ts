// REN / RENAME path newname: a new name in the same folder (a path in the new name is a syntax
// error); `*.txt *.bak` changes the extension of every match. ERRORLEVEL 1 when it fails.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { IO, writeFd } from '../io';
import type { Interpreter } from '../exec';
import { builtinArgs, expandName } from './args';

export function ren(sh: Interpreter, rest: string, io: IO): boolean {
  const { names } = builtinArgs(rest);
  const fail = (msg: string) => {
    writeFd(io.err, msg + '\n');
    sh.errorlevel = 1;
    return false;
  };
  if (names.length !== 2 || /[\\/]/.test(names[1])) return fail('The syntax of the command is incorrect.');
  const sources = expandName(sh.cwd, names[0], true);
  if (sources.length === 0) return fail('The system cannot find the file specified.');
  const pattern = names[1];
  for (const s of sources) {
    const base = path.basename(s);
    const ext = path.extname(base);
    const stem = base.slice(0, base.length - ext.length);
    const m = /^\*(\.[^*?]*)?$/.exec(pattern);
    const newName = m ? stem + (m[1] ?? '') : pattern.replace(/^\*\./, stem + '.');
    const target = path.join(path.dirname(s), newName);
    if (fs.existsSync(target) && target.toLowerCase() !== s.toLowerCase()) return fail('A duplicate file name exists, or the file\ncannot be found.');
    fs.renameSync(s, target);
  }
  return true;
}
