// Windows: processes as Windows handles them, through the native host (bin/win/arms-host.exe, built
// from win-host.c). A watched program (and a config command line the service supervises) starts as
// the head of a process group of its own (CREATE_NEW_PROCESS_GROUP) in a job object, so that the
// polite stop is a Ctrl+Break to exactly its group, a windowed program gets WM_CLOSE, and the forced
// stop ends the whole tree. Node cannot ask for a process group without DETACHED_PROCESS, which takes
// the console away, and a console program without a console cannot be told to stop politely.
import { ChildProcess, spawn, SpawnOptions } from 'node:child_process';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { PACKAGE_ROOT } from './shims';

export const HOST = path.join(PACKAGE_ROOT, 'bin', 'win', 'arms-host.exe');

/** An argument quoted by the rules of the C runtime's command-line parser (CommandLineToArgvW). */
export function quoteArg(a: string): string {
  if (a !== '' && !/[\s"]/.test(a)) return a;
  let out = '"';
  let backslashes = 0;
  for (const ch of a) {
    if (ch === '\\') {
      backslashes++;
      continue;
    }
    // Backslashes before a quote are doubled, and the quote escaped; elsewhere they are literal.
    out += '\\'.repeat(ch === '"' ? backslashes * 2 + 1 : backslashes) + ch;
    backslashes = 0;
  }
  return `${out}${'\\'.repeat(backslashes * 2)}"`;
}

export class ProgramNotFound extends Error {
  code = 'ENOENT';
}

/**
 * The Windows command line for a program and its arguments, found as cmd.exe would find it: the
 * working folder first, then PATH, with PATHEXT (cross-spawn's lookup); a .bat/.cmd through cmd.exe
 * with cross-spawn's escaping. A program found nowhere throws ProgramNotFound: started through cmd
 * it would "start" and end with 9009 instead.
 */
export function programCommandLine(file: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv }): string {
  const crossSpawn = require('cross-spawn') as { _parse(command: string, args: string[], options: object): { command: string; args: string[]; file?: string; options: { windowsVerbatimArguments?: boolean } } };
  const parsed = crossSpawn._parse(file, args, { cwd: opts.cwd, env: opts.env });
  if (!parsed.file) throw new ProgramNotFound(`"${file}": not found`);
  const head = quoteArg(parsed.command);
  if (parsed.options.windowsVerbatimArguments) return [head, ...parsed.args].join(' ');
  return [head, ...parsed.args.map(quoteArg)].join(' ');
}

/** A config command line through cmd.exe, exactly as written (what Node's `shell` option builds). */
export function shellCommandLine(line: string, env: NodeJS.ProcessEnv = process.env): string {
  return `${quoteArg(env.ComSpec || process.env.ComSpec || 'cmd.exe')} /d /s /c "${line}"`;
}

/**
 * Starts a program or a command line as the head of a process group of its own, under the host;
 * as another account when `asUser` names one with its sealed credentials (win-accounts.ts). With
 * stdio given as a list, the host gets one more pipe (fd 3) on which it says whether the program
 * started: see hostStarted.
 */
export function spawnInGroup(what: { line: string } | { file: string; args: string[] }, opts: SpawnOptions, asUser?: { name: string; credentials: string }): ChildProcess {
  const commandLine = 'line' in what ? shellCommandLine(what.line, opts.env) : programCommandLine(what.file, what.args, { cwd: opts.cwd as string | undefined, env: opts.env });
  // The host takes the rest of its own command line as the program's, untouched.
  const verb = asUser ? ['run-as', quoteArg(asUser.name), quoteArg(asUser.credentials)] : ['run'];
  const stdio = Array.isArray(opts.stdio) ? [...opts.stdio.slice(0, 3), 'pipe'] : opts.stdio;
  return spawn(HOST, [...verb, commandLine], { ...opts, stdio: stdio as SpawnOptions['stdio'], argv0: quoteArg(HOST), windowsVerbatimArguments: true, windowsHide: true, detached: false });
}

/**
 * Resolves once the host has really started the program (for another account: after the logon and
 * CreateProcessAsUser), as it says on its fd 3 ("started PID"); rejects with the host's reason
 * ("failed WHY", e.g. the logon with the stored credentials refused), or when the host ended
 * without saying. A host spawned without that pipe: resolves once it is spawned.
 */
export function hostStarted(child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const done = (e?: Error) => {
      if (settled) return;
      settled = true;
      if (e) reject(e);
      else resolve();
    };
    child.once('error', (e) => {
      if (child.pid === undefined) done(e);
    });
    const report = child.stdio[3] as Readable | null | undefined;
    if (!report) {
      child.once('spawn', () => done());
      return;
    }
    let text = '';
    report.setEncoding('utf8');
    report.on('data', (d: string) => {
      text += d;
      const nl = text.indexOf('\n');
      if (nl < 0) return;
      const line = text.slice(0, nl).trim();
      report.destroy();
      if (/^started \d+$/.test(line)) done();
      else done(new Error(line.replace(/^failed /, '') || 'the native host said nothing'));
    });
    report.on('error', () => {});
    // The pipe ends when the host ends (or closes it after its line): decided by the line, never by
    // which of the host's end and its line node sees first.
    report.once('close', () => done(new Error(`the native host (${HOST}) ended before it started the program${child.exitCode !== null ? ` (exit code ${child.exitCode})` : ''}`)));
  });
}

