// cmd's second phase: a line (after percent expansion) becomes a tree of commands. The special
// characters are cmd's: quotes protect, `^` escapes (and at the end of a line joins the next), `&`
// `&&` `||` chain, `<` `>` `>>` `2>&1` redirect, `(` at the start of a command opens a block that
// goes on over the next lines until its `)`, IF has its condition and an ELSE after a `)`, REM and
// labels end the line. The executor parses each line when it reaches it, after expanding it (as
// cmd does); `check` parses the whole file ahead with references left unexpanded.
import { expandPercent, REF_CLOSE, REF_OPEN } from './expand';
import { checkTree } from './rules';
import { loadScript, Problem, Script, ScriptUnreadable } from './source';

export interface Redirect {
  /** 0 stdin, 1 stdout, 2 stderr */
  fd: number;
  /** dup: `2>&1`, target is the handle */
  mode: 'write' | 'append' | 'read' | 'dup';
  target: string;
}

interface Base {
  /** 1-based line where the command starts */
  line: number;
  /** written with `@`: not echoed */
  quiet: boolean;
}

/** A command with its arguments, as written (quotes kept, escapes resolved, redirections taken out). */
export interface Command extends Base {
  kind: 'command';
  text: string;
  redirects: Redirect[];
}
export interface Rem extends Base {
  kind: 'rem';
  /** the whole comment, REM included as written */
  text: string;
}
export interface Block extends Base {
  kind: 'block';
  body: Node[];
  redirects: Redirect[];
}
export type Condition =
  | { kind: 'errorlevel'; n: string }
  | { kind: 'exist'; path: string }
  | { kind: 'defined'; name: string }
  | { kind: 'compare'; op: CompareOp; left: string; right: string };
export type CompareOp = '==' | 'EQU' | 'NEQ' | 'LSS' | 'LEQ' | 'GTR' | 'GEQ';
export interface If extends Base {
  kind: 'if';
  negate: boolean;
  ignoreCase: boolean;
  cond: Condition;
  then: Node;
  else: Node | null;
}
export interface Chain extends Base {
  kind: 'chain';
  op: '&' | '&&' | '||';
  left: Node;
  right: Node;
}
/** `left | right`: each side runs as in a cmd of its own; ERRORLEVEL is the right side's. */
export interface Pipe extends Base {
  kind: 'pipe';
  left: Node;
  right: Node;
}
/**
 * FOR in every form. `set` and `options` are as written (after percent expansion, escapes resolved):
 * the loop variables of an enclosing FOR and delayed expansion apply to them when the loop runs.
 */
export interface For extends Base {
  kind: 'for';
  /** '' (a list, with wildcards for files), D (folders), R (recursive), L (numbers), F (lines) */
  variant: '' | 'D' | 'R' | 'L' | 'F';
  /** /R's root folder, /F's options string (quotes removed) */
  arg: string;
  /** the variable's letter, as written (case matters) */
  variable: string;
  set: string;
  body: Node;
}
/** Nothing to run: a label inside a block, or a `)` with no block open (cmd skips that line). */
export interface Empty extends Base {
  kind: 'empty';
  strayParen?: boolean;
}
export type Node = Command | Rem | Block | If | Chain | Pipe | For | Empty;

export class ParseError extends Error {
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(message);
  }
}

export const COMPARE_OPS: readonly CompareOp[] = ['EQU', 'NEQ', 'LSS', 'LEQ', 'GTR', 'GEQ'];

/** The text of one logical line, fed a physical line at a time (a block or a `^` asks for more). */
export class Reader {
  buf = '';
  pos = 0;
  private starts: number[] = [];
  private numbers: number[] = [];

  constructor(private pull: () => { text: string; line: number } | null) {}

  /** Appends the next physical line; false at the end of the file. */
  more(): boolean {
    const next = this.pull();
    if (!next) return false;
    if (this.starts.length > 0) this.buf += '\n';
    this.starts.push(this.buf.length);
    this.numbers.push(next.line);
    this.buf += next.text;
    return true;
  }

  lineAt(pos: number): number {
    let i = this.starts.length - 1;
    while (i > 0 && this.starts[i] > pos) i--;
    return this.numbers[i] ?? 0;
  }

