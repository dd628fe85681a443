// Percent expansion: cmd's first phase, done on the raw text of a line before anything else looks at
// it (so a value holding `&` or `)` changes how the line parses, as in cmd). In a batch file:
// `%%` is `%`; `%0`..`%9`, `%~mods0`.. and `%*` are the arguments; `%NAME%` is the variable (names
// without regard to case), or nothing when it is not defined; a `%` with no closing `%` is dropped.
import * as fs from 'node:fs';
import * as path from 'node:path';

/** The arguments of the running batch context: what %0..%9 and %* read. */
export interface Args {
  /** as written, quotes kept: [0] is the name the batch was run by (or `:label` for CALL :label) */
  tokens: string[];
  /** %*: everything after %0 as written */
  text: string;
  /** the batch file, for %~f0 and friends (also inside CALL :label, as in cmd) */
  file: string;
  /** how far SHIFT has moved %0..%9 */
  shift: number;
}

export interface ExpandScope {
  /** a variable's value (dynamic ones included), or undefined */
  lookup(name: string): string | undefined;
  args: Args;
  cwd: string;
}

/** A use of `%~` cmd rejects; fatal in cmd (the batch stops), a problem for `check`. */
export class ExpandError extends Error {}

/** Around each reference in static mode: `check` parses the line with references as opaque text. */
export const REF_OPEN = '\uE000';
export const REF_CLOSE = '\uE001';

const ARG_MODS = /^~([fdpnxsatz]*)(\$[^:%]*:)?([0-9])/i;

/**
 * Expands `text`. With `scope` null (static mode, for `check`), references are kept, wrapped in
 * REF_OPEN/REF_CLOSE, and the problems cmd would stop on are collected in `problems`.
 */
export function expandPercent(text: string, scope: ExpandScope | null, problems?: string[]): string {
  if (!text.includes('%')) return text;
  let out = '';
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c !== '%') {
      out += c;
      i++;
      continue;
    }
    const next = text[i + 1];
    if (next === undefined) break; // a lone % at the end: dropped
    if (next === '%') {
      out += '%';
      i += 2;
      continue;
    }
    if (next === '*') {
      out += scope ? scope.args.text : ref('%*');
      i += 2;
      continue;
    }
    if (next >= '0' && next <= '9') {
      out += scope ? arg(scope, Number(next)) : ref(`%${next}`);
      i += 2;
      continue;
    }
    if (next === '~') {
      const m = ARG_MODS.exec(text.slice(i + 1));
      if (!m) {
        const shown = text.slice(i, i + 6);
        const msg = `The following usage of the path operator in batch-parameter substitution is invalid: ${shown}`;
        if (!scope) {
          problems?.push(msg);
          out += ref(shown);
          i += 2;
          continue;
        }
        throw new ExpandError(msg);
      }
      const [whole, mods, search, digit] = m;
      if (!scope) out += ref(`%${whole}`);
      else out += argWithModifiers(scope, mods.toLowerCase(), Number(digit), search ? search.slice(1, -1) : undefined);
      i += 1 + whole.length;
      continue;
    }
    const close = text.indexOf('%', i + 1);
    if (close === -1) {
      i++; // no closing %: the % is dropped, the rest stays
      continue;
    }
    const name = text.slice(i + 1, close);
    if (!scope) {
      const colon = name.indexOf(':');
      if (colon > 0) {
        const err = modifierProblem(name.slice(colon + 1));
        if (err) problems?.push(`%${name}%: ${err}`);
      }
      out += ref(`%${name}%`);
    } else {
      out += variable(scope, name);
    }
    i = close + 1;
  }
  return out;
}

function ref(s: string): string {
  return REF_OPEN + s + REF_CLOSE;
}

function arg(scope: ExpandScope, n: number): string {
  return scope.args.tokens[scope.args.shift + n] ?? '';
}

export function unquote(s: string): string {
  if (s.startsWith('"')) s = s.slice(1);
  if (s.endsWith('"')) s = s.slice(0, -1);
  return s;
}

