// Process trees: start a program as the head of a tree of its own, and stop the whole tree.
// POSIX: a new process group (and session); the group is signalled as one. Windows: taskkill /T.
import { ChildProcess, spawn, SpawnOptions, spawnSync } from 'node:child_process';
import * as path from 'node:path';

/** Spawns `file args` so that everything it starts can later be stopped with it. */
export function spawnTree(file: string, args: string[], opts: SpawnOptions & { verbatim?: boolean }): ChildProcess {
  return spawn(file, args, {
    ...opts,
    // POSIX: detached = setsid, a new process group we can signal as one. Windows: detached would
    // open a console window; the tree is found through parent links by taskkill instead.
    detached: process.platform !== 'win32',
    windowsHide: true,
    windowsVerbatimArguments: opts.verbatim,
  });
}

/**
 * Spawns a watched program in a tree of its own, found on `opts.env`'s PATH and relative to
 * `opts.cwd` as the caller's shell would (Windows: PATHEXT too, through cross-spawn).
 */
export function spawnProgram(file: string, args: string[], opts: SpawnOptions): ChildProcess {
  if (process.platform === 'win32') {
    const crossSpawn = require('cross-spawn') as typeof import('cross-spawn');
    return crossSpawn(file, args, { ...opts, windowsHide: true });
  }
  return spawn(file, args, { ...opts, detached: true });
}

/** Sends a polite stop (SIGTERM) or a forced one (SIGKILL) to the tree headed by pid. */
export function signalTree(pid: number, force: boolean): void {
  if (process.platform === 'win32') {
    const taskkill = path.join(process.env.SystemRoot || 'C:\\Windows', 'System32', 'taskkill.exe');
    const r = spawnSync(taskkill, ['/PID', String(pid), '/T', ...(force ? ['/F'] : [])], { stdio: 'ignore', windowsHide: true });
    // 0: done; 128: no such process. Anything else when forcing (no taskkill.exe, access denied, or a
    // taskkill without /T such as Wine's): end the head at least, so the script's end is seen.
    if (force && r.status !== 0 && r.status !== 128) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
    return;
  }
  try {
    process.kill(-pid, force ? 'SIGKILL' : 'SIGTERM');
  } catch {
    /* the group is already gone */
  }
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
  signalTree(pid, false);
  const deadline = Date.now() + graceMs;
  while (treeAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
  if (!treeAlive(pid)) return;
  signalTree(pid, true);
  const hard = Date.now() + 2000;
  while (treeAlive(pid) && Date.now() < hard) await new Promise((r) => setTimeout(r, 25));
}