  get line(): number {
    return this.lineAt(this.pos);
  }
}

const BLANK = ' \t';
const DELIMS = ' \t,;=';

export class Parser {
  constructor(private r: Reader) {}

  private peek(k = 0): string {
    return this.r.buf[this.r.pos + k] ?? '';
  }

  private skipBlanks(): void {
    while (BLANK.includes(this.peek()) && this.peek() !== '') this.r.pos++;
  }

  private fail(message: string, line = this.r.line): never {
    throw new ParseError(line, message);
  }

  /** One logical line from the reader's current line. */
  logical(): Node {
    const node = this.chain(0);
    if (this.r.pos < this.r.buf.length) this.fail(`${JSON.stringify(this.r.buf.slice(this.r.pos, this.r.pos + 10))} was unexpected at this time`);
    return node;
  }

  private atCommandEnd(depth: number): boolean {
    const c = this.peek();
    return c === '' || c === '\n' || c === '&' || c === '|' || (c === ')' && depth > 0);
  }

  private chain(depth: number, first?: Node): Node {
    let left = this.andOr(depth, first);
    while (this.peek() === '&' && this.peek(1) !== '&') {
      const line = this.r.line;
      this.r.pos++;
      this.skipBlanks();
      if (this.atCommandEnd(depth)) this.fail('& has no command after it');
      const right = this.andOr(depth);
      left = { kind: 'chain', op: '&', left, right, line, quiet: left.quiet };
    }
    return left;
  }

  private andOr(depth: number, first?: Node): Node {
    let left = this.pipeline(depth, first);
    for (;;) {
      const c = this.peek();
      const op = c === '&' && this.peek(1) === '&' ? '&&' : c === '|' && this.peek(1) === '|' ? '||' : null;
      if (!op) return left;
      const line = this.r.line;
      this.r.pos += 2;
      this.skipBlanks();
      if (this.atCommandEnd(depth)) this.fail(`${op} has no command after it`);
      const right = this.pipeline(depth);
      left = { kind: 'chain', op, left, right, line, quiet: left.quiet };
    }
  }

  /** `|` binds tighter than `&&` and `||`: `a | b && c` is `(a | b) && c`. */
  private pipeline(depth: number, first?: Node): Node {
    let left = first ?? this.command(depth);
    while (this.peek() === '|' && this.peek(1) !== '|') {
      const line = this.r.line;
      this.r.pos++;
      this.skipBlanks();
      if (this.atCommandEnd(depth)) this.fail('| was unexpected at this time.');
      const right = this.command(depth);
      left = { kind: 'pipe', left, right, line, quiet: left.quiet };
    }
    return left;
  }

  private command(depth: number): Node {
    while (DELIMS.includes(this.peek()) && this.peek() !== '') this.r.pos++;
    let quiet = false;
    while (this.peek() === '@') {
      quiet = true;
      this.r.pos++;
      this.skipBlanks();
    }
    const line = this.r.line;
    const c = this.peek();
    if (c === '(') return this.block(depth, quiet);
    if (c === ')' && depth === 0) {
      this.skipPhysicalLine();
      return { kind: 'empty', line, quiet, strayParen: true };
    }
    if (c === ':') {
      this.skipPhysicalLine(); // a label (or a :: comment) inside a block
      return { kind: 'empty', line, quiet };
    }
    if (this.atCommandEnd(depth)) return { kind: 'empty', line, quiet };
    const rest = this.r.buf.slice(this.r.pos, this.r.pos + 5);
    if (/^if(?:[ \t/\n]|$)/i.test(rest)) return this.ifCommand(depth, quiet);
    if (/^for(?:[ \t/\n]|$)/i.test(rest)) return this.forCommand(depth, quiet);
    if (/^rem(?:[ \t/]|$|\n)/i.test(rest)) {
      const start = this.r.pos;
      this.skipPhysicalLine();
      return { kind: 'rem', line, quiet, text: this.r.buf.slice(start, this.r.pos) };
    }
    return this.simple(depth, quiet);
  }

  private skipPhysicalLine(): void {
    while (this.peek() !== '' && this.peek() !== '\n') this.r.pos++;
  }

