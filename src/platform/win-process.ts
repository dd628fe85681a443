// Windows: processes as Windows handles them, through the native host (bin/win/arms-host.exe, built
// from win-host.c). A watched program (and a config command line the service supervises) starts as
// the head of a process group of its own (CREATE_NEW_PROCESS_GROUP) in a job object, so that the
// polite stop is a Ctrl+Break to exactly its group, a windowed program gets WM_CLOSE, and the forced
// stop ends the whole tree. Node cannot ask for a process group without DETACHED_PROCESS, which takes
// the console away, and a console program without a console cannot be told to stop politely.
import { ChildProcess, spawn, SpawnOptions, spawnSync } from 'node:child_process';
import * as path from 'node:path';
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
 * as another account when `asUser` names one with its sealed credentials (win-accounts.ts).
 */
export function spawnInGroup(what: { line: string } | { file: string; args: string[] }, opts: SpawnOptions, asUser?: { name: string; credentials: string }): ChildProcess {
  const commandLine = 'line' in what ? shellCommandLine(what.line, opts.env) : programCommandLine(what.file, what.args, { cwd: opts.cwd as string | undefined, env: opts.env });
  // The host takes the rest of its own command line as the program's, untouched.
  const verb = asUser ? ['run-as', quoteArg(asUser.name), quoteArg(asUser.credentials)] : ['run'];
  return spawn(HOST, [...verb, commandLine], { ...opts, argv0: quoteArg(HOST), windowsVerbatimArguments: true, windowsHide: true, detached: false });
}

/**
 * The polite stop of the tree headed by pid: Ctrl+Break to the group of what a host started, and
 * WM_CLOSE to the tree's windows. False when nothing could be told (then only the forced stop helps).
 */
export function breakTree(pid: number): boolean {
  return spawnSync(HOST, ['break', String(pid)], { stdio: 'ignore', windowsHide: true, timeout: 10_000 }).status === 0;
}

/** The forced stop: TerminateProcess on pid and everything below it in the process table. */
export function killTree(pid: number): void {
  const r = spawnSync(HOST, ['kill', String(pid)], { stdio: 'ignore', windowsHide: true, timeout: 10_000 });
  // Without the host (a damaged install): the head at least, so that its end is seen.
  if (r.status !== 0 && r.status !== 4) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
}