/** `%~f1` and friends. There are no drive letters here: `d` is empty and `%~dp0` is the folder with a trailing `/`. */
function argWithModifiers(scope: ExpandScope, mods: string, n: number, search?: string): string {
  const raw = unquote(arg(scope, n));
  if (raw === '' && n !== 0) return '';
  // %~f0 is the batch file itself, even inside CALL :label (whose %0 is the label).
  const self = n === 0 && scope.args.shift === 0 ? scope.args.file : undefined;
  return withModifiers(raw, mods, scope.cwd, { self, search: search ? scope.lookup(search) : undefined, searched: !!search });
}

const pad2 = (n: number) => String(n).padStart(2, '0');

/**
 * cmd's path modifiers on a value (an argument or a FOR variable): f full path, d drive (none
 * here), p folder, n name, x extension, s short name (the same here), a attributes, t time, z size;
 * `$VAR:` looks the name up along the folders of VAR (empty when not found).
 */
export function withModifiers(raw: string, mods: string, cwd: string, opts: { self?: string; search?: string; searched?: boolean } = {}): string {
  mods = mods.toLowerCase();
  if (mods === '' && !opts.searched) return raw;
  let full = opts.self ?? path.resolve(cwd, raw.replace(/\\/g, '/'));
  if (opts.searched) {
    const dirs = (opts.search ?? '').split(/[:;]/).filter(Boolean);
    const hit = dirs.map((d) => path.resolve(cwd, d, raw)).find((f) => fs.existsSync(f));
    if (!hit) return '';
    full = hit;
    if (mods === '') return full;
  }
  let st: fs.Stats | undefined;
  if (/[atz]/.test(mods)) {
    try {
      st = fs.statSync(full);
    } catch {
      st = undefined;
    }
  }
  const parts: string[] = [];
  if (mods.includes('a')) parts.push(st ? (st.isDirectory() ? 'd--------' : (st.mode & 0o200 ? '--a------' : '-ra------')) : '');
  if (mods.includes('t')) {
    const d = st?.mtime;
    parts.push(d ? `${d.getFullYear()}/${pad2(d.getMonth() + 1)}/${pad2(d.getDate())} ${pad2(d.getHours())}:${pad2(d.getMinutes())}` : '');
  }
  if (mods.includes('z')) parts.push(st && st.isFile() ? String(st.size) : '');
  let name = '';
  if (/[dpnx]/.test(mods)) {
    if (mods.includes('p')) {
      const dir = path.dirname(full);
      name += dir.endsWith('/') ? dir : dir + '/';
    }
    const ext = path.extname(full);
    if (mods.includes('n')) name += path.basename(full, ext);
    if (mods.includes('x')) name += ext;
  } else if (/[fs]/.test(mods) || (opts.searched && !/[atz]/.test(mods))) {
    name = full;
  }
  if (name) parts.push(name);
  return parts.filter((x, i) => x !== '' || i < parts.length - 1).join(' ').trim();
}

/** %NAME%, %NAME:~start,length%, %NAME:find=replace%, %NAME:*find=replace% */
export function variable(scope: Pick<ExpandScope, 'lookup'>, name: string): string {
  const colon = name.indexOf(':');
  if (colon <= 0) return scope.lookup(name) ?? '';
  const value = scope.lookup(name.slice(0, colon));
  if (value === undefined) return '';
  return applyModifier(value, name.slice(colon + 1));
}

function modifierProblem(mod: string): string | null {
  if (mod.startsWith('~')) return /^~-?\d+(,-?\d+)?$/.test(mod) ? null : 'a substring is %NAME:~start% or %NAME:~start,length%';
  if (!mod.includes('=') || mod === '=' || mod.startsWith('=')) return 'a replacement is %NAME:find=replace%';
  return null;
}