  /** After `^` at the end of a physical line: the next line is joined, its first character taken literally. */
  private escaped(): string {
    if (this.peek() === '' && !this.r.more()) return '';
    if (this.peek() === '\n') {
      this.r.pos++;
      if (this.peek() === '') return '';
    }
    const c = this.peek();
    this.r.pos++;
    return c;
  }

  private copyRef(): string {
    const end = this.r.buf.indexOf(REF_CLOSE, this.r.pos);
    const stop = end === -1 ? this.r.buf.length : end + 1;
    const s = this.r.buf.slice(this.r.pos, stop);
    this.r.pos = stop;
    return s;
  }

  private simple(depth: number, quiet: boolean): Command {
    const line = this.r.line;
    let text = '';
    const redirects: Redirect[] = [];
    let quoted = false;
    for (;;) {
      const c = this.peek();
      if (c === '' || c === '\n') break;
      if (quoted) {
        text += c;
        this.r.pos++;
        if (c === '"') quoted = false;
        continue;
      }
      if (c === REF_OPEN) {
        text += this.copyRef();
        continue;
      }
      if (c === '"') {
        quoted = true;
        text += c;
        this.r.pos++;
        continue;
      }
      if (c === '^') {
        this.r.pos++;
        text += this.escaped();
        continue;
      }
      if (c === '&' || c === '|' || (c === ')' && depth > 0)) break;
      if (c === '<' || c === '>') {
        // A single digit right before the operator, after a blank or at the start, is the handle.
        let fd: number | undefined;
        const m = /(^|[ \t,;=])([0-9])$/.exec(text);
        if (m) {
          fd = Number(m[2]);
          text = text.slice(0, -1);
        }
        redirects.push(this.redirect(depth, fd));
        continue;
      }
      text += c;
      this.r.pos++;
    }
    return { kind: 'command', line, quiet, text, redirects };
  }

  private redirect(depth: number, fd?: number): Redirect {
    const c = this.peek();
    let mode: Redirect['mode'];
    if (c === '<') {
      mode = 'read';
      this.r.pos++;
    } else if (this.peek(1) === '>') {
      mode = 'append';
      this.r.pos += 2;
    } else {
      mode = 'write';
      this.r.pos++;
    }
    const handle = fd ?? (mode === 'read' ? 0 : 1);
    if (this.peek() === '&') {
      this.r.pos++;
      const h = this.peek();
      if (!/[0-9]/.test(h)) this.fail(`a handle (0, 1 or 2) must follow ${mode === 'read' ? '<' : '>'}&`);
      this.r.pos++;
      return { fd: handle, mode: 'dup', target: h };
    }
    this.skipBlanks();
    let target = '';
    let quoted = false;
    for (;;) {
      const ch = this.peek();
      if (ch === '' || ch === '\n') break;
      if (quoted) {
        this.r.pos++;
        if (ch === '"') quoted = false;
        else target += ch;
        continue;
      }
      if (ch === REF_OPEN) {
        target += this.copyRef();
        continue;
      }
      if (ch === '"') {
        quoted = true;
        this.r.pos++;
        continue;
      }
      if (ch === '^') {
        this.r.pos++;
        target += this.escaped();
        continue;
      }
      if (BLANK.includes(ch) || ch === '&' || ch === '|' || ch === '<' || ch === '>' || (ch === ')' && depth > 0)) break;
      target += ch;
      this.r.pos++;
    }
    if (target === '') this.fail('a redirection needs a file name after it');
    return { fd: handle, mode, target };
  }

  private block(depth: number, quiet: boolean): Block {
    const line = this.r.line;
    this.r.pos++; // (
    const body: Node[] = [];
    for (;;) {
      while (BLANK.includes(this.peek()) || this.peek() === '\n') {
        if (this.peek() === '') break;
        this.r.pos++;
      }
      if (this.peek() === '') {
        if (!this.r.more()) this.fail('this ( is never closed: ) is missing', line);
        continue;
      }
      if (this.peek() === ')') {
        this.r.pos++;
        break;
      }
      body.push(this.chain(depth + 1));
    }
    const redirects: Redirect[] = [];
    for (;;) {
      this.skipBlanks();
      const c = this.peek();
      if (c === '<' || c === '>') redirects.push(this.redirect(depth));
      else if (/[0-2]/.test(c) && (this.peek(1) === '>' || this.peek(1) === '<')) {
        this.r.pos++;
        redirects.push(this.redirect(depth, Number(c)));
      } else break;
    }
    return { kind: 'block', line, quiet, body, redirects };
  }

