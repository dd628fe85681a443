// FOR in every form. The set (and /F's options) get the loop variables of enclosing loops and
// delayed expansion when the loop starts; the body runs once per value with the variable in force
// (nested loops add theirs). A GOTO in the body leaves the loop, as in cmd.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Frame } from './control';
import { Interpreter, tempFile } from './exec';
import { IO, writeFd } from './io';
import { For, Node, ParseError, Parser, Reader, render } from './parse';
import { forSubst } from './late';
import { expandCommandLine } from './expand';
import { hostPath, isDir, resolveCase } from './paths';
import { decodeAs, detectEncoding } from './source';
import { FOptions, parseOptions, tokens } from './for-options';

const SEP = ' \t,;=';

export async function runFor(sh: Interpreter, node: For, frame: Frame, io: IO): Promise<boolean> {
  const set = sh.late(node.set);
  const arg = sh.late(node.arg);
  const v = node.variable;
  if (node.variant === 'F') {
    let opts: FOptions;
    try {
      opts = parseOptions(arg);
    } catch (e) {
      writeFd(io.err, `${(e as Error).message} was unexpected at this time.\n`);
      sh.errorlevel = 1;
      return false;
    }
    const lines = await sourceLines(sh, set, opts, frame, io);
    if (lines === null) return false;
    let skipped = 0;
    for (const line of lines) {
      if (line === '') continue;
      if (skipped < opts.skip) {
        skipped++;
        continue;
      }
      const values = tokens(line, opts);
      if (values === null) continue;
      const vars = new Map<string, string>();
      values.forEach((value, k) => vars.set(String.fromCharCode(v.charCodeAt(0) + k), value));
      await iteration(sh, node, vars, frame, io);
    }
    return true;
  }
  for (const value of values(sh, node.variant, arg, set)) await iteration(sh, node, new Map([[v, value]]), frame, io);
  return true;
}

async function iteration(sh: Interpreter, node: For, vars: Map<string, string>, frame: Frame, io: IO): Promise<void> {
  const outer = sh.forVars;
  sh.forVars = new Map([...outer, ...vars]);
  try {
    if (sh.echo && !node.quiet) writeFd(io.out, `\n${sh.cwd}>${forSubst(render(node.body), sh.forVars, sh.cwd, (n) => sh.lookup(n))}\n`);
    await sh.exec(node.body, frame, io);
  } finally {
    sh.forVars = outer;
  }
}

/** The items of a set: separated by blanks , ; = outside quotes (which are kept). */
function items(set: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (const c of set) {
    if (c === '"') quoted = !quoted;
    if (!quoted && SEP.includes(c)) {
      if (cur) out.push(cur);
      cur = '';
      continue;
    }
    cur += c;
  }
  if (cur) out.push(cur);
  return out;
}

const wild = (s: string) => /[*?]/.test(s);

function pattern(glob: string): RegExp {
  // cmd: `*.txt` also matches a name whose extension only starts with txt's letters on 8.3 names; here, plain globbing without regard to case.
  return new RegExp('^' + glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.') + '$', 'i');
}

function listing(dir: string): fs.Dirent[] {
  try {
    return fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name.toLowerCase() < b.name.toLowerCase() ? -1 : a.name.toLowerCase() > b.name.toLowerCase() ? 1 : 0));
  } catch {
    return [];
  }
}

function isDirEntry(dir: string, e: fs.Dirent): boolean {
  return e.isDirectory() || (e.isSymbolicLink() && isDir(path.join(dir, e.name)));
}

/** The names in `dir` that match `glob`: files (or, for /D, folders). */
function matches(dir: string, glob: string, folders: boolean): string[] {
  const re = pattern(glob);
  return listing(dir)
    .filter((e) => re.test(e.name) && isDirEntry(dir, e) === folders)
    .map((e) => e.name);
}

