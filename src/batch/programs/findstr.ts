// FINDSTR [/I /V /N /B /E /X /L /R /C:string /M] [strings] [files...]: lines matching any of the
// space-separated strings (a regular expression unless /L; /C: is one literal string with its
// blanks). cmd's small regex dialect: . * ^ $ [class] [^class] \< \> and \x for a literal x.
// Exit 0 when a line matched, 1 when none, 2 on an error.
import { writeFd } from '../io';
import type { ProgramRun } from '.';
import { fileText, inputText, textLines } from './text-input';

/** A FINDSTR regular expression as a JavaScript one. */
export function findstrRegex(re: string): string {
  let out = '';
  for (let i = 0; i < re.length; i++) {
    const c = re[i];
    if (c === '\\') {
      const n = re[i + 1] ?? '';
      i++;
      if (n === '<') out += '\\b(?=\\w)';
      else if (n === '>') out += '\\b(?<=\\w)';
      else out += n.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
      continue;
    }
    if (c === '[') {
      const end = re.indexOf(']', i + 1);
      if (end === -1) {
        out += '\\[';
        continue;
      }
      out += '[' + re.slice(i + 1, end).replace(/\\/g, '\\\\') + ']';
      i = end;
      continue;
    }
    if (c === '.' || c === '*') out += c;
    else if (c === '^' && i === 0) out += '^';
    else if (c === '$' && i === re.length - 1) out += '$';
    else out += c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  return out;
}

const lit = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

export function findstr({ sh, args, io }: ProgramRun): number {
  const o = { i: false, v: false, n: false, b: false, e: false, x: false, regex: true, m: false };
  let literal: string[] = [];
  let given = false;
  const strings: string[] = [];
  const files: string[] = [];
  for (const a of args) {
    if (a.startsWith('/') && files.length === 0 && (strings.length === 0 || !given)) {
      const cm = /^\/C:(.*)$/i.exec(a);
      if (cm) {
        literal.push(cm[1]);
        continue;
      }
      const gm = /^\/G:/i.test(a) || /^\/F:/i.test(a) || /^\/D:/i.test(a) || /^\/A:/i.test(a);
      if (gm) continue;
      for (const f of a.slice(1).toUpperCase()) {
        if (f === 'I') o.i = true;
        else if (f === 'V') o.v = true;
        else if (f === 'N') o.n = true;
        else if (f === 'B') o.b = true;
        else if (f === 'E') o.e = true;
        else if (f === 'X') o.x = true;
        else if (f === 'L') o.regex = false;
        else if (f === 'R') o.regex = true;
        else if (f === 'M') o.m = true;
        else if ('SPO'.includes(f)) continue;
        else {
          writeFd(io.err, `FINDSTR: Invalid switch\n`);
          return 2;
        }
      }
      continue;
    }
    if (!given && literal.length === 0) {
      given = true;
      strings.push(...a.split(' ').filter(Boolean));
    } else files.push(a);
  }
  // /C: strings are literal unless /R was given explicitly after all: FINDSTR treats /C: like its other strings.
  const patterns = [...literal, ...strings];
  if (patterns.length === 0) {
    writeFd(io.err, 'FINDSTR: Bad command line\n');
    return 2;
  }
  const body = patterns.map((p) => (o.regex && !(literal.includes(p) && !/[.*^$[\\]/.test(p)) ? findstrRegex(p) : lit(p)));
  const res = body.map((b) => new RegExp((o.b || o.x ? '^' : '') + '(?:' + b + ')' + (o.e || o.x ? '$' : ''), o.i ? 'i' : ''));
  literal = [];
  let any = false;
  const search = (text: string, name: string | null) => {
    let out = '';
    let hits = 0;
    textLines(text).forEach((line, k) => {
      if (res.some((r) => r.test(line)) === o.v) return;
      hits++;
      out += `${name !== null && files.length > 1 ? name + ':' : ''}${o.n ? `${k + 1}:` : ''}${line}\n`;
    });
    if (hits > 0) any = true;
    if (o.m) {
      if (hits > 0 && name !== null) writeFd(io.out, name + '\n');
    } else writeFd(io.out, out);
  };
  if (files.length === 0) {
    search(inputText(io.in), null);
    return any ? 0 : 1;
  }
  let failed = false;
  for (const f of files) {
    const text = fileText(sh.cwd, f);
    if (text === null) {
      writeFd(io.err, `FINDSTR: Cannot open ${f}\n`);
      failed = true;
      continue;
    }
    search(text, f);
  }
  return any ? 0 : failed ? 2 : 1;
}
