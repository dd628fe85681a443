// The executor: runs a batch file with cmd's semantics. It reads a logical line when it reaches it
// (percent expansion first, then parsing: a block is expanded as a whole when it is read, so a SET
// inside it is not seen by %VAR% in the same block), echoes it when ECHO is on, and runs its tree.
// Built-ins run here (commands.ts), and so do our ARM* commands (own-commands.ts); programs and
// other batch files run as child processes writing to the same descriptors. ERRORLEVEL is one
// number for the whole run, shared by CALLed contexts.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runBuiltin } from './commands';
import { evalCondition } from './conditions';
import { EndFrame, EXIT_SYNTAX, ExitAll, Fatal, Frame, Jump } from './control';
import { afterFirstToken, Args, batchArgs, expandPercent, ExpandError, ExpandScope, programArgs } from './expand';
import { IO, writeFd } from './io';
import { findCommand, Found, PathNotFound } from './lookup';
import { ownCommand, projectCommandName, runOwn } from './own-commands';
import { runFor } from './for';
import { delayedExpand, forSubst } from './late';
import { check, Condition, Node, ParseError, Parser, Reader, Redirect, render } from './parse';
import { runPipe } from './pipe';
import { mappedProgram, unmappedWindowsProgram } from './programs';
import { isNul, resolveCase } from './paths';
import { splitCommand } from './rules';
import { encodingName, findLabel, forceEncoding, formatProblem, isError, labelOf, loadScript, Script, ScriptUnreadable } from './source';
import { Vars } from './vars';

export interface InterpreterOptions {
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** print each line as it runs, with the branch taken, on this descriptor */
  traceFd?: number;
  /** the interpreter's entry point (dist/batch/main.js), run for batch files started without CALL or with START */
  entry: string;
  /** start with ECHO OFF (a batch run without CALL from one with ECHO OFF) */
  echoOff?: boolean;
}

export class Interpreter {
  vars: Vars;
  cwd: string;
  echo = true;
  errorlevel = 0;
  dirStack: string[] = [];
  /** SETLOCAL's saved environments, each with the context that made it (ENDLOCAL cannot reach a caller's) */
  locals: Array<{ frame: Frame; vars: Vars; cwd: string; delayed: boolean }> = [];
  /** SETLOCAL ENABLEDELAYEDEXPANSION in force: !VAR! is expanded when each command runs */
  delayed = false;
  /** ARMS_DRY_RUN=1 (arms run --dry-run): the project's commands (ARM*) are shown, not run */
  readonly dryRun: boolean;
  /** the FOR variables in force (nested loops add theirs) */
  forVars = new Map<string, string>();
  readonly traceFd: number | undefined;
  readonly entry: string;
  private checked = new Map<string, Script>();
  /** CALLs under way: cmd stops a runaway recursion, and so do we (before it eats the memory) */
  private depth = 0;

  constructor(opts: InterpreterOptions) {
    this.vars = new Vars(opts.env);
    this.cwd = opts.cwd;
    this.traceFd = opts.traceFd;
    this.entry = opts.entry;
    this.echo = !opts.echoOff;
    this.dryRun = opts.env.ARMS_DRY_RUN === '1';
    // --encoding (main.js, arms run): the scripts' encoding, for this run and the batch files it starts.
    const forced = opts.env.ARMS_BATCH_ENCODING ? encodingName(opts.env.ARMS_BATCH_ENCODING) : null;
    if (forced) forceEncoding(forced);
  }

  /** Runs `file` to its end; resolves with its exit code (the final ERRORLEVEL, or EXIT's code). */
  async run(file: string, arg0: string, args: string[], io: IO): Promise<number> {
    try {
      const script = this.load(file);
      await this.runFrame(newFrame(script, arg0, args), io);
      return this.errorlevel;
    } catch (e) {
      if (e instanceof ExitAll) return e.code;
      if (e instanceof Fatal) {
        writeFd(io.err, e.text + '\n');
        return EXIT_SYNTAX;
      }
      throw e;
    }
  }

  /** A batch file, read and checked whole before any of it runs. */
  load(file: string): Script {
    const abs = path.resolve(this.cwd, file);
    const known = this.checked.get(abs);
    if (known) return known;
    let script: Script;
    try {
      script = loadScript(abs);
    } catch (e) {
      if (e instanceof ScriptUnreadable) throw new Fatal(e.message);
      throw e;
    }
    // Only what cannot be parsed stops a script before it runs; everything else happens at its line.
    const errors = check(abs).filter(isError);
    if (errors.length > 0) throw new Fatal(errors.map(formatProblem).join('\n'));
    this.checked.set(abs, script);
    return script;
  }