function applyModifier(value: string, mod: string): string {
  if (mod.startsWith('~')) {
    const m = /^~(-?\d+)(?:,(-?\d+))?$/.exec(mod);
    if (!m) return value;
    const len = value.length;
    let start = Number(m[1]);
    start = start < 0 ? Math.max(0, len + start) : Math.min(start, len);
    if (m[2] === undefined) return value.slice(start);
    const count = Number(m[2]);
    const end = count < 0 ? Math.max(start, len + count) : Math.min(len, start + count);
    return value.slice(start, end);
  }
  const eq = mod.indexOf('=');
  if (eq <= 0) return value;
  let find = mod.slice(0, eq);
  const repl = mod.slice(eq + 1);
  const lower = value.toLowerCase();
  if (find.startsWith('*')) {
    find = find.slice(1);
    if (find === '') return value;
    const at = lower.indexOf(find.toLowerCase());
    return at === -1 ? value : repl + value.slice(at + find.length);
  }
  // Every occurrence, without regard to case.
  let out = '';
  let from = 0;
  const needle = find.toLowerCase();
  for (;;) {
    const at = lower.indexOf(needle, from);
    if (at === -1) break;
    out += value.slice(from, at) + repl;
    from = at + find.length;
  }
  return out + value.slice(from);
}

const ARG_DELIMS = ' \t,;=';

/** Splits an argument text into batch arguments as cmd does for %1..%9: blanks, `,`, `;` and `=` separate, quotes group and are kept. */
export function batchArgs(text: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < text.length) {
    while (i < text.length && ARG_DELIMS.includes(text[i])) i++;
    if (i >= text.length) break;
    let tok = '';
    let quoted = false;
    while (i < text.length && (quoted || !ARG_DELIMS.includes(text[i]))) {
      if (text[i] === '"') quoted = !quoted;
      tok += text[i++];
    }
    out.push(tok);
  }
  return out;
}

/** The text after the first batch argument (the `%*` of a command line whose first token is the name). */
export function afterFirstToken(text: string): { first: string; rest: string } {
  let i = 0;
  while (i < text.length && ARG_DELIMS.includes(text[i])) i++;
  let quoted = false;
  const start = i;
  while (i < text.length && (quoted || !ARG_DELIMS.includes(text[i]))) {
    if (text[i] === '"') quoted = !quoted;
    i++;
  }
  const first = text.slice(start, i);
  while (i < text.length && ARG_DELIMS.includes(text[i])) i++;
  return { first, rest: text.slice(i) };
}

/**
 * A command line split into a program's argv the way Windows programs split theirs
 * (CommandLineToArgvW): blanks separate, quotes group and are removed, `""` inside quotes is a
 * quote, backslashes are literal except before a quote.
 */
export function programArgs(text: string): string[] {
  const out: string[] = [];
  let i = 0;
  const n = text.length;
  for (;;) {
    while (i < n && (text[i] === ' ' || text[i] === '\t')) i++;
    if (i >= n) break;
    let cur = '';
    let quoted = false;
    while (i < n) {
      const c = text[i];
      if (!quoted && (c === ' ' || c === '\t')) break;
      if (c === '\\') {
        let k = i;
        while (k < n && text[k] === '\\') k++;
        const count = k - i;
        if (text[k] === '"') {
          cur += '\\'.repeat(Math.floor(count / 2));
          if (count % 2 === 1) {
            cur += '"';
            i = k + 1;
          } else {
            i = k;
          }
        } else {
          cur += '\\'.repeat(count);
          i = k;
        }
        continue;
      }
      if (c === '"') {
        if (quoted && text[i + 1] === '"') {
          cur += '"';
          i += 2;
          continue;
        }
        quoted = !quoted;
        i++;
        continue;
      }
      cur += c;
      i++;
    }
    out.push(cur);
  }
  return out;
}

/**
 * Percent expansion as cmd does it on a command line (cmd /c, and the command of FOR /F, which runs
 * in such a cmd): `%NAME%` (with :~ and := modifiers) is the value when the variable is defined,
 * else left as written; `%%` and a lone `%` stay.
 */
export function expandCommandLine(text: string, lookup: (name: string) => string | undefined): string {
  return text.replace(/%([^%\r\n]+)%/g, (whole, name: string) => {
    const colon = name.indexOf(':');
    const value = lookup(colon > 0 ? name.slice(0, colon) : name);
    if (value === undefined) return whole;
    return colon > 0 ? applyModifier(value, name.slice(colon + 1)) : value;
  });
}
