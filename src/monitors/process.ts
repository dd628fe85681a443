// Process monitors the service runs (config `monitors:`): how many processes match a name or a
// command line, and what one watched process uses (CPU, memory, threads, open files) against
// thresholds held over a window. Linux reads /proc (asynchronously: the service's event loop never
// waits for it); elsewhere `ps` gives names, command lines, CPU and memory, not threads or files.
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Check, Outcome } from './loop';

export interface ProcessInfo {
  pid: number;
  /** the short name: /proc/PID/comm, or the program's base name */
  name: string;
  /** the command line, arguments joined by spaces */
  cmdline: string;
}

/** Clock ticks per second of /proc/PID/stat: 100 on every Linux architecture that matters (USER_HZ). */
const TICKS = 100;

/**
 * Every process: its name from /proc/PID/stat (never blocks: it takes no lock of the process), its
 * command line only when `withCmdline` (reading /proc/PID/cmdline takes the process's memory lock,
 * which a process stuck in the kernel may hold: read asynchronously, off the event loop).
 */
export async function listProcesses(withCmdline = true): Promise<ProcessInfo[]> {
  if (process.platform !== 'linux') return listWithPs();
  const out: ProcessInfo[] = [];
  for (const d of fs.readdirSync('/proc')) {
    if (d.charCodeAt(0) > 57 || d.charCodeAt(0) < 48) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'latin1');
      out.push({ pid: Number(d), name: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')), cmdline: '' });
    } catch {
      /* it ended meanwhile */
    }
  }
  if (withCmdline) {
    await Promise.all(
      out.map(async (p) => {
        try {
          const cmd = await fs.promises.readFile(`/proc/${p.pid}/cmdline`, 'utf8');
          p.cmdline = cmd.split('\0').join(' ').trim();
        } catch {
          /* ended */
        }
      }),
    );
  }
  return out;
}

function listWithPs(): Promise<ProcessInfo[]> {
  return new Promise((resolve, reject) => {
    execFile('ps', ['-A', '-o', 'pid=', '-o', 'comm=', '-o', 'args='], { maxBuffer: 64 * 1024 * 1024 }, (err, stdout) => {
      if (err) return reject(new Error(`ps failed: ${err.message}`));
      resolve(
        stdout
          .split('\n')
          .map((l) => /^\s*(\d+)\s+(\S+)\s*(.*)$/.exec(l))
          .filter((m): m is RegExpExecArray => m !== null)
          .map((m) => ({ pid: Number(m[1]), name: path.basename(m[2]), cmdline: m[3] })),
      );
    });
  });
}

export interface ProcessCountSpec {
  name?: string;
  commandLine?: string;
  min: number;
  max: number;
}

export function describeProcessSpec(s: ProcessCountSpec): string {
  const what = [s.name !== undefined ? `name ${s.name}` : '', s.commandLine !== undefined ? `command line /${s.commandLine}/` : ''].filter(Boolean).join(' and ');
  return `${what} (${s.max >= 1_000_000 ? `at least ${s.min}` : s.min === s.max ? `exactly ${s.min}` : `${s.min} to ${s.max}`})`;
}

/** Matching processes are counted (the service itself never); N to M of them is healthy. */
export function processCountCheck(s: ProcessCountSpec, list: (withCmdline: boolean) => Promise<ProcessInfo[]> = listProcesses): Check {
  const re = s.commandLine === undefined ? null : new RegExp(s.commandLine);
  return {
    kind: 'process',
    resource: describeProcessSpec(s),
    async run(): Promise<Outcome> {
      // The kernel's name is at most 15 characters: a longer name is also compared with the
      // program's base name from the command line.
      const all = await list(re !== null || (s.name !== undefined && s.name.length >= 15));
      const found = all.filter(
        (p) => p.pid !== process.pid && (s.name === undefined || p.name === s.name || path.basename(p.cmdline.split(' ')[0] ?? '') === s.name) && (re === null || re.test(p.cmdline)),
      );
      const n = found.length;
      const pids = found.slice(0, 5).map((p) => p.pid).join(', ') + (n > 5 ? ', …' : '');
      if (n < s.min) return { ok: false, detail: `${n} running, at least ${s.min} expected${n ? ` (pid ${pids})` : ''}` };
      if (n > s.max) return { ok: false, detail: `${n} running, at most ${s.max} expected (pid ${pids})` };
      return { ok: true, detail: `${n} running${n ? ` (pid ${pids})` : ''}` };
    },
  };
}

export interface Usage {
  /** CPU seconds used so far (user + system) */
  cpuSeconds: number;
  rssBytes: number;
  threads: number | null;
  files: number | null;
}

/** Bytes in a page of /proc/PID/stat's rss: 4096 on the architectures Node runs on (arm64 with 64K pages aside). */
const PAGE = 4096;

/**
 * One sample of a process's use; rejects when it is gone. Linux: /proc/PID/stat (CPU, RSS,
 * threads) and, when wanted, the entries of /proc/PID/fd, read synchronously: procfs answers from
 * memory and neither takes the process's memory lock, so a read is microseconds and cannot hang.
 * The stat file stays open between samples (one pread instead of open, read, close: a thousand
 * monitors sample a hundred times a second); once its process has ended, the open file only fails,
 * even if the PID is reused, so a sample never measures a stranger.
 */
export class UsageSampler {
  private fd: number | null = null;
  private pid = 0;
  private buf = Buffer.alloc(1024);