  async runFrame(frame: Frame, io: IO): Promise<void> {
    const lines = frame.script.lines;
    try {
      while (frame.pos < lines.length) {
        if (labelOf(lines[frame.pos]) !== null) {
          frame.pos++; // labels are not commands: never echoed, never run
          continue;
        }
        const node = this.read(frame);
        if (!node) continue;
        if (this.echo && !node.quiet && node.kind !== 'empty') writeFd(io.out, `\n${this.cwd}>${render(node)}\n`);
        try {
          await this.exec(node, frame, io);
        } catch (e) {
          if (e instanceof Jump) continue;
          throw e;
        }
        if (frame.chained) break;
      }
    } catch (e) {
      if (!(e instanceof EndFrame)) throw e;
    } finally {
      this.endLocals(frame);
    }
  }

  /** The next logical line of the frame, expanded and parsed; null for a blank one. */
  private read(frame: Frame): Node | null {
    const { script } = frame;
    const start = frame.pos;
    const scope = this.scope(frame);
    const reader = new Reader(() => {
      if (frame.pos >= script.lines.length) return null;
      const i = frame.pos++;
      return { text: expandPercent(script.lines[i], scope), line: i + 1 };
    });
    try {
      reader.more();
      if (reader.buf.trim() === '') return null;
      return new Parser(reader).logical();
    } catch (e) {
      if (e instanceof ParseError) throw new Fatal(`${script.file}:${e.line}: ${e.message}`);
      if (e instanceof ExpandError) throw new Fatal(`${script.file}:${start + 1}: ${e.message}`);
      throw e;
    }
  }

  /** Phases 4 and 5 on a piece of a parsed command: the FOR variables, then !VAR! when delayed expansion is on. */
  late(text: string): string {
    let t = this.forVars.size > 0 ? forSubst(text, this.forVars, this.cwd, (n) => this.lookup(n)) : text;
    if (this.delayed) t = delayedExpand(t, (n) => this.lookup(n));
    return t;
  }

  private lateCondition(c: Condition): Condition {
    if (this.forVars.size === 0 && !this.delayed) return c;
    switch (c.kind) {
      case 'compare':
        return { ...c, left: this.late(c.left), right: this.late(c.right) };
      case 'exist':
        return { ...c, path: this.late(c.path) };
      case 'defined':
        return { ...c, name: this.late(c.name) };
      case 'errorlevel':
        return { ...c, n: this.late(c.n) };
    }
  }

  scope(frame: Frame): ExpandScope {
    return { lookup: (name) => this.lookup(name), args: frame.args, cwd: this.cwd };
  }

  /**
   * Runs `body` as cmd runs a side of a pipe or FOR /F's command: in a cmd of its own, so its
   * variables, folder, SETLOCALs, GOTOs and EXIT stay there; ERRORLEVEL starts at 0 and what it ends
   * at is the result (the child's exit code). Delayed expansion is off there unless `keepDelayed`.
   */
  async isolated(body: () => Promise<unknown>, keepDelayed: boolean): Promise<number> {
    const saved = { vars: this.vars, cwd: this.cwd, dirStack: this.dirStack, locals: this.locals, delayed: this.delayed, echo: this.echo, errorlevel: this.errorlevel };
    this.vars = this.vars.copy();
    this.dirStack = [...this.dirStack];
    this.locals = [];
    this.delayed = keepDelayed && this.delayed;
    this.echo = false;
    this.errorlevel = 0;
    let code: number;
    try {
      await body();
      code = this.errorlevel;
    } catch (e) {
      if (e instanceof ExitAll) code = e.code;
      else if (e instanceof Jump || e instanceof EndFrame) code = this.errorlevel;
      else throw e;
    } finally {
      Object.assign(this, { vars: saved.vars, cwd: saved.cwd, dirStack: saved.dirStack, locals: saved.locals, delayed: saved.delayed, echo: saved.echo });
    }
    this.errorlevel = saved.errorlevel;
    return code;
  }

