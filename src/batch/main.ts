// The batch interpreter's entry point: `node dist/batch/main.js [--trace] FILE.BAT [args...]`.
// The service runs a group's .bat/.cmd script as this process (so a timeout stops it with its
// tree); the exit code is the batch's. A script with constructs outside the dialect does not run:
// every problem is printed with file:line, and the exit code is 255 (cmd's for a syntax error).
import * as path from 'node:path';
import { exitCodeOf, Interpreter } from './exec';

const USAGE = `usage: node dist/batch/main.js [--trace] FILE.BAT [args...]

Runs a batch file with cmd's semantics (docs/batch.md). --trace prints each line as it runs,
with the branch taken, on stderr. Exit code: the batch's (its final ERRORLEVEL or EXIT's code,
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
  for (; argv[0] === '--trace' || argv[0] === '--echo-off'; argv = argv.slice(1)) {
    if (argv[0] === '--trace') trace = true;
    else echoOff = true;
  }
  const [file, ...args] = argv;
  if (file === undefined || ['/?', '-h', '--help'].includes(file)) {
    process.stderr.write(USAGE + '\n');
    return file === undefined ? 2 : 0;
  }
  const sh = new Interpreter({ env: process.env, cwd: process.cwd(), traceFd: trace ? 2 : undefined, entry: __filename, echoOff });
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
