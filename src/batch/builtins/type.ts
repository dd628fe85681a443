// TYPE file [file...]: a file's bytes as they are. Several files (or a wildcard) are each announced
// by their name on stderr, as cmd does. A file that is not there: cmd's message, ERRORLEVEL 1.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { IO, writeFd } from '../io';
import type { Interpreter } from '../exec';
import { builtinArgs, expandName } from './args';

export function type(sh: Interpreter, rest: string, io: IO): boolean {
  const { names } = builtinArgs(rest);
  if (names.length === 0) {
    writeFd(io.err, 'The syntax of the command is incorrect.\n');
    sh.errorlevel = 1;
    return false;
  }
  const many = names.length > 1 || names.some((n) => /[*?]/.test(n));
  let ok = true;
  for (const n of names) {
    const files = expandName(sh.cwd, n);
    if (files.length === 0) {
      writeFd(io.err, 'The system cannot find the file specified.\n');
      if (many) writeFd(io.err, `Error occurred while processing: ${n}.\n`);
      ok = false;
      continue;
    }
    for (const f of files) {
      if (many) writeFd(io.err, `\n${path.basename(f)}\n\n\n`);
      let bytes: Buffer;
      try {
        bytes = fs.readFileSync(f);
      } catch {
        writeFd(io.err, 'Access is denied.\n');
        ok = false;
        continue;
      }
      writeBytes(io.out, bytes);
    }
  }
  if (!ok) sh.errorlevel = 1;
  return ok;
}

export function writeBytes(fd: number, bytes: Buffer): void {
  let off = 0;
  while (off < bytes.length) {
    try {
      off += fs.writeSync(fd, bytes, off);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EAGAIN') continue;
      return;
    }
  }
}