/**
 * One resident host per armsd (`arms-host serve`) does the polite and the forced stops, so that a
 * stop starts no process (under Wine each start of a Windows process costs the better part of a
 * second) and armsd's event loop never waits on one. Started at the first stop, restarted after
 * its end; it ends when armsd does (its stdin closes).
 */
interface Resident {
  child: ChildProcess;
  waiting: Map<number, (code: number) => void>;
  nextId: number;
}
let resident: Resident | null = null;

function residentHost(): Resident {
  if (resident) return resident;
  const child = spawn(HOST, ['serve'], { stdio: ['pipe', 'pipe', 'ignore'], windowsHide: true });
  const r: Resident = { child, waiting: new Map(), nextId: 1 };
  let buf = '';
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (d: string) => {
    buf += d;
    for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
      const [id, code] = buf.slice(0, nl).trim().split(' ').map(Number);
      buf = buf.slice(nl + 1);
      const waiter = r.waiting.get(id);
      r.waiting.delete(id);
      waiter?.(code);
    }
  });
  const gone = () => {
    if (resident === r) resident = null;
    for (const waiter of r.waiting.values()) waiter(-1);
    r.waiting.clear();
  };
  child.on('error', gone);
  child.on('exit', gone);
  child.stdin!.on('error', () => {});
  child.stdout!.on('error', () => {});
  // armsd's own end is not held up by its helper.
  child.unref();
  (child.stdin as unknown as { unref?(): void }).unref?.();
  (child.stdout as unknown as { unref?(): void }).unref?.();
  resident = r;
  return r;
}

/** The resident host's answer to one request: its code, or -1 when it could not answer (in 10 s). */
function ask(verb: 'break' | 'kill', pid: number): Promise<number> {
  const r = residentHost();
  const id = r.nextId++;
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      r.waiting.delete(id);
      resolve(-1);
    }, 10_000);
    timer.unref();
    r.waiting.set(id, (code) => {
      clearTimeout(timer);
      resolve(code);
    });
    r.child.stdin!.write(`${id} ${verb} ${pid}\n`);
  });
}

/**
 * The polite stop of the tree headed by pid: Ctrl+Break to the group of what a host started, and
 * WM_CLOSE to the tree's windows. False when nothing could be told (then only the forced stop helps).
 */
export async function breakTree(pid: number): Promise<boolean> {
  return (await ask('break', pid)) === 0;
}

/** The forced stop: TerminateProcess on pid and everything below it in the process table. */
export async function killTree(pid: number): Promise<void> {
  const code = await ask('kill', pid);
  // Without an answering host (a damaged install): the head at least, so that its end is seen.
  if (code !== 0 && code !== 4) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
}