  /** A word up to a blank, quotes grouping (kept), `^` escaping. */
  private plainWord(): string {
    let w = '';
    let quoted = false;
    for (;;) {
      const c = this.peek();
      if (c === '' || c === '\n') break;
      if (!quoted && (BLANK.includes(c) || c === '&' || c === '|' || c === '<' || c === '>')) break;
      this.r.pos++;
      if (c === '"') quoted = !quoted;
      if (c === '^' && !quoted) {
        w += this.escaped();
        continue;
      }
      w += c;
    }
    return w;
  }

  /** FOR [/D | /R [root] | /L | /F ["options"]] %v IN (set) DO command */
  private forCommand(depth: number, quiet: boolean): For {
    const line = this.r.line;
    this.r.pos += 3;
    this.skipBlanks();
    let variant: For['variant'] = '';
    let arg = '';
    if (this.peek() === '/') {
      const sw = this.plainWord().toUpperCase();
      if (sw !== '/D' && sw !== '/R' && sw !== '/L' && sw !== '/F') this.fail(`${sw} was unexpected at this time.`);
      variant = sw[1] as For['variant'];
      this.skipBlanks();
      if ((variant === 'R' || variant === 'F') && this.peek() !== '%') {
        arg = this.plainWord();
        if (variant === 'F' && !(arg.startsWith('"') && arg.endsWith('"') && arg.length >= 2)) this.fail(`${arg} was unexpected at this time.`);
        arg = arg.replace(/^"|"$/g, '');
        this.skipBlanks();
      }
    }
    if (this.peek() !== '%' || this.peek(1) === '' || BLANK.includes(this.peek(1)) || this.peek(1) === '\n') {
      this.fail(`${this.peek() === '' ? 'the end of the line' : this.plainWord() || this.peek()} was unexpected at this time. (FOR needs its variable: %%i in a batch file)`);
    }
    const variable = this.peek(1);
    this.r.pos += 2;
    this.skipBlanks();
    if (!this.word('IN', BLANK + '(')) this.fail(`${this.plainWord() || 'the end of the line'} was unexpected at this time. (FOR %%${variable} IN (...) DO ...)`);
    this.skipBlanks();
    if (this.peek() !== '(') this.fail(`${this.plainWord() || 'the end of the line'} was unexpected at this time. (FOR's set is in parentheses)`);
    this.r.pos++;
    const set = this.forSet(line);
    // DO may come on the next line when the set ended its line.
    for (;;) {
      while (BLANK.includes(this.peek()) && this.peek() !== '') this.r.pos++;
      if (this.peek() === '\n') {
        this.r.pos++;
        continue;
      }
      if (this.peek() === '' && this.r.more()) continue;
      break;
    }
    if (!this.word('DO', BLANK + '(')) this.fail(`${this.plainWord() || 'the end of the line'} was unexpected at this time. (FOR ... IN (...) DO command)`);
    this.skipBlanks();
    if (this.atCommandEnd(depth)) this.fail('FOR needs a command after DO');
    const body = this.chain(depth);
    return { kind: 'for', line, quiet, variant, arg, variable, set, body };
  }

  /** FOR's set, up to its `)`: quotes and back quotes protect, `^` escapes; it may go on over lines. */
  private forSet(line: number): string {
    let set = '';
    let quote = '';
    for (;;) {
      const c = this.peek();
      if (c === '') {
        if (!this.r.more()) this.fail("FOR's set: this ( is never closed: ) is missing", line);
        continue;
      }
      this.r.pos++;
      if (c === '\n') {
        set += ' ';
        continue;
      }
      if (quote) {
        if (c === quote) quote = '';
        set += c;
        continue;
      }
      // Only double quotes protect here: in ('command') a | or & still needs its ^.
      if (c === '"') quote = '"';
      if (c === REF_OPEN) {
        this.r.pos--;
        set += this.copyRef();
        continue;
      }
      if (c === '^') {
        set += this.escaped();
        continue;
      }
      if (c === ')') return set;
      set += c;
    }
  }

