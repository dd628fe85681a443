// Process trees: start a program as the head of a tree of its own, and stop the whole tree.
// POSIX: a new process group (and session); the group is signalled as one. Windows: through the
// native host (win-process.ts): Ctrl+Break and WM_CLOSE, then the tree from the process table ended.
import { ChildProcess, spawn, SpawnOptions } from 'node:child_process';

/** Spawns `file args` so that everything it starts can later be stopped with it. */
export function spawnTree(file: string, args: string[], opts: SpawnOptions & { verbatim?: boolean }): ChildProcess {
  return spawn(file, args, {
    ...opts,
    // POSIX: detached = setsid, a new process group we can signal as one. Windows: detached would
    // take the console away; the tree is found in the process table by the native host instead.
    detached: process.platform !== 'win32',
    windowsHide: true,
    windowsVerbatimArguments: opts.verbatim,
  });
}

/**
 * Spawns a watched program in a tree of its own, found on `opts.env`'s PATH and relative to
 * `opts.cwd` as the caller's shell would (Windows: PATHEXT too, and a group of its own under the
 * native host: win-process.ts).
 */
export function spawnProgram(file: string, args: string[], opts: SpawnOptions, asUser?: { name: string; credentials: string }): ChildProcess {
  if (process.platform === 'win32') return (require('./win-process') as typeof import('./win-process')).spawnInGroup({ file, args }, opts, asUser);
  return spawn(file, args, { ...opts, detached: true });
}

/**
 * Sends a polite stop (SIGTERM) or a forced one (SIGKILL) to the tree headed by pid. Returns false
 * when a polite stop could reach nothing (Windows: no console group and no window to tell).
 */
export function signalTree(pid: number, force: boolean): boolean {
  if (process.platform === 'win32') {
    const win = require('./win-process') as typeof import('./win-process');
    if (!force) return win.breakTree(pid);
    win.killTree(pid);
    return true;
  }
  try {
    process.kill(-pid, force ? 'SIGKILL' : 'SIGTERM');
  } catch {
    /* the group is already gone */
  }
  return true;
}

/** True while any process of the POSIX process group `pgid` is alive. */
export function treeAlive(pgid: number): boolean {
  if (process.platform === 'win32') {
    try {
      process.kill(pgid, 0);
      return true;
    } catch {
      return false;
    }
  }
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Polite stop, then forced after `graceMs`; resolves when the tree is gone (or `graceMs` after the force). */
export async function stopTree(pid: number, graceMs: number): Promise<void> {
  const told = signalTree(pid, false);
  const deadline = told ? Date.now() + graceMs : 0;
  while (treeAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
  if (!treeAlive(pid)) return;
  signalTree(pid, true);
  const hard = Date.now() + 2000;
  while (treeAlive(pid) && Date.now() < hard) await new Promise((r) => setTimeout(r, 25));
}