  /** A variable, or one of cmd's dynamic ones when no variable of that name is set. */
  lookup(name: string): string | undefined {
    const v = this.vars.get(name);
    if (v !== undefined) return v;
    switch (name.toUpperCase()) {
      case 'ERRORLEVEL':
        return String(this.errorlevel);
      case 'CD':
        return this.cwd;
      case '__CD__':
        return this.cwd.endsWith('/') ? this.cwd : this.cwd + '/';
      case 'RANDOM':
        return String(Math.floor(Math.random() * 32768));
      case 'DATE':
        return dateText(new Date());
      case 'TIME':
        return timeText(new Date());
      case 'CMDEXTVERSION':
        return '2';
      default:
        return undefined;
    }
  }

  trace(frame: Frame, line: number, text: string): void {
    if (this.traceFd === undefined) return;
    writeFd(this.traceFd, `+ ${path.basename(frame.script.file)}:${line}: ${text}\n`);
  }

  /** Runs a node; resolves true when it succeeded (what && and || look at). */
  async exec(node: Node, frame: Frame, io: IO): Promise<boolean> {
    switch (node.kind) {
      case 'empty':
        return true;
      case 'rem':
        return true;
      case 'chain': {
        const ok = await this.exec(node.left, frame, io);
        if (node.op === '&') return this.exec(node.right, frame, io);
        if (node.op === '&&') return ok ? this.exec(node.right, frame, io) : false;
        return ok ? true : this.exec(node.right, frame, io);
      }
      case 'pipe':
        return runPipe(this, node, frame, io);
      case 'for':
        return runFor(this, node, frame, io);
      case 'block':
        return this.redirected(node.redirects, io, async (inner) => {
          let ok = true;
          for (const child of node.body) ok = await this.exec(child, frame, inner);
          return ok;
        });
      case 'if': {
        let result: boolean;
        try {
          result = evalCondition(this.lateCondition(node.cond), node.ignoreCase, {
            errorlevel: this.errorlevel,
            defined: (name) => this.vars.has(name),
            cwd: this.cwd,
          });
        } catch (e) {
          throw new Fatal(`${frame.script.file}:${node.line}: ${(e as Error).message}`);
        }
        if (node.negate) result = !result;
        const branch = result ? node.then : node.else;
        if (this.traceFd !== undefined) {
          const head = render({ ...node, cond: this.lateCondition(node.cond), then: { kind: 'empty', line: node.line, quiet: false }, else: null }).trimEnd();
          this.trace(frame, node.line, `${head} -> ${result ? 'true' : 'false'}${branch ? (result ? ': then' : ': ELSE') : ': skipped'}`);
        }
        return branch ? this.exec(branch, frame, io) : true;
      }
      case 'command':
        return this.redirected(node.redirects, io, (inner) => this.command(this.late(node.text), node.line, frame, inner));
    }
  }

  /** Opens the redirections (in order, so `>f 2>&1` sends both to f), runs `body`, closes them. */
  private async redirected(redirects: Redirect[], io: IO, body: (io: IO) => Promise<boolean>): Promise<boolean> {
    if (redirects.length === 0) return body(io);
    const cur: IO = { ...io };
    const opened: number[] = [];
    const key = (fd: number): keyof IO => (fd === 0 ? 'in' : fd === 1 ? 'out' : 'err');
    try {
      for (const r of redirects) {
        if (r.mode === 'dup') {
          cur[key(r.fd)] = cur[key(Number(r.target))];
          continue;
        }
        const target = this.late(r.target);
        if (r.fd > 2) continue; // handles 3-9: nothing here reads them
        const file = isNul(target) ? '/dev/null' : /^con:?$/i.test(target) ? (r.mode === 'read' ? '/dev/stdin' : '/dev/stdout') : resolveCase(this.cwd, target);
        let fd: number;
        try {
          fd = fs.openSync(file, r.mode === 'read' ? 'r' : r.mode === 'append' ? 'a' : 'w');
        } catch (e) {
          // cmd: the command does not run and ERRORLEVEL is left as it was.
          const code = (e as NodeJS.ErrnoException).code;
          writeFd(cur.err, code === 'ENOENT' ? (r.mode === 'read' ? 'The system cannot find the file specified.\n' : 'The system cannot find the path specified.\n') : 'Access is denied.\n');
          return false;
        }
        opened.push(fd);
        cur[key(r.fd)] = fd;
      }
      return await body(cur);
    } finally {
      for (const fd of opened) fs.closeSync(fd);
    }
  }

