// The built-in commands of the dialect, with cmd's effect on ERRORLEVEL: ECHO, GOTO, ENDLOCAL,
// POPD, SHIFT and START (without /WAIT) keep it; CD, PUSHD and SETLOCAL clear it on success; SET
// keeps it in a .bat file and clears it in a .cmd file; errors set it (and say what is wrong on
// stderr, in cmd's words).
import { ArithError, evaluate } from './arith';
import { EndFrame, ExitAll, Frame, Jump } from './control';
import type { Interpreter } from './exec';
import { expandPercent, programArgs, unquote } from './expand';
import { IO, writeFd } from './io';
import { findCommand, Found, PathNotFound } from './lookup';
import { hostPath, isDir, resolveCase } from './paths';
import { Builtin, labelArg, parseStart, splitCommand } from './rules';
import { findLabel } from './source';
import { projectCommandName } from './own-commands';
import { chcp, noConsole, nothingHere, pause, ver } from './builtins/console';
import { copy } from './builtins/copy';
import { dateOrTime } from './builtins/date-time';
import { del } from './builtins/del';
import { dir } from './builtins/dir';
import { md } from './builtins/md';
import { mklink } from './builtins/mklink';
import { move } from './builtins/move';
import { pathBuiltin } from './builtins/path';
import { rd } from './builtins/rd';
import { readLine } from './builtins/read-line';
import { ren } from './builtins/ren';
import { type } from './builtins/type';

export async function runBuiltin(sh: Interpreter, name: Builtin, rest: string, frame: Frame, io: IO, line: number): Promise<boolean> {
  switch (name) {
    case 'ECHO':
      return echo(sh, rest, io);
    case 'SET':
      return set(sh, rest, frame, io);
    case 'SETLOCAL':
      return setlocal(sh, rest, frame, io, line);
    case 'ENDLOCAL':
      return endlocal(sh, frame);
    case 'GOTO':
      return goto(sh, rest, frame, io, line);
    case 'CALL':
      return call(sh, rest, frame, io, line);
    case 'EXIT':
      return exit(sh, rest);
    case 'START':
      return start(sh, rest, frame, io, line);
    case 'CD':
    case 'CHDIR':
      return cd(sh, rest, io, false);
    case 'PUSHD':
      return cd(sh, rest, io, true);
    case 'POPD': {
      const dir = sh.dirStack.pop();
      if (dir !== undefined) sh.cwd = dir;
      return true;
    }
    case 'SHIFT':
      return shift(rest, frame);
    case 'TYPE':
      return type(sh, rest, io);
    case 'COPY':
      return copy(sh, rest, io);
    case 'MOVE':
      return move(sh, rest, io);
    case 'DEL':
    case 'ERASE':
      return del(sh, rest, io);
    case 'MD':
    case 'MKDIR':
      return md(sh, rest, io);
    case 'RD':
    case 'RMDIR':
      return rd(sh, rest, io);
    case 'REN':
    case 'RENAME':
      return ren(sh, rest, io);
    case 'DIR':
      return dir(sh, rest, io);
    case 'MKLINK':
      return mklink(sh, rest, io);
    case 'VER':
      return ver(io);
    case 'PAUSE':
      return pause(sh, io, frame, line);
    case 'DATE':
    case 'TIME':
      return dateOrTime(sh, name, rest, io);
    case 'PATH':
      return pathBuiltin(sh, rest, io);
    case 'CHCP':
      return chcp(sh, rest, io);
    case 'TITLE':
    case 'CLS':
    case 'COLOR':
    case 'PROMPT':
    case 'BREAK':
    case 'VERIFY':
    case 'KEYS':
      return noConsole(sh, name, frame, line);
    case 'VOL':
    case 'DPATH':
    case 'ASSOC':
    case 'FTYPE':
      return nothingHere(sh, name, io);
  }
}

function print(fd: number, text: string): void {
  writeFd(fd, text + '\n');
}

/** ECHO, ECHO ON|OFF, ECHO. (and ECHO: ECHO( ECHO/): the character after ECHO is a separator and is dropped; the rest is printed as is. */
function echo(sh: Interpreter, rest: string, io: IO): boolean {
  const state = () => print(io.out, `ECHO is ${sh.echo ? 'on' : 'off'}.`);
  if (rest === '') {
    state();
    return true;
  }
  const sep = rest[0];
  const body = rest.slice(1);
  if (' \t,;='.includes(sep)) {
    const word = body.trim();
    if (/^on$/i.test(word)) sh.echo = true;
    else if (/^off$/i.test(word)) sh.echo = false;
    else if (word === '') state();
    else print(io.out, body);
    return true;
  }
  print(io.out, body);
  return true;
}

