// MOVE [/Y|/-Y] source[,source] destination: files (wildcards) into a folder or to a new name, or a
// folder to a new name. "N file(s) moved." / "1 dir(s) moved."; ERRORLEVEL 1 when it fails.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { IO, writeFd } from '../io';
import type { Interpreter } from '../exec';
import { isDir } from '../paths';
import { builtinArgs, expandName, local } from './args';

export function move(sh: Interpreter, rest: string, io: IO): boolean {
  const { names } = builtinArgs(rest);
  const fail = (msg: string) => {
    writeFd(io.err, msg + '\n');
    sh.errorlevel = 1;
    return false;
  };
  if (names.length < 2) return fail('The syntax of the command is incorrect.');
  const destName = names[names.length - 1];
  const dest = local(sh.cwd, destName);
  const sources = names.slice(0, -1).flatMap((n) => expandName(sh.cwd, n, true));
  if (sources.length === 0) return fail('The system cannot find the file specified.');
  const toFolder = isDir(dest);
  let files = 0;
  let dirs = 0;
  for (const s of sources) {
    const target = toFolder ? path.join(dest, path.basename(s)) : dest;
    const folder = isDir(s);
    try {
      if (sources.length > 1) writeFd(io.out, `${s}\n`);
      if (!folder && fs.existsSync(target) && !isDir(target)) fs.rmSync(target);
      fs.renameSync(s, target);
      folder ? dirs++ : files++;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EXDEV' && !folder) {
        fs.copyFileSync(s, target);
        fs.rmSync(s);
        files++;
        continue;
      }
      return fail(code === 'ENOENT' ? 'The system cannot find the path specified.' : code === 'ENOTEMPTY' || code === 'EEXIST' ? 'Access is denied.' : 'Access is denied.');
    }
  }
  writeFd(io.out, dirs > 0 && files === 0 ? `        ${dirs} dir(s) moved.\n` : `        ${files} file(s) moved.\n`);
  return true;
}
