// FIND [/V] [/C] [/N] [/I] "string" [files...]: the lines that hold the string (/V: that do not),
// /C their count, /N with their numbers. Exit 0 when a line was found, 1 when none, 2 on an error.
import { writeFd } from '../io';
import type { ProgramRun } from '.';
import { fileText, inputText, textLines } from './text-input';

export function find({ sh, args, io }: ProgramRun): number {
  let invert = false;
  let count = false;
  let numbers = false;
  let icase = false;
  let needle: string | null = null;
  const files: string[] = [];
  for (const a of args) {
    const u = a.toUpperCase();
    if (needle === null && /^\/[VCNI]$/.test(u)) {
      if (u === '/V') invert = true;
      else if (u === '/C') count = true;
      else if (u === '/N') numbers = true;
      else icase = true;
    } else if (/^\/OFF(LINE)?$/.test(u)) continue;
    else if (a.startsWith('/') && needle === null) {
      writeFd(io.err, `FIND: Parameter format not correct\n`);
      return 2;
    } else if (needle === null) needle = a;
    else files.push(a);
  }
  if (needle === null) {
    writeFd(io.err, 'FIND: Parameter format not correct\n');
    return 2;
  }
  const want = icase ? needle.toLowerCase() : needle;
  let any = false;
  const search = (text: string, header: string | null) => {
    let n = 0;
    const out: string[] = [];
    textLines(text).forEach((line, i) => {
      const hit = (icase ? line.toLowerCase() : line).includes(want) !== invert;
      if (!hit) return;
      n++;
      if (!count) out.push(numbers ? `[${i + 1}]${line}` : line);
    });
    if (n > 0) any = true;
    if (header !== null) writeFd(io.out, count ? `\n${header}: ${n}\n` : `\n${header}\n${out.map((l) => l + '\n').join('')}`);
    else writeFd(io.out, count ? `${n}\n` : out.map((l) => l + '\n').join(''));
  };
  if (files.length === 0) {
    search(inputText(io.in), null);
    return any ? 0 : 1;
  }
  let failed = false;
  for (const f of files) {
    const text = fileText(sh.cwd, f);
    if (text === null) {
      writeFd(io.err, `File not found - ${f.toUpperCase()}\n`);
      failed = true;
      continue;
    }
    search(text, `---------- ${f.toUpperCase()}`);
  }
  return failed ? 2 : any ? 0 : 1;
}
