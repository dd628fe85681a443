// COPY [/Y|/-Y] [/A|/B] [/V] source[+source...] [destination]: files (wildcards; `a+b` joins them)
// to a file or a folder; in a batch file an existing destination is overwritten without asking,
// as cmd does. Prints each file when there are several, then "N file(s) copied.". ERRORLEVEL 1
// when nothing could be copied.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { IO, writeFd } from '../io';
import type { Interpreter } from '../exec';
import { isDir } from '../paths';
import { builtinArgs, expandName, local } from './args';

export function copy(sh: Interpreter, rest: string, io: IO): boolean {
  const { names, switches } = builtinArgs(rest);
  if (names.length === 0) {
    writeFd(io.err, 'The syntax of the command is incorrect.\n');
    sh.errorlevel = 1;
    return false;
  }
  const joined = names[0].includes('+');
  const sources = names[0].split('+').filter(Boolean).flatMap((n) => expandName(sh.cwd, n));
  if (sources.length === 0) {
    writeFd(io.err, 'The system cannot find the file specified.\n');
    writeFd(io.out, '        0 file(s) copied.\n');
    sh.errorlevel = 1;
    return false;
  }
  const destName = names[1] ?? '.';
  const dest = local(sh.cwd, destName);
  const toFolder = isDir(dest);
  const many = sources.length > 1 || /[*?]/.test(names[0]);
  if (joined) {
    const target = toFolder ? path.join(dest, path.basename(sources[0])) : dest;
    // Files joined are text (/A) unless /B: cmd ends the result with an end-of-file mark (^Z).
    const data = Buffer.concat([...sources.map((s) => fs.readFileSync(s)), ...(switches.includes('B') ? [] : [Buffer.from([0x1a])])]);
    for (const s of sources) writeFd(io.out, `${path.relative(sh.cwd, s) || s}\n`);
    fs.writeFileSync(target, data);
    writeFd(io.out, '        1 file(s) copied.\n');
    return true;
  }
  if (!toFolder && sources.length > 1) {
    // several files into one: cmd joins them
    const data = Buffer.concat(sources.map((s) => fs.readFileSync(s)));
    for (const s of sources) writeFd(io.out, `${path.basename(s)}\n`);
    fs.writeFileSync(dest, data);
    writeFd(io.out, '        1 file(s) copied.\n');
    return true;
  }
  let n = 0;
  for (const s of sources) {
    const target = toFolder ? path.join(dest, path.basename(s)) : dest;
    if (path.resolve(target) === path.resolve(s)) {
      writeFd(io.err, 'The file cannot be copied onto itself.\n');
      continue;
    }
    try {
      if (many) writeFd(io.out, `${path.basename(s)}\n`);
      fs.copyFileSync(s, target);
      n++;
    } catch {
      writeFd(io.err, 'The system cannot find the path specified.\n');
    }
  }
  writeFd(io.out, `        ${n} file(s) copied.\n`);
  if (n === 0) {
    sh.errorlevel = 1;
    return false;
  }
  return true;
}
