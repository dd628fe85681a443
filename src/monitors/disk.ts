// Disk check: write, fsync, read back and delete a small probe file in the folder (optionally: free
// space at or above a threshold). The I/O runs in a helper process: a call on a hung disk blocks a
// thread for good, and a process with such a thread cannot even exit. The helper is native
// (disk-probe.c, built by `npm run build` when a C compiler is present: ~1 MB where a second node
// process costs ~50 MB RSS), else node (disk-prober.ts: Windows, machines without a compiler). A
// probe that does not answer within the timeout has failed, and the disk counts as hung (each later
// check fails at once) until that probe finally answers. When too many probes hang, the helper is
// abandoned (killed; the kernel frees it once its I/O returns) and a fresh one takes over.
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Check, Outcome, seconds } from './loop';

/** How to start a helper; both speak the line protocol described in disk-probe.c. */
export interface DiskHelper {
  command: string;
  args: string[];
}

export const nativeHelper = (file = path.join(__dirname, 'disk-probe')): DiskHelper => ({ command: file, args: [] });
export const nodeHelper = (script = path.join(__dirname, 'disk-prober.js')): DiskHelper => ({ command: process.execPath, args: [script] });

/** The native helper where it was built next to this file, else the node one. */
export function defaultHelper(): DiskHelper {
  const native = nativeHelper();
  return process.platform !== 'win32' && fs.existsSync(native.command) ? native : nodeHelper();
}

/** Thread pool of the node helper: this many disks can hang before the others must wait (the
 * native one has a thread per probe; the same limit keeps its hung threads few). */
const POOL = 32;

interface Pending {
  dir: string;
  resolve(o: Outcome): void;
  timer: NodeJS.Timeout | null;
}

export class DiskProber {
  private child: ChildProcess | null = null;
  private buf = '';
  private nextId = 1;
  private pending = new Map<number, Pending>();
  /** folders whose last probe passed its timeout without an answer: since when */
  private hung = new Map<string, number>();
  private closed = false;

  constructor(private helper: DiskHelper = defaultHelper()) {}

  probe(dir: string, name: string, timeoutMs: number, minFree?: number): Promise<Outcome> {
    if (this.closed) return Promise.resolve({ ok: false, detail: 'the disk monitor is stopping' });
    // The protocol is one request per line, fields split by NUL.
    if (/[\n\0]/.test(dir + name)) {
      return Promise.resolve({ ok: false, detail: `the folder ${JSON.stringify(dir)} has a line break or NUL in its path: the disk monitor cannot check it` });
    }
    const since = this.hung.get(dir);
    if (since !== undefined) {
      return Promise.resolve({ ok: false, detail: `hung: the probe started ${seconds(Date.now() - since)} ago has not finished` });
    }
    // Too many hung probes fill the helper's thread pool: start over with a fresh helper.
    if (this.hung.size >= POOL - 2) this.abandon('too many hung probes');
    const child = this.ensureChild();
    if (typeof child === 'string') return Promise.resolve({ ok: false, detail: child });
    const id = this.nextId++;
    const started = Date.now();
    return new Promise<Outcome>((resolve) => {
      const p: Pending = { dir, resolve, timer: null };
      p.timer = setTimeout(() => {
        p.timer = null;
        // The request stays pending: its late answer tells us the disk is back.
        this.hung.set(dir, started);
        resolve({ ok: false, detail: `no answer within ${seconds(timeoutMs)}: write, fsync, read back or delete of the probe file hung` });
      }, timeoutMs);
      this.pending.set(id, p);
      child.stdin!.write(`${id}\0${minFree ?? ''}\0${dir}\0${path.join(dir, name)}\n`);
    });
  }

  /** Kills the helper; its pending probes fail. */
  close(): void {
    this.closed = true;
    this.abandon('the disk monitor stopped');
  }

  private ensureChild(): ChildProcess | string {
    if (this.child) return this.child;
    let child: ChildProcess;
    try {
      child = spawn(this.helper.command, this.helper.args, {
        stdio: ['pipe', 'pipe', 'ignore'],
        env: { ...process.env, UV_THREADPOOL_SIZE: String(POOL) },
        windowsHide: true,
      });
    } catch (e) {
      return `cannot start the disk probe helper: ${(e as Error).message}`;
    }
    this.child = child;
    this.buf = '';
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => {
      if (this.child !== child) return;
      this.buf += chunk;
      let nl: number;
      while ((nl = this.buf.indexOf('\n')) !== -1) {
        const line = this.buf.slice(0, nl);
        this.buf = this.buf.slice(nl + 1);
        this.answer(line);
      }
    });
    const gone = (why: string) => {
      if (this.child !== child) return;
      this.child = null;
      this.failAll(why);
    };
    child.on('error', (e) => gone(`the disk probe helper failed: ${e.message}`));
    child.on('exit', (code, signal) => gone(`the disk probe helper ended (${signal ?? `exit code ${code}`})`));
    child.stdin!.on('error', () => undefined);
    return child;
  }

  private answer(line: string): void {
    const a = /^(\d+) ([01]) (.*)$/s.exec(line);
    if (!a) return;
    const id = Number(a[1]);
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    if (p.timer) {
      clearTimeout(p.timer);
      p.resolve({ ok: a[2] === '1', detail: a[3] });
    } else {
      this.hung.delete(p.dir); // a late answer: the disk answers again
    }
  }

  private failAll(why: string): void {
    for (const p of this.pending.values()) {
      if (p.timer) {
        clearTimeout(p.timer);
        p.resolve({ ok: false, detail: why });
      }
    }
    this.pending.clear();
    this.hung.clear();
  }

  private abandon(why: string): void {
    const child = this.child;
    this.child = null;
    this.failAll(why);
    if (!child) return;
    child.stdin?.destroy();
    child.stdout?.destroy();
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
    child.unref();
  }
}

export interface DiskOptions {
  prober: DiskProber;
  /** bytes: the check fails when less is free */
  minFree?: number;
  /** the probe file's name in the folder (default: .arms-probe-HOST-MONITOR) */
  probeName: string;
}

/** `.arms-probe-SERVERA-RSP`: one name per server and monitor, so monitors never share a file. */
export function probeName(monitor: string): string {
  const clean = (s: string) => s.replace(/[^A-Za-z0-9_.-]/g, '');
  return `.arms-probe-${clean(os.hostname().split('.')[0]) || 'host'}-${clean(monitor) || 'monitor'}`;
}

export function diskCheck(dir: string, opts: DiskOptions): Check {
  return {
    kind: 'disk',
    resource: dir,
    run: (timeoutMs) => opts.prober.probe(dir, opts.probeName, timeoutMs, opts.minFree),
  };
}
