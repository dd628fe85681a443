// What the dialect is made of: the built-in commands it runs, the cmd built-ins it refuses (with
// the reason), how a command line splits into its name and the rest, and the static rules `check`
// applies to every command of a file.
import { ArithError, evaluate } from './arith';
import { cmdNumber } from './conditions';
import { REF_OPEN } from './expand';
import type { Node, Redirect } from './parse';
import { isDevice } from './paths';
import { findLabel, Problem, Script } from './source';

/** The built-ins the interpreter runs itself. */
export const BUILTINS = ['ECHO', 'SET', 'SETLOCAL', 'ENDLOCAL', 'GOTO', 'CALL', 'EXIT', 'START', 'CD', 'CHDIR', 'PUSHD', 'POPD', 'SHIFT'] as const;
export type Builtin = (typeof BUILTINS)[number];

const FILES = 'use a program (cp, mv, rm, mkdir, cat) or a .sh helper script';
/** cmd built-ins outside the dialect, and why. */
export const REFUSED: Record<string, string> = {
  FOR: 'FOR loops are outside the batch dialect: use a .sh helper script',
  COPY: FILES,
  MOVE: FILES,
  DEL: FILES,
  ERASE: FILES,
  MD: FILES,
  MKDIR: FILES,
  RD: FILES,
  RMDIR: FILES,
  REN: FILES,
  RENAME: FILES,
  TYPE: FILES,
  DIR: FILES,
  MKLINK: FILES,
  PAUSE: 'a group script has no console to wait on',
  CLS: 'a group script has no console',
  COLOR: 'a group script has no console',
  TITLE: 'a group script has no console window',
  PROMPT: 'a group script has no console',
  CHCP: 'code pages do not apply here (scripts are UTF-8)',
  VER: 'no Windows version here',
  VOL: 'no volumes here',
  VERIFY: 'no such setting here',
  BREAK: 'no such setting here',
  DATE: 'use %DATE% to read the date',
  TIME: 'use %TIME% to read the time',
  PATH: 'use SET PATH=...',
  DPATH: 'no such setting here',
  ASSOC: 'no file associations here',
  FTYPE: 'no file associations here',
  KEYS: 'no console here',
};

const COMMAND_DELIMS = ' \t,;=';
/** After a built-in's name, these characters end the name (`echo.`, `cd..`, `goto:eof`, `exit/b`). */
const NAME_ENDS = '.:/\\(+[]"';

export interface Split {
  /** the command's name as written */
  name: string;
  /** what follows the name (for a built-in: from the character right after its name) */
  rest: string;
  builtin: Builtin | null;
  /** a cmd built-in the dialect refuses */
  refused: string | null;
}

/** Splits a command's text into its name and the rest, recognising built-ins as cmd does. */
export function splitCommand(text: string): Split {
  let i = 0;
  while (i < text.length && COMMAND_DELIMS.includes(text[i])) i++;
  if (text[i] === '"') {
    let j = text.indexOf('"', i + 1);
    j = j === -1 ? text.length : j + 1;
    while (j < text.length && !COMMAND_DELIMS.includes(text[j])) j++;
    return { name: text.slice(i, j), rest: text.slice(j), builtin: null, refused: null };
  }
  let j = i;
  while (j < text.length && !COMMAND_DELIMS.includes(text[j])) j++;
  const word = text.slice(i, j);
  const upper = word.toUpperCase();
  // A program file named like a built-in (start.bat, echo.exe) is the program.
  if (!/\.(bat|cmd|exe|com)$/i.test(word)) {
    for (const name of [...BUILTINS, ...Object.keys(REFUSED)]) {
      const exact = upper === name;
      if (exact || (upper.startsWith(name) && NAME_ENDS.includes(word[name.length]))) {
        const builtin = (BUILTINS as readonly string[]).includes(name) ? (name as Builtin) : null;
        return { name: word.slice(0, name.length), rest: text.slice(i + name.length), builtin, refused: builtin ? null : name };
      }
    }
  }
  return { name: word, rest: text.slice(j), builtin: null, refused: null };
}

