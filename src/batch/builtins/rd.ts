// RD / RMDIR [/S] [/Q] path...: removes an empty folder; /S with everything in it (/Q: without
// asking; without /Q it asks "Are you sure (Y/N)?" on the script's input). A folder that is not
// there: ERRORLEVEL 2; one that is not empty: 145 (cmd's system error codes).
import * as fs from 'node:fs';
import { IO, writeFd } from '../io';
import type { Interpreter } from '../exec';
import { isDir } from '../paths';
import { builtinArgs, has, local } from './args';
import { readLine } from './read-line';

export function rd(sh: Interpreter, rest: string, io: IO): boolean {
  const a = builtinArgs(rest);
  if (a.names.length === 0) {
    writeFd(io.err, 'The syntax of the command is incorrect.\n');
    sh.errorlevel = 1;
    return false;
  }
  let ok = true;
  for (const n of a.names) {
    const p = local(sh.cwd, n);
    if (!fs.existsSync(p)) {
      writeFd(io.err, 'The system cannot find the file specified.\n');
      sh.errorlevel = 2;
      ok = false;
      continue;
    }
    if (!isDir(p)) {
      writeFd(io.err, 'The directory name is invalid.\n');
      sh.errorlevel = 267;
      ok = false;
      continue;
    }
    if (has(a, 'S')) {
      if (!has(a, 'Q')) {
        writeFd(io.out, `${n}, Are you sure (Y/N)? `);
        const answer = readLine(io.in);
        writeFd(io.out, '\n');
        if (!/^y/i.test(answer ?? '')) continue;
      }
      fs.rmSync(p, { recursive: true, force: true });
      continue;
    }
    try {
      fs.rmdirSync(p);
    } catch {
      writeFd(io.err, 'The directory is not empty.\n');
      sh.errorlevel = 145;
      ok = false;
    }
  }
  return ok;
}
