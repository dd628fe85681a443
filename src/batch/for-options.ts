// FOR /F's options (eol= skip= delims= tokens= usebackq) and how a line splits into the loop's values.

export interface FOptions {
  eol: string;
  skip: number;
  delims: string;
  /** the token numbers (1-based, ascending), and whether the rest of the line follows in one more variable */
  tokens: number[];
  rest: boolean;
  backq: boolean;
}

/** /F's options: eol=c skip=n delims=xxx tokens=x,y,m-n[*] usebackq. Throws Error(the word cmd would show). */
export function parseOptions(text: string): FOptions {
  const o: FOptions = { eol: ';', skip: 0, delims: ' \t', tokens: [1], rest: false, backq: false };
  let i = 0;
  const keyword = /^(eol=|skip=|delims=|tokens=|usebackq)/i;
  while (i < text.length) {
    while (text[i] === ' ' || text[i] === '\t') i++;
    if (i >= text.length) break;
    const m = keyword.exec(text.slice(i));
    if (!m) throw new Error(text.slice(i).split(/[ \t]/)[0]);
    const k = m[1].toLowerCase();
    i += m[1].length;
    if (k === 'usebackq') {
      o.backq = true;
      continue;
    }
    if (k === 'eol=') {
      o.eol = text[i] ?? '';
      i++;
      continue;
    }
    if (k === 'delims=') {
      // The delimiters run to the next blank that starts another option, else to the end (a blank may be one).
      let j = i;
      while (j < text.length && !((text[j] === ' ' || text[j] === '\t') && keyword.test(text.slice(j).trimStart()))) j++;
      o.delims = text.slice(i, j);
      i = j;
      continue;
    }
    let j = i;
    while (j < text.length && text[j] !== ' ' && text[j] !== '\t') j++;
    const value = text.slice(i, j);
    i = j;
    if (k === 'skip=') {
      if (!/^\d+$/.test(value)) throw new Error(value || 'skip=');
      o.skip = Number(value);
      continue;
    }
    // tokens=
    let spec = value;
    o.rest = spec.endsWith('*');
    if (o.rest) spec = spec.slice(0, -1);
    const nums = new Set<number>();
    for (const part of spec.split(',').filter(Boolean)) {
      const r = /^(\d+)(?:-(\d+))?$/.exec(part);
      if (!r) throw new Error('tokens=' + value);
      const a = Number(r[1]);
      const b = r[2] === undefined ? a : Number(r[2]);
      if (a < 1 || b < a || b > 31) throw new Error('tokens=' + value);
      for (let n = a; n <= b; n++) nums.add(n);
    }
    o.tokens = [...nums].sort((x, y) => x - y);
    if (o.tokens.length === 0 && !o.rest) throw new Error('tokens=' + value);
  }
  return o;
}

/**
 * A line's values for the loop variables, in order (the tokens asked for, then the rest when
 * `*`), or null when the line is skipped: its first character after the leading delimiters is the
 * eol character, or none of the tokens asked for is there.
 */
export function tokens(line: string, o: FOptions): string[] | null {
  const isDelim = (c: string) => o.delims.includes(c);
  let i = 0;
  while (i < line.length && isDelim(line[i])) i++;
  if (o.eol !== '' && line[i] === o.eol) return null;
  if (o.tokens.length === 0) return i < line.length ? [line.slice(i)] : null;
  const want = new Set(o.tokens);
  const last = o.tokens[o.tokens.length - 1];
  const found = new Map<number, string>();
  let rest = '';
  let n = 0;
  while (i < line.length) {
    n++;
    let j = i;
    while (j < line.length && !isDelim(line[j])) j++;
    if (want.has(n)) found.set(n, line.slice(i, j));
    i = j;
    while (i < line.length && isDelim(line[i])) i++;
    if (n === last) {
      rest = line.slice(i);
      break;
    }
  }
  if (found.size === 0 && !(o.rest && rest !== '')) return null;
  const out = o.tokens.map((t) => found.get(t) ?? '');
  if (o.rest) out.push(rest);
  return out;
}