  /** A word of IF's condition: quotes group (and are kept), `^` escapes; ends at a blank or `==`. */
  private ifToken(depth: number): string {
    let tok = '';
    let quoted = false;
    for (;;) {
      const c = this.peek();
      if (c === '' || c === '\n') break;
      if (quoted) {
        tok += c;
        this.r.pos++;
        if (c === '"') quoted = false;
        continue;
      }
      if (c === REF_OPEN) {
        tok += this.copyRef();
        continue;
      }
      if (c === '"') {
        quoted = true;
        tok += c;
        this.r.pos++;
        continue;
      }
      if (c === '^') {
        this.r.pos++;
        tok += this.escaped();
        continue;
      }
      if (BLANK.includes(c) || c === '&' || c === '|' || c === '<' || c === '>' || c === '(' || (c === ')' && depth > 0)) break;
      if (c === '=' && this.peek(1) === '=') break;
      tok += c;
      this.r.pos++;
    }
    return tok;
  }

  private word(w: string, after: string): boolean {
    const s = this.r.buf.slice(this.r.pos, this.r.pos + w.length);
    const next = this.peek(w.length);
    if (s.toUpperCase() !== w || !(next === '' || next === '\n' || after.includes(next))) return false;
    this.r.pos += w.length;
    return true;
  }

  private ifCommand(depth: number, quiet: boolean): If {
    const line = this.r.line;
    this.r.pos += 2;
    this.skipBlanks();
    const ignoreCase = this.word('/I', BLANK);
    this.skipBlanks();
    const negate = this.word('NOT', BLANK);
    this.skipBlanks();
    const first = this.ifToken(depth);
    if (first === '') this.fail('IF needs a condition');
    const key = first.toUpperCase();
    this.skipBlanks();
    let cond: Condition;
    if (['ERRORLEVEL', 'EXIST', 'DEFINED', 'CMDEXTVERSION'].includes(key) && !(this.peek() === '=' && this.peek(1) === '=')) {
      const operand = this.ifToken(depth);
      if (operand === '') this.fail(`IF ${key} needs ${key === 'EXIST' ? 'a path' : key === 'DEFINED' ? 'a variable name' : 'a number'}`);
      // CMDEXTVERSION n: the extensions' version here is 2, as on every Windows since 2000.
      if (key === 'CMDEXTVERSION') cond = { kind: 'compare', op: 'GEQ', left: '2', right: operand };
      else cond = key === 'ERRORLEVEL' ? { kind: 'errorlevel', n: operand } : key === 'EXIST' ? { kind: 'exist', path: operand } : { kind: 'defined', name: operand };
    } else {
      let op: CompareOp;
      if (this.peek() === '=' && this.peek(1) === '=') {
        this.r.pos += 2;
        op = '==';
      } else {
        const w = this.ifToken(depth);
        const upper = w.toUpperCase() as CompareOp;
        if (!COMPARE_OPS.includes(upper)) this.fail(`IF: ${w ? `"${w}"` : 'the end of the line'} where ==, EQU, NEQ, LSS, LEQ, GTR or GEQ was expected`);
        op = upper;
      }
      this.skipBlanks();
      const right = this.ifToken(depth);
      if (right === '') this.fail(`IF: nothing to compare ${first} with`);
      cond = { kind: 'compare', op, left: first, right };
    }
    this.skipBlanks();
    if (this.atCommandEnd(depth)) this.fail('IF needs a command after its condition');
    let then: Node;
    let otherwise: Node | null = null;
    if (this.peek() === '(') {
      const block = this.block(depth, false);
      this.skipBlanks();
      if (this.word('ELSE', BLANK + '(')) {
        this.skipBlanks();
        if (this.atCommandEnd(depth)) this.fail('ELSE needs a command after it');
        then = block;
        otherwise = this.chain(depth);
      } else {
        // What follows the block on its line (`& cmd`) still belongs to IF's command, as in cmd.
        then = this.chain(depth, block);
      }
    } else {
      then = this.chain(depth);
    }
    return { kind: 'if', line, quiet, negate, ignoreCase, cond, then, else: otherwise };
  }
}

