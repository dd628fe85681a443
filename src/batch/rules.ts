// What the dialect is made of: the built-in commands it runs, the cmd built-ins it refuses (with
// the reason), how a command line splits into its name and the rest, and the static rules `check`
// applies to every command of a file.
import { ArithError, evaluate } from './arith';
import { cmdNumber } from './conditions';
import { REF_OPEN } from './expand';
import type { Node, Redirect } from './parse';
import { isDevice } from './paths';
import { findLabel, Problem, Script } from './source';
import { parseOptions } from './for-options';
import { mappedProgram, unmappedWindowsProgram } from './programs';

/** cmd's built-ins, all run by the interpreter itself (FOR, IF and REM are parsed, not looked up). */
export const BUILTINS = [
  'ECHO', 'SET', 'SETLOCAL', 'ENDLOCAL', 'GOTO', 'CALL', 'EXIT', 'START', 'CD', 'CHDIR', 'PUSHD', 'POPD', 'SHIFT',
  'TYPE', 'COPY', 'MOVE', 'DEL', 'ERASE', 'MD', 'MKDIR', 'RD', 'RMDIR', 'REN', 'RENAME', 'DIR', 'MKLINK',
  'VER', 'TITLE', 'PAUSE', 'CLS', 'DATE', 'TIME', 'PATH', 'CHCP', 'COLOR', 'PROMPT', 'BREAK', 'VERIFY', 'KEYS',
  'VOL', 'DPATH', 'ASSOC', 'FTYPE',
] as const;
export type Builtin = (typeof BUILTINS)[number];

const COMMAND_DELIMS = ' \t,;=';
/** After a built-in's name, these characters end the name (`echo.`, `cd..`, `goto:eof`, `exit/b`). */
const NAME_ENDS = '.:/\\(+[]"';

export interface Split {
  /** the command's name as written */
  name: string;
  /** what follows the name (for a built-in: from the character right after its name) */
  rest: string;
  builtin: Builtin | null;
}

/** Splits a command's text into its name and the rest, recognising built-ins as cmd does. */
export function splitCommand(text: string): Split {
  let i = 0;
  while (i < text.length && COMMAND_DELIMS.includes(text[i])) i++;
  if (text[i] === '"') {
    let j = text.indexOf('"', i + 1);
    j = j === -1 ? text.length : j + 1;
    while (j < text.length && !COMMAND_DELIMS.includes(text[j])) j++;
    return { name: text.slice(i, j), rest: text.slice(j), builtin: null };
  }
  let j = i;
  while (j < text.length && !COMMAND_DELIMS.includes(text[j])) j++;
  const word = text.slice(i, j);
  const upper = word.toUpperCase();
  // A program file named like a built-in (start.bat, echo.exe) is the program.
  if (!/\.(bat|cmd|exe|com)$/i.test(word)) {
    const exact = BY_NAME.get(upper);
    if (exact) return { name: word, rest: text.slice(j), builtin: exact };
    for (const name of BUILTINS) {
      if (upper.startsWith(name) && NAME_ENDS.includes(word[name.length])) return { name: word.slice(0, name.length), rest: text.slice(i + name.length), builtin: name };
    }
  }
  return { name: word, rest: text.slice(j), builtin: null };
}

const BY_NAME = new Map<string, Builtin>(BUILTINS.map((b) => [b, b]));

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
    else throw new Error(`START: the option /${opt} has no meaning here (no processor groups, NUMA nodes or affinity)`);
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

/**
 * The static rules for one logical line; problems are appended. They are all warnings: cmd would
 * run the line (and says what is wrong when it gets there), so the interpreter does too. Only a
 * line that cannot be parsed (parse.ts) is an error that stops a script before it runs.
 */