  sample(pid: number, files: boolean): Usage {
    if (this.fd !== null && this.pid !== pid) this.close();
    if (this.fd === null) {
      this.fd = fs.openSync(`/proc/${pid}/stat`, 'r');
      this.pid = pid;
    }
    let stat: string;
    try {
      const n = fs.readSync(this.fd, this.buf, 0, this.buf.length, 0);
      stat = this.buf.toString('latin1', 0, n);
    } catch (e) {
      this.close();
      throw e;
    }
    // The name (field 2) may hold spaces and parentheses: fields are counted after its last ")".
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    let count: number | null = null;
    if (files) {
      try {
        // Linux 6.2 and later give the count of open files as the folder's size; before, it is 0.
        const size = fs.statSync(`/proc/${pid}/fd`).size;
        count = size > 0 ? size : fs.readdirSync(`/proc/${pid}/fd`).length;
      } catch {
        /* another user's process, without the right to look */
      }
    }
    return { cpuSeconds: (Number(f[11]) + Number(f[12])) / TICKS, rssBytes: Number(f[21]) * PAGE, threads: Number(f[17]), files: count };
  }

  close(): void {
    if (this.fd !== null) {
      try {
        fs.closeSync(this.fd);
      } catch {
        /* closed */
      }
    }
    this.fd = null;
  }
}

/** One sample, without keeping anything open (elsewhere than Linux: ps). */
export async function sampleUsage(pid: number): Promise<Usage> {
  if (process.platform !== 'linux') return samplePs(pid);
  const s = new UsageSampler();
  try {
    return s.sample(pid, true);
  } finally {
    s.close();
  }
}

function samplePs(pid: number): Promise<Usage> {
  return new Promise((resolve, reject) => {
    execFile('ps', ['-o', 'time=', '-o', 'rss=', '-p', String(pid)], (err, stdout) => {
      const m = /^\s*(?:(\d+)-)?(?:(\d+):)?(\d+):(\d+(?:\.\d+)?)\s+(\d+)/.exec(stdout);
      if (err || !m) return reject(new Error(`process ${pid} is not running`));
      const cpuSeconds = Number(m[1] ?? 0) * 86400 + Number(m[2] ?? 0) * 3600 + Number(m[3]) * 60 + Number(m[4]);
      resolve({ cpuSeconds, rssBytes: Number(m[5]) * 1024, threads: null, files: null });
    });
  });
}

export interface UsageSpec {
  cpu?: number;
  memory?: number;
  threads?: number;
  files?: number;
  /** seconds a value must stay over its threshold before the check fails; 0: at once */
  window: number;
}

type Metric = 'cpu' | 'memory' | 'threads' | 'files';

const show: Record<Metric, (v: number) => string> = {
  cpu: (v) => `${v.toFixed(1)}%`,
  memory: (v) => (v >= 1024 ** 3 ? `${(v / 1024 ** 3).toFixed(2)} GB` : `${(v / 1024 ** 2).toFixed(1)} MB`),
  threads: (v) => String(v),
  files: (v) => String(v),
};

/**
 * The use of the process `pid()` names (a watch's program) against thresholds: a check fails once
 * a value has been over its threshold at every sample for `window` seconds. CPU is the share of one
 * CPU between two samples (200% = two CPUs busy). A watch whose program is not running is no failure
 * of this monitor (the watch's own policy handles the end).
 */
export function usageCheck(watch: string, s: UsageSpec, pid: () => number | null, sample?: (pid: number) => Promise<Usage>, now: () => number = Date.now): Check {
  const sampler = process.platform === 'linux' && !sample ? new UsageSampler() : null;
  const take = sample ?? (sampler ? async (p: number) => sampler.sample(p, s.files !== undefined) : samplePs);
  let last: { pid: number; at: number; cpuSeconds: number } | null = null;
  const overSince: Partial<Record<Metric, number>> = {};
  const limits = (['cpu', 'memory', 'threads', 'files'] as Metric[]).filter((m) => s[m] !== undefined);
  return {
    kind: 'usage',
    resource: `watch ${watch}: ${limits.map((m) => `${m} > ${show[m](s[m]!)}`).join(', ')}${s.window ? ` for ${s.window} s` : ''}`,
    close: () => sampler?.close(),
    async run(): Promise<Outcome> {
      const p = pid();
      if (p === null) {
        last = null;
        return { ok: true, detail: `watch ${watch} has no running program: nothing to measure` };
      }
      let u: Usage;
      try {
        u = await take(p);
      } catch {
        last = null;
        return { ok: true, detail: `pid ${p} of watch ${watch} ended: nothing to measure` };
      }
      const t = now();
      const values: Partial<Record<Metric, number | null>> = { memory: u.rssBytes, threads: u.threads, files: u.files };
      if (last && last.pid === p && t > last.at) values.cpu = Math.max(0, ((u.cpuSeconds - last.cpuSeconds) / ((t - last.at) / 1000)) * 100);
      last = { pid: p, at: t, cpuSeconds: u.cpuSeconds };
      const over: string[] = [];
      const seen: string[] = [];
      for (const m of limits) {
        const v = values[m];
        if (v === undefined || v === null) {
          delete overSince[m];
          continue;
        }
        seen.push(`${m} ${show[m](v)}`);
        if (v > s[m]!) {
          overSince[m] ??= t;
          const held = (t - overSince[m]!) / 1000;
          if (held >= s.window) over.push(`${m} ${show[m](v)} over ${show[m](s[m]!)}${s.window ? ` for ${Number(held.toFixed(1))} s` : ''}`);
        } else delete overSince[m];
      }
      if (over.length > 0) return { ok: false, detail: `pid ${p}: ${over.join('; ')}` };
      return { ok: true, detail: `pid ${p}: ${seen.join(', ') || 'measuring'}` };
    },
  };
}
