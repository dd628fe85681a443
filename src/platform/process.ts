// Telling one process from another that later got the same PID.
import * as fs from 'node:fs';

export interface ProcessIdentity {
  pid: number;
  /** Linux: clock ticks since boot (field 22 of /proc/PID/stat); elsewhere null */
  start: number | null;
  /** Linux: the kernel's boot id; elsewhere null */
  boot: string | null;
}

export function identify(pid: number): ProcessIdentity | null {
  if (!isAlive(pid)) return null;
  return { pid, start: startTicks(pid), boot: bootId() };
}

/** The identity of a process whose start time is already known (the native spawner reads it). */
export function identityOf(pid: number, start: number | null): ProcessIdentity {
  return { pid, start, boot: process.platform === 'linux' ? bootId() : null };
}

/** True when `id` still names the same living process (PID reuse is caught on Linux). */
export function isSameProcess(id: ProcessIdentity): boolean {
  if (!isAlive(id.pid)) return false;
  if (process.platform !== 'linux') return true;
  const stat = procStat(id.pid);
  return stat !== null && stat.state !== 'Z' && stat.state !== 'X' && stat.start === id.start && bootId() === id.boot;
}

export function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it exists but belongs to someone else.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function startTicks(pid: number): number | null {
  if (process.platform !== 'linux') return null;
  return procStat(pid)?.start ?? null;
}

/**
 * Linux: the state (field 3: a zombie is 'Z', dead but not yet reaped, e.g. an orphan whose new
 * parent is slow to reap) and start time (field 22) of a process.
 */
function procStat(pid: number): { state: string; start: number } | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // comm (field 2) may hold spaces and parentheses: count fields after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0], start: Number(fields[19]) };
  } catch {
    return null;
  }
}

let boot: string | null | undefined;
function bootId(): string | null {
  if (boot === undefined) {
    try {
      boot = fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    } catch {
      boot = null;
    }
  }
  return boot;
}

/**
 * Linux: the process-group leaders whose environment `match` accepts, with their environment and
 * command line. Elsewhere: none.
 */
export function groupLeaders(match: (env: string[]) => boolean): Array<{ identity: ProcessIdentity; env: string[]; cmdline: string }> {
  if (process.platform !== 'linux') return [];
  const found: Array<{ identity: ProcessIdentity; env: string[]; cmdline: string }> = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const pid = Number(d);
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // fields[2] is the process group: a watched program leads its own.
      if (fields[0] === 'Z' || Number(fields[2]) !== pid) continue;
      const env = fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
      if (!match(env)) continue;
      const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
      found.push({ identity: { pid, start: Number(fields[19]), boot: bootId() }, env, cmdline });
    } catch {
      /* gone, or not ours to read */
    }
  }
  return found;
}