export interface StartSpec {
  title: string | null;
  wait: boolean;
  /** /B: no new console, the output stays the script's */
  shared: boolean;
  dir: string | null;
  /** the command and its arguments, as written */
  command: string;
}

const START_IGNORED = ['MIN', 'MAX', 'I', 'LOW', 'NORMAL', 'HIGH', 'REALTIME', 'ABOVENORMAL', 'BELOWNORMAL', 'SEPARATE', 'SHARED'];

/** START ["title"] [/D path] [/B] [/WAIT] [/MIN|/MAX|priority...] command args. Throws Error for what it cannot take. */
export function parseStart(rest: string): StartSpec {
  const spec: StartSpec = { title: null, wait: false, shared: false, dir: null, command: '' };
  let i = 0;
  const skip = () => {
    while (i < rest.length && COMMAND_DELIMS.includes(rest[i])) i++;
  };
  const token = (): string => {
    const start = i;
    let quoted = false;
    while (i < rest.length && (quoted || !COMMAND_DELIMS.includes(rest[i]))) {
      if (rest[i] === '"') quoted = !quoted;
      i++;
    }
    return rest.slice(start, i);
  };
  for (;;) {
    skip();
    if (i >= rest.length) throw new Error('START needs a command to start (a new console window is not available here)');
    if (rest[i] === '"' && spec.title === null) {
      spec.title = token().replace(/^"|"$/g, '');
      continue;
    }
    if (rest[i] !== '/') break;
    const at = i;
    const opt = token().slice(1).toUpperCase();
    if (opt === 'B') spec.shared = true;
    else if (opt === 'WAIT') spec.wait = true;
    else if (opt === 'D') {
      skip();
      spec.dir = token().replace(/"/g, '');
    } else if (opt.startsWith('D') && opt.length > 1) spec.dir = rest.slice(at + 2, i).replace(/"/g, '');
    else if (START_IGNORED.includes(opt)) continue;
    else throw new Error(`START: the option /${opt} is outside the batch dialect`);
  }
  spec.command = rest.slice(i);
  return spec;
}

const isDynamic = (s: string) => s.includes(REF_OPEN);
const shown = (s: string) => s.replace(/[\uE000\uE001]/g, '');

/** The label a GOTO or CALL names: the first word, one leading `:` dropped; `:EOF` stays as is. */
export function labelArg(rest: string): string {
  const word = rest.replace(/^[ \t,;=]+/, '').split(/[ \t]/)[0] ?? '';
  if (/^:eof$/i.test(word)) return ':EOF';
  return word.startsWith(':') ? word.slice(1) : word;
}

/** The static rules for one logical line; problems are appended. */
export function checkTree(node: Node, script: Script, problems: Problem[]): void {
  const add = (line: number, message: string, warning = false) => problems.push({ file: script.file, line, message, ...(warning ? { warning } : {}) });
  const redirects = (line: number, rs: Redirect[]) => {
    for (const r of rs) if (r.mode !== 'dup' && !isDynamic(r.target) && isDevice(r.target)) add(line, `${r.target}: Windows devices other than NUL do not exist here`);
  };
  const walk = (n: Node): void => {
    switch (n.kind) {
      case 'empty':
        if (n.strayParen) add(n.line, 'a ) with no ( open: cmd skips the rest of this line', true);
        return;
      case 'rem':
        return;
      case 'chain':
        walk(n.left);
        walk(n.right);
        return;
      case 'block':
        n.body.forEach(walk);
        redirects(n.line, n.redirects);
        return;
      case 'if':
        if (n.cond.kind === 'errorlevel' && !isDynamic(n.cond.n) && cmdNumber(n.cond.n) === null) add(n.line, `IF ERRORLEVEL needs a number, not "${n.cond.n}"`);
        walk(n.then);
        if (n.else) walk(n.else);
        return;
      case 'command':
        redirects(n.line, n.redirects);
        checkCommand(n.text, n.line, script, add);
    }
  };
  walk(node);
}

function checkCommand(text: string, line: number, script: Script, add: (line: number, message: string, warning?: boolean) => void): void {
  const s = splitCommand(text);
  const upper = s.name.toUpperCase();
  if (s.name === '') return;
  if (s.refused) return add(line, `${s.refused} is a cmd built-in outside the batch dialect: ${REFUSED[s.refused]}`);
  if (upper === 'ELSE') return add(line, 'ELSE must follow the ) of an IF block on the same line: ") ELSE ("');
  if (/^[A-Z]:$/i.test(s.name)) return add(line, `${s.name} changes the drive in cmd: there are no drive letters here`);
  switch (s.builtin) {
    case 'GOTO':
    case 'CALL': {
      const rest = s.rest.replace(/^[ \t,;=]+/, '');
      if (s.builtin === 'CALL' && !rest.startsWith(':')) {
        if (rest === '') return add(line, 'CALL needs a batch file, a :label or a command');
        const inner = splitCommand(rest);
        const word = inner.name.toUpperCase();
        if (word === 'IF' || word === 'FOR' || word === 'REM' || word.startsWith('(')) return add(line, `CALL cannot run ${word}`);
        return checkCommand(rest, line, script, add);
      }
      const label = labelArg(rest);
      if (label === '') return add(line, `${s.builtin} needs a label`);
      if (label === ':EOF' || isDynamic(label)) return;
      if (findLabel(script, label, 0) === -1) add(line, `${s.builtin} ${shown(label)}: there is no label :${shown(label)} in this file (cmd stops this batch context there)`, true);
      return;
    }
    case 'SET': {
      const rest = s.rest.replace(/^[ \t]+/, '');
      const sw = /^\/([A-Za-z])(?=[ \t"]|$)/.exec(rest);
      if (sw && sw[1].toUpperCase() === 'P') return add(line, 'SET /P reads from the console: outside the batch dialect');
      if (sw && sw[1].toUpperCase() === 'A') {
        const expr = rest.slice(2);
        if (isDynamic(expr)) return;
        try {
          evaluate(expr, { get: () => undefined, set: () => undefined }, true);
        } catch (e) {
          if (e instanceof ArithError) add(line, `SET /A ${expr.trim()}: ${e.message}`);
          else throw e;
        }
        return;
      }
      if (sw) return add(line, `SET /${sw[1]} is outside the batch dialect`);
      return;
    }
    case 'SETLOCAL':
      for (const w of s.rest.trim().split(/[ \t]+/).filter(Boolean)) {
        const u = w.toUpperCase();
        if (u === 'ENABLEEXTENSIONS' || u === 'DISABLEDELAYEDEXPANSION' || isDynamic(w)) continue;
        if (u === 'ENABLEDELAYEDEXPANSION') add(line, 'SETLOCAL ENABLEDELAYEDEXPANSION (!VAR!) is outside the batch dialect');
        else if (u === 'DISABLEEXTENSIONS') add(line, 'SETLOCAL DISABLEEXTENSIONS is outside the batch dialect');
        else add(line, `SETLOCAL: unknown option ${shown(w)}`);
      }
      return;
    case 'EXIT': {
      const words = s.rest.trim().split(/[ \t]+/).filter(Boolean);
      if (words[0]?.toUpperCase() === '/B') words.shift();
      if (words[0] !== undefined && !isDynamic(words[0]) && !/^[+-]?\d+$/.test(words[0])) add(line, `EXIT: "${words[0]}" is not a number`);
      return;
    }
    case 'START': {
      let spec: StartSpec;
      try {
        spec = parseStart(s.rest);
      } catch (e) {
        return add(line, (e as Error).message);
      }
      const inner = splitCommand(spec.command);
      if (inner.builtin || inner.refused || ['IF', 'REM'].includes(inner.name.toUpperCase()))
        add(line, `START ${inner.name}: START runs programs and batch files, not cmd built-ins`);
      return;
    }
    case 'SHIFT': {
      const arg = s.rest.trim();
      if (arg !== '' && !/^\/[0-8]$/.test(arg)) add(line, `SHIFT: "${shown(arg)}" is not /0 .. /8`);
      return;
    }
    default:
      return;
  }
}