  private async command(text: string, line: number, frame: Frame, io: IO): Promise<boolean> {
    const s = splitCommand(text);
    if (s.name === '') return true; // only redirections: the files are created, as in cmd
    if (this.traceFd !== undefined) this.trace(frame, line, text.trim());
    if (s.builtin) return runBuiltin(this, s.builtin, s.rest, frame, io, line);
    return this.external(s.name, s.rest, frame, io, line, false);
  }

  /** A program or a batch file. With CALL a batch file runs in this interpreter, sharing its environment. */
  async external(name: string, rest: string, frame: Frame, io: IO, line: number, viaCall: boolean): Promise<boolean> {
    if (/^[a-z]:$/i.test(name)) {
      writeFd(io.err, 'The system cannot find the drive specified.\n');
      return this.exited(frame, line, 1);
    }
    const mapped = mappedProgram(name);
    if (mapped) {
      const code = await mapped({ sh: this, name, rest, args: programArgs(rest), io, frame, line });
      return this.exited(frame, line, code);
    }
    let found: Found | null;
    try {
      found = findCommand(name, this.vars.get('PATH'), this.cwd);
    } catch (e) {
      if (!(e instanceof PathNotFound)) throw e;
      const byBase = mappedProgram(name.replace(/"/g, '').replace(/^.*[\\/]/, ''));
      if (byBase) return this.exited(frame, line, await byBase({ sh: this, name, rest, args: programArgs(rest), io, frame, line }));
      writeFd(io.err, `${e.message}\n`);
      return this.exited(frame, line, 3);
    }
    if (!found) {
      // %SystemRoot%\system32\ping.exe: a Windows path to a program mapped here.
      const byBase = mappedProgram(name.replace(/"/g, '').replace(/^.*[\\/]/, ''));
      if (byBase) return this.exited(frame, line, await byBase({ sh: this, name, rest, args: programArgs(rest), io, frame, line }));
      const instead = unmappedWindowsProgram(name);
      if (instead) {
        writeFd(io.err, `${path.basename(frame.script.file)}:${line}: ${name} is a Windows program with no counterpart here: this line did not run (ERRORLEVEL 9009). Instead: ${instead} (arms migrate ${path.basename(frame.script.file)} lists every such line)\n`);
        return this.exited(frame, line, 9009);
      }
      writeFd(io.err, `'${name}' is not recognized as an internal or external command,\noperable program or batch file.\n`);
      return this.exited(frame, line, 9009);
    }
    if (found.kind === 'batch') {
      if (viaCall) return this.callBatch(found.file, name, rest, io);
      // Without CALL, cmd does not come back: the rest of this line runs, then this context ends.
      frame.chained = true;
      const code = await this.spawnWait(process.execPath, this.interpreterArgs(found.file, rest, true), io, this.cwd);
      return this.exited(frame, line, code);
    }
    if (this.dryRun && projectCommandName(found.file)) {
      // arms run --dry-run: the line is shown, nothing is sent to the service.
      writeFd(io.err, `[dry run] ${path.basename(frame.script.file)}:${line}: ${name}${rest.trimEnd()} (not sent: ERRORLEVEL 0)\n`);
      return this.exited(frame, line, 0);
    }
    const own = ownCommand(found.file);
    const code = own
      ? await runOwn(own, programArgs(rest), {
          env: this.vars.toEnv(),
          cwd: this.cwd,
          pid: process.pid,
          ppid: process.ppid,
          out: (t) => writeFd(io.out, t),
          err: (t) => writeFd(io.err, t),
        })
      : await this.spawnWait(found.file, programArgs(rest), io, this.cwd);
    return this.exited(frame, line, code);
  }

  private exited(frame: Frame, line: number, code: number): boolean {
    this.errorlevel = code;
    this.trace(frame, line, `-> ERRORLEVEL ${code}`);
    return code === 0;
  }

  /**
   * A child interpreter's command line. `sameShell`: the batch replaces this one (run without
   * CALL), so it goes on with this ECHO state; START gives it a new cmd, which starts with ECHO ON.
   */
  interpreterArgs(file: string, rest: string, sameShell = false): string[] {
    const flags = [...(this.traceFd !== undefined ? ['--trace'] : []), ...(sameShell && !this.echo ? ['--echo-off'] : [])];
    return [this.entry, ...flags, file, ...batchArgs(rest)];
  }

  /** CALL file.bat: a new context on that file, in this interpreter. */
  async callBatch(file: string, arg0: string, rest: string, io: IO): Promise<boolean> {
    const script = this.load(file);
    await this.nested(newFrame(script, arg0, batchArgs(rest), rest.replace(/^[ \t,;=]+/, '')), io);
    return this.errorlevel === 0;
  }

  private async nested(frame: Frame, io: IO): Promise<void> {
    if (this.depth >= MAX_CALL_DEPTH) throw new Fatal(`${frame.script.file}: batch recursion exceeds ${MAX_CALL_DEPTH} CALLs: stopped`);
    this.depth++;
    try {
      await this.runFrame(frame, io);
    } finally {
      this.depth--;
    }
  }

  /** CALL :label args: a new context on the same file, from the line after the label. */
  async callLabel(frame: Frame, text: string, io: IO, line: number): Promise<boolean> {
    const { first, rest } = afterFirstToken(text);
    const label = first.slice(1);
    const at = findLabel(frame.script, label, frame.pos);
    if (at === -1) {
      writeFd(io.err, `The system cannot find the batch label specified - ${label}\n`);
      this.errorlevel = 1;
      return false;
    }
    this.trace(frame, line, `-> ${path.basename(frame.script.file)}:${at + 1}`);
    const args: Args = { tokens: [first, ...batchArgs(rest)], text: rest, file: frame.script.file, shift: 0 };
    // The loop variables of a FOR that CALLs are not seen inside the label.
    const forVars = this.forVars;
    this.forVars = new Map();
    try {
      await this.nested({ script: frame.script, pos: at + 1, args, chained: false }, io);
    } finally {
      this.forVars = forVars;
    }
    return this.errorlevel === 0;
  }

  /** Runs a program to its end with these descriptors; resolves with its exit code (128 + n for signal n). */
  spawnWait(file: string, args: string[], io: IO, cwd: string): Promise<number> {
    return new Promise((resolve) => {
      const child = spawn(file, args, { cwd, env: this.vars.toEnv(), stdio: [io.in, io.out, io.err] });
      child.once('error', (e) => {
        writeFd(io.err, `${path.basename(file)}: ${e.message}\n`);
        resolve(9009);
      });
      child.once('exit', (code, signal) => resolve(code ?? 128 + (signal ? (os.constants.signals[signal] ?? 0) : 0)));
    });
  }

  /** START without /WAIT: the program runs on its own (in this script's process tree, so a timeout stops it too). */
  spawnDetached(file: string, args: string[], io: IO | null, cwd: string): void {
    const child = spawn(file, args, { cwd, env: this.vars.toEnv(), stdio: io ? [io.in, io.out, io.err] : 'ignore' });
    child.once('error', () => undefined);
    child.unref();
  }

  private endLocals(frame: Frame): void {
    for (let i = this.locals.length - 1; i >= 0; i--) {
      const l = this.locals[i];
      if (l.frame !== frame) continue;
      this.vars = l.vars;
      this.cwd = l.cwd;
      this.delayed = l.delayed;
      this.locals.splice(i, 1);
    }
  }
}

const MAX_CALL_DEPTH = 10_000;

/** Process exit codes are 0-255 here: a non-zero ERRORLEVEL must not turn into success (256 into 0). */
export function exitCodeOf(errorlevel: number): number {
  if (errorlevel >= 0 && errorlevel <= 255) return errorlevel;
  return errorlevel & 0xff || 255;
}

export function newFrame(script: Script, arg0: string, args: string[], text?: string): Frame {
  return { script, pos: 0, args: { tokens: [arg0, ...args], text: text ?? args.join(' '), file: script.file, shift: 0 }, chained: false };
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** %DATE% as a Japanese-locale Windows shows it (the product's home): 2000/01/31 */
function dateText(d: Date): string {
  return `${d.getFullYear()}/${pad(d.getMonth() + 1)}/${pad(d.getDate())}`;
}

/** %TIME% as cmd shows it: H:MM:SS.cc with a blank before a one-digit hour */
function timeText(d: Date): string {
  return `${String(d.getHours()).padStart(2, ' ')}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(Math.floor(d.getMilliseconds() / 10))}`;
}

/** A temporary file for what one side of a pipe (or FOR /F's command) writes and the other reads. */
let tempDir: string | null = null;
let tempCount = 0;
export function tempFile(): string {
  if (!tempDir) {
    tempDir = fs.mkdtempSync(path.join(os.tmpdir(), 'arms-batch-'));
    const dir = tempDir;
    process.once('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  }
  return path.join(tempDir, `pipe-${++tempCount}`);
}