function set(sh: Interpreter, rest: string, frame: Frame, io: IO): boolean {
  const text = rest.replace(/^[ \t]+/, '');
  const succeeded = () => {
    if (frame.script.cmdExt) sh.errorlevel = 0;
    return true;
  };
  if (/^\/a(?=[ \t"]|$)/i.test(text)) {
    try {
      evaluate(text.slice(2), { get: (n) => sh.lookup(n), set: (n, v) => sh.vars.set(n, v) });
    } catch (e) {
      if (!(e instanceof ArithError)) throw e;
      print(io.err, e.message);
      sh.errorlevel = e.code;
      return false;
    }
    return succeeded();
  }
  if (/^\/p(?=[ \t"]|$)/i.test(text)) return setPrompt(sh, text.slice(2).replace(/^[ \t]+/, ''), io);
  // SET "NAME=value": the value ends at the last quote; anything after it is ignored.
  let body = text;
  if (body.startsWith('"')) {
    const last = body.lastIndexOf('"');
    body = last > 0 ? body.slice(1, last) : body.slice(1);
  }
  const eq = body.indexOf('=');
  if (eq === -1) {
    const prefix = body.trim().toUpperCase();
    const shown = sh.vars.entries().filter(([n]) => n.toUpperCase().startsWith(prefix));
    if (shown.length === 0) {
      print(io.err, `Environment variable ${body.trim()} not defined`);
      sh.errorlevel = 1;
      return false;
    }
    for (const [n, v] of shown) print(io.out, `${n}=${v}`);
    return succeeded();
  }
  if (eq === 0) {
    print(io.err, 'The syntax of the command is incorrect.');
    sh.errorlevel = 1;
    return false;
  }
  // The name is everything before the first =, blanks included (SET X = 1 sets "X "), as in cmd.
  sh.vars.set(body.slice(0, eq), body.slice(eq + 1));
  return succeeded();
}

/** SET /P NAME=prompt: the prompt without a line end, then one line of input; none (the end of the input): NAME is left as it was and ERRORLEVEL is 1. */
function setPrompt(sh: Interpreter, text: string, io: IO): boolean {
  let body = text;
  if (body.startsWith('"')) {
    const last = body.lastIndexOf('"');
    body = last > 0 ? body.slice(1, last) : body.slice(1);
  }
  const eq = body.indexOf('=');
  if (eq <= 0) {
    print(io.err, 'The syntax of the command is incorrect.');
    sh.errorlevel = 1;
    return false;
  }
  const prompt = body.slice(eq + 1);
  if (prompt !== '') writeFd(io.out, prompt);
  const answer = readLine(io.in);
  if (answer === null || answer === '') {
    sh.errorlevel = 1;
    return false;
  }
  sh.vars.set(body.slice(0, eq), answer);
  return true;
}

function setlocal(sh: Interpreter, rest: string, frame: Frame, io: IO, line: number): boolean {
  let delayed = sh.delayed;
  for (const w of rest.trim().split(/[ \t]+/).filter(Boolean)) {
    const u = w.toUpperCase();
    if (u === 'ENABLEDELAYEDEXPANSION') delayed = true;
    else if (u === 'DISABLEDELAYEDEXPANSION') delayed = false;
    else if (u === 'ENABLEEXTENSIONS') continue;
    else if (u === 'DISABLEEXTENSIONS') sh.trace(frame, line, 'SETLOCAL DISABLEEXTENSIONS: the extensions stay on here');
    else {
      print(io.err, 'Invalid parameter to SETLOCAL command');
      sh.errorlevel = 1;
      return false;
    }
  }
  sh.locals.push({ frame, vars: sh.vars.copy(), cwd: sh.cwd, delayed: sh.delayed });
  sh.delayed = delayed;
  sh.errorlevel = 0;
  return true;
}

function endlocal(sh: Interpreter, frame: Frame): boolean {
  for (let i = sh.locals.length - 1; i >= 0; i--) {
    if (sh.locals[i].frame !== frame) continue;
    const saved = sh.locals.splice(i, 1)[0];
    sh.vars = saved.vars;
    sh.cwd = saved.cwd;
    sh.delayed = saved.delayed;
    break;
  }
  return true;
}

function goto(sh: Interpreter, rest: string, frame: Frame, io: IO, line: number): never {
  const label = labelArg(rest);
  if (label === ':EOF') {
    sh.trace(frame, line, '-> end of this batch context');
    throw new EndFrame();
  }
  const at = label === '' ? -1 : findLabel(frame.script, label, frame.pos);
  if (at === -1) {
    // cmd: the message, ERRORLEVEL 1, and this batch context ends.
    print(io.err, label === '' ? 'No batch label specified to GOTO command.' : `The system cannot find the batch label specified - ${label}`);
    sh.errorlevel = 1;
    throw new EndFrame();
  }
  sh.trace(frame, line, `-> :${label} (line ${at + 1})`);
  frame.pos = at + 1;
  throw new Jump();
}

async function call(sh: Interpreter, rest: string, frame: Frame, io: IO, line: number): Promise<boolean> {
  // CALL expands its command line a second time (`call echo %%X%%` shows X's value).
  const text = expandPercent(rest.replace(/^[ \t,;=]+/, ''), sh.scope(frame));
  if (text.trim() === '') {
    print(io.err, 'The syntax of the command is incorrect.');
    sh.errorlevel = 1;
    return false;
  }
  if (text.startsWith(':')) return sh.callLabel(frame, text, io, line);
  const s = splitCommand(text);
  if (s.builtin) {
    // CALL of a built-in clears ERRORLEVEL unless the built-in sets it.
    sh.errorlevel = 0;
    return runBuiltin(sh, s.builtin, s.rest, frame, io, line);
  }
  return sh.external(s.name, s.rest, frame, io, line, true);
}

function exit(sh: Interpreter, rest: string): never {
  const words = rest.trim().split(/[ \t]+/).filter(Boolean);
  const toBatch = words[0]?.toUpperCase() === '/B';
  if (toBatch) words.shift();
  const code = words[0] === undefined ? undefined : Number.parseInt(words[0], 10) || 0;
  if (toBatch) {
    if (code !== undefined) sh.errorlevel = code;
    throw new EndFrame();
  }
  throw new ExitAll(code ?? sh.errorlevel);
}

async function start(sh: Interpreter, rest: string, frame: Frame, io: IO, line: number): Promise<boolean> {
  let spec;
  try {
    spec = parseStart(rest);
  } catch (e) {
    print(io.err, (e as Error).message);
    sh.errorlevel = 1;
    return false;
  }
  const s = splitCommand(spec.command);
  if (s.builtin) {
    print(io.err, `START ${s.name}: a cmd built-in would run in a console window of its own, and there is none here: start a batch file that runs it`);
    sh.errorlevel = 9059;
    return false;
  }
  const cwd = spec.dir ? resolveCase(sh.cwd, spec.dir) : sh.cwd;
  let found: Found | null = null;
  try {
    found = findCommand(s.name, sh.vars.get('PATH'), cwd);
  } catch (e) {
    if (!(e instanceof PathNotFound)) throw e;
  }
  if (!found) {
    print(io.err, `The system cannot find the file ${unquote(s.name)}.`);
    sh.errorlevel = 9059;
    return false;
  }
  if (sh.dryRun && found.kind === 'program' && projectCommandName(found.file)) {
    print(io.err, `[dry run] ${frame.script.file.replace(/^.*\//, '')}:${line}: START ${spec.command.trimEnd()} (not started)`);
    return true;
  }
  const [file, args] = found.kind === 'batch' ? [process.execPath, sh.interpreterArgs(found.file, s.rest)] : [found.file, programArgs(s.rest)];
  if (spec.wait) {
    const code = await sh.spawnWait(file, args, io, cwd);
    sh.errorlevel = code;
    sh.trace(frame, line, `-> ERRORLEVEL ${code}`);
    return code === 0;
  }
  // cmd gives a started program a console of its own: its output is not the script's, unless /B.
  sh.spawnDetached(file, args, spec.shared ? io : null, cwd);
  sh.trace(frame, line, `-> started ${found.file}`);
  return true;
}

/** CD / CHDIR [/D] [path], PUSHD [path]: with no path CD prints the current folder. */
function cd(sh: Interpreter, rest: string, io: IO, push: boolean): boolean {
  let arg = rest.trim();
  if (!push && /^\/d(?=[ \t]|$)/i.test(arg)) arg = arg.slice(2).trim();
  arg = arg.replace(/"/g, '');
  if (arg === '') {
    if (push) for (const d of [...sh.dirStack].reverse()) print(io.out, d);
    else print(io.out, sh.cwd);
    sh.errorlevel = 0;
    return true;
  }
  const target = resolveCase(sh.cwd, hostPath(arg));
  if (!isDir(target)) {
    print(io.err, 'The system cannot find the path specified.');
    sh.errorlevel = 1;
    return false;
  }
  if (push) sh.dirStack.push(sh.cwd);
  sh.cwd = target;
  sh.errorlevel = 0;
  return true;
}

/** SHIFT moves %1..%9 down by one; SHIFT /n leaves %0..%(n-1) in place. */
function shift(rest: string, frame: Frame): boolean {
  const m = /^\/([0-8])$/.exec(rest.trim());
  if (!m) {
    frame.args = { ...frame.args, shift: frame.args.shift + 1 };
    return true;
  }
  const tokens = [...frame.args.tokens];
  tokens.splice(frame.args.shift + Number(m[1]), 1);
  frame.args = { ...frame.args, tokens };
  return true;
}