function* values(sh: Interpreter, variant: For['variant'], arg: string, set: string): Generator<string> {
  if (variant === 'L') {
    const [start, step, end] = items(set).map((x) => parseInt(x, 10) || 0);
    const s = start ?? 0;
    const st = step ?? 0;
    const e = end ?? 0;
    for (let i = s; st >= 0 ? i <= e : i >= e; i += st) {
      yield String(i);
      if (st === 0 && s > e) break;
    }
    return;
  }
  if (variant === 'R') {
    const root = resolveCase(sh.cwd, hostPath(arg.replace(/"/g, '') || '.'));
    for (const dir of tree(root)) {
      for (const item of items(set)) {
        const bare = item.replace(/"/g, '');
        if (wild(bare)) for (const name of matches(dir, bare, false)) yield path.join(dir, name);
        else yield `${dir}/${bare}`;
      }
    }
    return;
  }
  for (const item of items(set)) {
    const bare = item.replace(/"/g, '');
    if (!wild(bare)) {
      yield item;
      continue;
    }
    const written = hostPath(bare);
    const slash = written.lastIndexOf('/');
    const prefix = slash === -1 ? '' : bare.slice(0, slash + 1);
    const dir = resolveCase(sh.cwd, slash === -1 ? '.' : written.slice(0, slash + 1) || '/');
    for (const name of matches(dir, written.slice(slash + 1), variant === 'D')) yield prefix + name;
  }
}

/** A folder and every folder under it, each before its children, in name order. */
function* tree(root: string): Generator<string> {
  if (!isDir(root)) return;
  yield root;
  for (const e of listing(root)) if (e.isDirectory()) yield* tree(path.join(root, e.name));
}

/** The lines FOR /F reads: a file set, a "string", or a 'command''s output; null after an error (said on stderr). */
async function sourceLines(sh: Interpreter, set: string, o: FOptions, frame: Frame, io: IO): Promise<string[] | null> {
  const s = set.trim();
  const cmdQuote = o.backq ? '`' : "'";
  const strQuote = o.backq ? "'" : '"';
  if (s.length >= 2 && s.startsWith(strQuote) && s.endsWith(strQuote)) return [s.slice(1, -1)];
  if (s.length >= 2 && s.startsWith(cmdQuote) && s.endsWith(cmdQuote)) return splitLines(await output(sh, s.slice(1, -1), frame, io));
  const out: string[] = [];
  for (const item of fileItems(s, o.backq)) {
    let bytes: Buffer;
    try {
      bytes = fs.readFileSync(resolveCase(sh.cwd, hostPath(item)));
    } catch {
      writeFd(io.err, `The system cannot find the file ${item}.\n`);
      sh.errorlevel = 1;
      return null;
    }
    out.push(...splitLines(decodeAs(bytes, detectEncoding(bytes))));
  }
  return out;
}

function fileItems(set: string, backq: boolean): string[] {
  if (!backq) return set.split(/[ \t]+/).filter(Boolean);
  return items(set).map((x) => x.replace(/^"|"$/g, ''));
}

function splitLines(text: string): string[] {
  const eof = text.indexOf('\x1a');
  if (eof !== -1) text = text.slice(0, eof);
  return text.split('\n').map((l) => l.replace(/\r$/, ''));
}

/** FOR /F 'command': its output, run as in a cmd of its own (delayed expansion off there). */
async function output(sh: Interpreter, command: string, frame: Frame, io: IO): Promise<string> {
  const text = expandCommandLine(command, (n) => sh.lookup(n));
  let node: Node;
  let fed = false;
  try {
    const reader = new Reader(() => (fed ? null : ((fed = true), { text, line: frame.pos })));
    reader.more();
    node = new Parser(reader).logical();
  } catch (e) {
    if (!(e instanceof ParseError)) throw e;
    writeFd(io.err, `${e.message}\n`);
    return '';
  }
  const file = tempFile();
  const w = fs.openSync(file, 'w');
  const nul = fs.openSync('/dev/null', 'r');
  try {
    await sh.isolated(() => sh.exec(node, frame, { ...io, in: nul, out: w }), false);
  } finally {
    fs.closeSync(w);
    fs.closeSync(nul);
  }
  const bytes = fs.readFileSync(file);
  fs.unlinkSync(file);
  return decodeAs(bytes, detectEncoding(bytes));
}