export function checkTree(node: Node, script: Script, problems: Problem[]): void {
  const add = (line: number, message: string) => problems.push({ file: script.file, line, message, warning: true });
  const redirects = (line: number, rs: Redirect[]) => {
    for (const r of rs) if (r.mode !== 'dup' && !isDynamic(r.target) && isDevice(r.target) && !/^con:?$/i.test(r.target)) add(line, `${r.target}: Windows devices other than NUL and CON do not exist here`);
  };
  const walk = (n: Node): void => {
    switch (n.kind) {
      case 'empty':
        if (n.strayParen) add(n.line, 'a ) with no ( open: cmd skips the rest of this line');
        return;
      case 'rem':
        return;
      case 'chain':
      case 'pipe':
        walk(n.left);
        walk(n.right);
        return;
      case 'for':
        if (n.variant === 'F') {
          try {
            if (!isDynamic(n.arg)) parseOptions(n.arg);
          } catch (e) {
            add(n.line, `FOR /F "${shown(n.arg)}": ${(e as Error).message} was unexpected at this time (cmd stops the script there)`);
          }
        }
        walk(n.body);
        return;
      case 'block':
        n.body.forEach(walk);
        redirects(n.line, n.redirects);
        return;
      case 'if':
        if (n.cond.kind === 'errorlevel' && !isDynamic(n.cond.n) && !/[%!]/.test(n.cond.n) && cmdNumber(n.cond.n) === null) add(n.line, `IF ERRORLEVEL needs a number, not "${n.cond.n}" (cmd stops the script there)`);
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

function checkCommand(text: string, line: number, script: Script, add: (line: number, message: string) => void): void {
  const s = splitCommand(text);
  const upper = s.name.toUpperCase();
  if (s.name === '') return;
  if (upper === 'ELSE') return add(line, 'ELSE must follow the ) of an IF block on the same line: ") ELSE (" (cmd runs it as a command named ELSE: 9009)');
  if (/^[A-Z]:$/i.test(s.name)) return add(line, `${s.name} changes the drive in cmd: there are no drive letters here (The system cannot find the drive specified.)`);
  if (!s.builtin && !isDynamic(s.name)) {
    const instead = unmappedWindowsProgram(s.name);
    if (instead && !mappedProgram(s.name)) return add(line, `${shown(s.name)} is a Windows program with no counterpart here: the line will not run (ERRORLEVEL 9009); instead: ${instead}`);
  }
  switch (s.builtin) {
    case 'GOTO':
    case 'CALL': {
      const rest = s.rest.replace(/^[ \t,;=]+/, '');
      if (s.builtin === 'CALL' && !rest.startsWith(':')) {
        if (rest === '') return add(line, 'CALL needs a batch file, a :label or a command');
        const inner = splitCommand(rest);
        const word = inner.name.toUpperCase();
        if (word === 'IF' || word === 'FOR' || word === 'REM' || word.startsWith('(')) return add(line, `CALL cannot run ${word} (cmd: not recognized, 9009)`);
        return checkCommand(rest, line, script, add);
      }
      const label = labelArg(rest);
      if (label === '') return add(line, `${s.builtin} needs a label`);
      if (label === ':EOF' || isDynamic(label) || /[%!]/.test(label)) return;
      if (findLabel(script, label, 0) === -1) add(line, `${s.builtin} ${shown(label)}: there is no label :${shown(label)} in this file (cmd stops this batch context there)`);
      return;
    }
    case 'SET': {
      const rest = s.rest.replace(/^[ \t]+/, '');
      const sw = /^\/([A-Za-z])(?=[ \t"]|$)/.exec(rest);
      if (sw && sw[1].toUpperCase() === 'A') {
        const expr = rest.slice(2);
        if (isDynamic(expr) || /[%!]/.test(expr)) return;
        try {
          evaluate(expr, { get: () => undefined, set: () => undefined }, true);
        } catch (e) {
          if (e instanceof ArithError) add(line, `SET /A ${expr.trim()}: ${e.message} (cmd says so at this line and goes on)`);
          else throw e;
        }
        return;
      }
      if (sw && sw[1].toUpperCase() !== 'P') return add(line, `SET /${sw[1]}: cmd takes /${sw[1]} as part of a variable name`);
      return;
    }
    case 'SETLOCAL':
      for (const w of s.rest.trim().split(/[ \t]+/).filter(Boolean)) {
        const u = w.toUpperCase();
        if (['ENABLEEXTENSIONS', 'DISABLEDELAYEDEXPANSION', 'ENABLEDELAYEDEXPANSION'].includes(u) || isDynamic(w)) continue;
        if (u === 'DISABLEEXTENSIONS') add(line, 'SETLOCAL DISABLEEXTENSIONS: the extensions stay on here');
        else add(line, `SETLOCAL: unknown option ${shown(w)} (cmd: Invalid parameter to SETLOCAL command, ERRORLEVEL 1)`);
      }
      return;
    case 'EXIT': {
      const words = s.rest.trim().split(/[ \t]+/).filter(Boolean);
      if (words[0]?.toUpperCase() === '/B') words.shift();
      if (words[0] !== undefined && !isDynamic(words[0]) && !/[%!]/.test(words[0]) && !/^[+-]?\d+$/.test(words[0])) add(line, `EXIT: "${words[0]}" is not a number (cmd takes it as 0)`);
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
      if (inner.builtin || ['IF', 'REM', 'FOR'].includes(inner.name.toUpperCase()))
        add(line, `START ${inner.name}: a cmd built-in needs a console window of its own, and there is none here (ERRORLEVEL 9059)`);
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
