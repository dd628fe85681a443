// ARMRSP's probe helper: one child process that does the disk probes (a call on a hung disk blocks
// a thread for good, and a process with such a thread cannot even exit, so the I/O lives in a
// process ARMRSP can abandon) and, where it may, the ICMP echoes of the address checks. The helper
// is native (probe-helper.c, built by `npm run build` when a C compiler is present: ~2 MB, where a
// second node process costs ~50 MB RSS and a `ping` per address ~2.5 MB each), else node
// (disk-prober.ts: Windows, machines without a compiler; disks only). A disk probe that does not
// answer within the timeout has failed, and the disk counts as hung (each later check fails at
// once) until that probe finally answers. When too many probes hang, the helper is abandoned
// (killed; the kernel frees it once its I/O returns) and a fresh one takes over.
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Outcome, seconds } from './loop';

/** How to start a helper; both speak the line protocol described in probe-helper.c. */
export interface HelperCommand {
  command: string;
  args: string[];
}

export const nativeHelper = (file = path.join(__dirname, 'arms-probe')): HelperCommand => ({ command: file, args: [] });
export const nodeHelper = (script = path.join(__dirname, 'disk-prober.js')): HelperCommand => ({ command: process.execPath, args: [script] });

/** The native helper where it was built next to this file, else the node one. */
export function defaultHelper(): HelperCommand {
  const native = nativeHelper();
  return process.platform !== 'win32' && fs.existsSync(native.command) ? native : nodeHelper();
}

/** Thread pool of the node helper: this many disks can hang before the others must wait (the
 * native one has a thread per probe; the same limit keeps its hung threads few). */
const POOL = 32;

interface Pending {
  /** a disk probe's folder; null for an echo */
  dir: string | null;
  resolve(status: number, detail: string): void;
  timer: NodeJS.Timeout | null;
}

/** What the helper says of one ICMP echo. */
export type EchoAnswer =
  | { kind: 'reply'; ms: number }
  | { kind: 'failed'; why: string }
  | { kind: 'timeout' }
  /** ICMP cannot be sent from this helper (not root and no ping sockets, or the node helper) */
  | { kind: 'unsupported'; why: string };

/** An echo's answer comes from the helper at its timeout; this much later, the helper is taken to be stuck. */
const ECHO_GRACE_MS = 1000;

export class ProbeHelper {
  private child: ChildProcess | null = null;
  private buf = '';
  private nextId = 1;
  private pending = new Map<number, Pending>();
  /** folders whose last probe passed its timeout without an answer: since when */
  private hung = new Map<string, number>();
  private closed = false;
  /** a disk probe was asked for: the helper is needed whatever it says of ICMP */
  private disksUsed = false;

  constructor(private helper: HelperCommand = defaultHelper()) {}

  disk(dir: string, name: string, timeoutMs: number, minFree?: number): Promise<Outcome> {
    this.disksUsed = true;
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
      const p: Pending = { dir, resolve: (status, detail) => resolve({ ok: status === 1, detail }), timer: null };
      p.timer = setTimeout(() => {
        p.timer = null;
        // The request stays pending: its late answer tells us the disk is back.
        this.hung.set(dir, started);
        resolve({ ok: false, detail: `no answer within ${seconds(timeoutMs)}: write, fsync, read back or delete of the probe file hung` });
      }, timeoutMs);
      this.pending.set(id, p);
      child.stdin!.write(`disk\0${id}\0${minFree ?? ''}\0${dir}\0${path.join(dir, name)}\n`);
    });
  }

  /** One ICMP echo to a numeric address, answered within timeoutMs. */
  echo(address: string, timeoutMs: number): Promise<EchoAnswer> {
    if (this.closed) return Promise.resolve({ kind: 'failed', why: 'the monitor is stopping' });
    const child = this.ensureChild();
    if (typeof child === 'string') return Promise.resolve({ kind: 'unsupported', why: child });
    const id = this.nextId++;
    return new Promise<EchoAnswer>((resolve) => {
      const p: Pending = {
        dir: null,
        resolve: (status, detail) => {
          if (status === 2) resolve({ kind: 'unsupported', why: detail });
          else if (status === 1) resolve({ kind: 'reply', ms: Number(detail) });
          else resolve(detail === '' ? { kind: 'timeout' } : { kind: 'failed', why: detail });
        },
        timer: null,
      };
      p.timer = setTimeout(() => {
        this.pending.delete(id);
        resolve({ kind: 'timeout' });
      }, timeoutMs + ECHO_GRACE_MS);
      this.pending.set(id, p);
      child.stdin!.write(`echo\0${id}\0${address}\0${Math.max(1, Math.round(timeoutMs))}\n`);
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
      return `cannot start the probe helper: ${(e as Error).message}`;
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
    child.on('error', (e) => gone(`the probe helper failed: ${e.message}`));
    child.on('exit', (code, signal) => gone(`the probe helper ended (${signal ?? `exit code ${code}`})`));
    child.stdin!.on('error', () => undefined);
    return child;
  }

  private answer(line: string): void {
    const a = /^(\d+) ([012]) (.*)$/s.exec(line);
    if (!a) return;
    const id = Number(a[1]);
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    if (p.timer) {
      clearTimeout(p.timer);
      p.resolve(Number(a[2]), a[3]);
      // It may not send ICMP, so the address checks use the OS ping: with no disk to probe, it has no more work.
      if (a[2] === '2' && !this.disksUsed && this.pending.size === 0) this.abandon('not needed');
    } else if (p.dir !== null) {
      this.hung.delete(p.dir); // a late answer: the disk answers again
    }
  }

  private failAll(why: string): void {
    for (const p of this.pending.values()) {
      if (p.timer) {
        clearTimeout(p.timer);
        p.resolve(0, why);
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

