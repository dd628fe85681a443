// The batch interpreter's entry point: `node dist/batch/main.js [--trace] FILE.BAT [args...]`.
// The service runs a group's .bat/.cmd script as this process (so a timeout stops it with its
// tree); the exit code is the batch's. A script that cannot be parsed does not run: every such
// line is printed with file:line, and the exit code is 255 (cmd's for a syntax error).
import * as path from 'node:path';
import { exitCodeOf, Interpreter } from './exec';
import { encodingName } from './source';

const USAGE = `usage: node dist/batch/main.js [--trace] [--encoding utf-8|shift_jis|utf-16le] FILE.BAT [args...]

Runs a batch file with cmd's semantics (docs/batch.md). --trace prints each line as it runs,
with the branch taken, on stderr. The file's encoding (UTF-16LE or UTF-8 with a BOM, UTF-8,
else Shift_JIS/CP932) is detected unless --encoding names it. Exit code: the batch's (its final ERRORLEVEL or EXIT's code,
truncated to 0-255, a non-zero code never becoming 0); 255 when the script is outside the
dialect; 2 for a usage error.`;

/** An argument as cmd would have it on a command line: quoted when it holds a separator. */
function asWritten(a: string): string {
  if (a.startsWith('"') && a.endsWith('"') && a.length > 1) return a;
  return a === '' || /[ \t,;=]/.test(a) ? `"${a}"` : a;
}

async function main(argv: string[]): Promise<number> {
  let trace = false;
  let echoOff = false;
  // --echo-off is internal: a batch run without CALL goes on with its caller's ECHO state.
  const env = { ...process.env };
  for (; argv[0] === '--trace' || argv[0] === '--echo-off' || argv[0] === '--encoding'; argv = argv.slice(1)) {
    if (argv[0] === '--trace') trace = true;
    else if (argv[0] === '--echo-off') echoOff = true;
    else {
      const e = encodingName(argv[1] ?? '');
      if (!e) {
        process.stderr.write(`--encoding: "${argv[1] ?? ''}" is not one of utf-8, shift_jis (cp932), utf-16le\n`);
        return 2;
      }
      env.ARMS_BATCH_ENCODING = e;
      argv = argv.slice(1);
    }
  }
  const [file, ...args] = argv;
  if (file === undefined || ['/?', '-h', '--help'].includes(file)) {
    process.stderr.write(USAGE + '\n');
    return file === undefined ? 2 : 0;
  }
  const sh = new Interpreter({ env, cwd: process.cwd(), traceFd: trace ? 2 : undefined, entry: __filename, echoOff });
  const code = await sh.run(path.resolve(file), asWritten(file), args.map(asWritten), { in: 0, out: 1, err: 2 });
  return exitCodeOf(code);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(`batch: internal error: ${(e as Error).stack ?? e}\n`);
    process.exit(1);
  },
);