/** The whole file parsed ahead, references unexpanded: every problem cmd's parser would stop on. */
export interface ParsedScript {
  script: Script;
  /** the logical lines in file order */
  lines: Node[];
  problems: Problem[];
}

export function parseScript(script: Script): ParsedScript {
  const problems: Problem[] = [...script.problems];
  const lines: Node[] = [];
  let next = 0;
  while (next < script.lines.length) {
    const start = next;
    const reader = new Reader(() => {
      if (next >= script.lines.length) return null;
      const i = next++;
      const found: string[] = [];
      const text = expandPercent(script.lines[i], null, found);
      for (const message of found) problems.push({ file: script.file, line: i + 1, message });
      return { text, line: i + 1 };
    });
    reader.more();
    if (/^[ \t,;=]*:/.test(script.lines[start]) || reader.buf.trim() === '') continue;
    try {
      lines.push(new Parser(reader).logical());
    } catch (e) {
      if (!(e instanceof ParseError)) throw e;
      problems.push({ file: script.file, line: e.line, message: e.message });
      next = Math.max(next, e.line); // go on after the line in error
    }
  }
  return { script, lines, problems };
}

/**
 * Every line of the file that cannot be parsed (errors) and every likely mistake cmd would run anyway (warnings), with file and line, before
 * anything runs: for `arms check` and for the interpreter itself.
 */
export function check(file: string): Problem[] {
  let script: Script;
  try {
    script = loadScript(file);
  } catch (e) {
    if (e instanceof ScriptUnreadable) return [{ file, line: 0, message: e.message }];
    throw e;
  }
  const parsed = parseScript(script);
  const problems = [...parsed.problems];
  for (const node of parsed.lines) checkTree(node, script, problems);
  return problems.sort((a, b) => a.line - b.line);
}

/** A node as cmd echoes it (ECHO ON) and as --trace shows it. */
export function render(node: Node): string {
  const clean = (s: string) => s.replace(/[\uE000\uE001]/g, '');
  switch (node.kind) {
    case 'command':
      return clean(node.text.replace(/^[ \t,;=]+/, '').trimEnd() + node.redirects.map(renderRedirect).join(''));
    case 'rem':
      return clean(node.text).trimEnd();
    case 'empty':
      return '';
    case 'block':
      return '(' + node.body.map(render).filter(Boolean).join(' & ') + ')' + node.redirects.map(renderRedirect).join('');
    case 'chain':
      return `${render(node.left)} ${node.op} ${render(node.right)}`;
    case 'pipe':
      return `${render(node.left)} | ${render(node.right)}`;
    case 'for': {
      const sw = node.variant ? `/${node.variant} ` : '';
      const arg = node.arg ? (node.variant === 'F' ? `"${node.arg}" ` : `${node.arg} `) : '';
      return clean(`FOR ${sw}${arg}%${node.variable} IN (${node.set}) DO `) + render(node.body);
    }
    case 'if': {
      const c = node.cond;
      const cond =
        c.kind === 'compare'
          ? `${c.left} ${c.op} ${c.right}`
          : c.kind === 'errorlevel'
            ? `ERRORLEVEL ${c.n}`
            : c.kind === 'exist'
              ? `EXIST ${c.path}`
              : `DEFINED ${c.name}`;
      const head = `IF ${node.ignoreCase ? '/I ' : ''}${node.negate ? 'NOT ' : ''}${clean(cond)} ${render(node.then)}`;
      return node.else ? `${head} ELSE ${render(node.else)}` : head;
    }
  }
}

function renderRedirect(r: Redirect): string {
  if (r.mode === 'dup') return ` ${r.fd}>&${r.target}`;
  const op = r.mode === 'read' ? '<' : r.mode === 'append' ? '>>' : '>';
  return ` ${r.fd === (r.mode === 'read' ? 0 : 1) ? '' : r.fd}${op}${r.target}`;
}
