// Process trees: start a program as the head of a tree of its own, and stop the whole tree.
// POSIX: a new process group (and session); the group is signalled as one, and what escaped the
// group but stayed in the session is found by the session (stopSessions). Windows: through the
// native host (win-process.ts): Ctrl+Break and WM_CLOSE, then the tree from the process table ended.
import { ChildProcess, spawn, SpawnOptions } from 'node:child_process';
import * as fs from 'node:fs';
import { isSameProcess, ProcessIdentity } from './process';

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
 * Resolves once a program from spawnProgram (or spawnCommandLine with `tree`) really runs; rejects
 * with why it does not (node's spawn error, or on Windows what the native host said: the logon
 * of /U refused, CreateProcess failed).
 */
export function programStarted(child: ChildProcess): Promise<void> {
  if (process.platform === 'win32') return (require('./win-process') as typeof import('./win-process')).hostStarted(child);
  return new Promise((resolve, reject) => {
    child.once('spawn', () => resolve());
    child.once('error', (e) => {
      if (child.pid === undefined) reject(e);
    });
  });
}

/**
 * Sends a polite stop (SIGTERM) or a forced one (SIGKILL) to the tree headed by pid. Returns false
 * when a polite stop could reach nothing (Windows: no console group and no window to tell).
 */
export async function signalTree(pid: number, force: boolean): Promise<boolean> {
  if (process.platform === 'win32') {
    const win = require('./win-process') as typeof import('./win-process');
    if (!force) return win.breakTree(pid);
    await win.killTree(pid);
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
  const told = await signalTree(pid, false);
  const deadline = told ? Date.now() + graceMs : 0;
  while (treeAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
  if (!treeAlive(pid)) return;
  await signalTree(pid, true);
  const hard = Date.now() + 2000;
  while (treeAlive(pid) && Date.now() < hard) await new Promise((r) => setTimeout(r, 25));
}

/** The leaders of the runs of one watched program, and the marks its processes carry. */
export interface RunSessions {
  leaders: ProcessIdentity[];
  marks: string[];
}

/**
 * Ends what the runs of watched programs left behind: on Linux, every process in the process
 * group or session one of the leaders created, including children of earlier runs and those left
 * after the main process ended (daemon style). A member counts only while it can be proved to be
 * ours: it carries all of its watch's marks in its environment, or its leader is still the same
 * process. Polite first, forced after graceMs; one pass over /proc for all of them at a time.
 * Elsewhere: the tree of each leader still alive. Resolves with how many processes it signalled.
 */
export async function stopSessions(sets: RunSessions[], graceMs: number): Promise<number> {
  // Only runs whose process group still has a member are looked for (one syscall each): a pass
  // over /proc is for when something was left. (A member that moved to a group of its own inside
  // the session, job-control style, is found only with one that stayed.)
  sets = sets.map((s) => ({ ...s, leaders: s.leaders.filter(groupLeft) })).filter((s) => s.leaders.length > 0);
  if (sets.length === 0) return 0;
  if (process.platform !== 'linux') {
    const live = sets.flatMap((s) => s.leaders).filter((l) => isSameProcess(l));
    await Promise.all(live.map((l) => stopTree(l.pid, graceMs)));
    return live.length;
  }
  const members = () => sessionMembers(sets);
  const first = members();
  if (first.length === 0) return 0;
  const signal = (pids: number[], sig: NodeJS.Signals) => {
    for (const pid of pids) {
      try {
        process.kill(pid, sig);
      } catch {
        /* gone */
      }
    }
  };
  signal(first, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  let left = members();
  while (left.length > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    left = members();
  }
  if (left.length > 0) {
    signal(left, 'SIGKILL');
    const hard = Date.now() + 2000;
    while (members().length > 0 && Date.now() < hard) await new Promise((r) => setTimeout(r, 50));
  }
  return first.length;
}

/** True while the process group a leader created still has a member (one syscall; cheap). */
export function groupLeft(leader: ProcessIdentity): boolean {
  return process.platform === 'win32' ? isSameProcess(leader) : treeAlive(leader.pid);
}

/** Linux: the live processes in the groups or sessions of the leaders that are provably ours (see stopSessions). */
export function sessionMembers(sets: RunSessions[]): number[] {
  if (process.platform !== 'linux') return [];
  const byId = new Map<number, { leader: ProcessIdentity; marks: string[] }>();
  for (const s of sets) for (const l of s.leaders) byId.set(l.pid, { leader: l, marks: s.marks });
  const leaderAlive = new Map<number, boolean>();
  const out: number[] = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const pid = Number(d);
    if (pid === process.pid) continue;
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (f[0] === 'Z' || f[0] === 'X') continue;
      const run = byId.get(Number(f[2])) ?? byId.get(Number(f[3]));
      if (!run) continue;
      let ours = leaderAlive.get(run.leader.pid);
      if (ours === undefined) leaderAlive.set(run.leader.pid, (ours = isSameProcess(run.leader)));
      if (!ours) {
        const env = fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
        if (!run.marks.every((m) => env.includes(m))) continue;
      }
      out.push(pid);
    } catch {
      /* gone, or not ours to read */
    }
  }
  return out;
}
