// MD / MKDIR path...: makes the folder and the folders on the way. One that exists: cmd's message
// and ERRORLEVEL 1 (the others are still made).
import * as fs from 'node:fs';
import { IO, writeFd } from '../io';
import type { Interpreter } from '../exec';
import { builtinArgs, local } from './args';

export function md(sh: Interpreter, rest: string, io: IO): boolean {
  const { names } = builtinArgs(rest);
  if (names.length === 0) {
    writeFd(io.err, 'The syntax of the command is incorrect.\n');
    sh.errorlevel = 1;
    return false;
  }
  let ok = true;
  for (const n of names) {
    const p = local(sh.cwd, n);
    if (fs.existsSync(p)) {
      writeFd(io.err, `A subdirectory or file ${n} already exists.\n`);
      ok = false;
      continue;
    }
    try {
      fs.mkdirSync(p, { recursive: true });
    } catch {
      writeFd(io.err, 'Access is denied.\n');
      ok = false;
    }
  }
  if (ok) sh.errorlevel = 0;
  else sh.errorlevel = 1;
  return ok;
}
