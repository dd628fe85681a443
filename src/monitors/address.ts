// Address checks: an ICMP echo, or a TCP connect when the address is `host:port` (`[v6]:port` for
// IPv6). The echo is sent by ARMRSP's probe helper where it may open an ICMP socket (root, or ping
// sockets allowed): one small process for every address. Elsewhere through the OS `ping`: on Linux
// one long-lived ping per address whose replies are read as they come, else one echo request per
// check, its wait bounded by the timeout.
import { ChildProcess, spawn } from 'node:child_process';
import * as net from 'node:net';
import { Check, Outcome, seconds, took } from './loop';
import type { ProbeHelper } from './probe-helper';

export type Address = { kind: 'ping'; host: string } | { kind: 'tcp'; host: string; port: number };

/**
 * `192.168.0.1`, `db.example`, `fe80::1` → ping; `db:5432`, `[::1]:80` → TCP connect.
 * null when it is neither (empty, spaces, a port out of range).
 */
export function parseAddress(text: string): Address | null {
  const t = text.trim();
  // A leading "-" would reach ping as an option.
  if (!t || /\s/.test(t) || t.startsWith('-')) return null;
  const v6 = /^\[([0-9A-Fa-f:.%A-Za-z]+)\]:(\d+)$/.exec(t);
  const v4 = /^([^:]+):(\d+)$/.exec(t);
  const m = v6 ?? v4;
  if (m) {
    const port = Number(m[2]);
    if (!Number.isInteger(port) || port < 1 || port > 65535) return null;
    return { kind: 'tcp', host: m[1], port };
  }
  if (/^\[.*\]$/.test(t)) return { kind: 'ping', host: t.slice(1, -1) };
  if (t.includes(':') && !net.isIPv6(t)) return null;
  return { kind: 'ping', host: t };
}

export interface AddressCheckOptions {
  /** the loop's interval: a persistent ping sends echoes at least this often */
  intervalMs: number;
  timeoutMs: number;
  /** ARMRSP's probe helper, which sends the echoes itself where it may */
  helper?: () => ProbeHelper;
}

type Run = Pick<Check, 'run' | 'close'>;

/**
 * A ping address is checked by the probe helper's echoes when there is a helper that may send them
 * (not on Windows, not a scoped IPv6 address such as fe80::1%eth0); else, with the loop's interval and
 * timeout, by one long-lived `ping` where the platform has one that says when an echo goes
 * unanswered (pingStreamArgs); else by one `ping` process per check.
 */
export function addressCheck(text: string, a: Address, opts?: AddressCheckOptions): Check {
  if (a.kind === 'tcp') return { kind: 'tcp', resource: text, run: (ms) => tcpConnect(a.host, a.port, ms) };
  const byPing = (): Run => {
    const args = opts ? pingStreamArgs(a.host, opts.intervalMs, opts.timeoutMs) : null;
    if (!args) return { run: (ms) => ping(a.host, ms) };
    const stream = new PingStream(a.host, args);
    return { run: (ms) => stream.check(ms), close: () => stream.close() };
  };
  const helper = opts?.helper;
  if (!helper || process.platform === 'win32' || a.host.includes('%')) return { kind: 'ip', resource: text, ...byPing() };
  let fallback: Run | null = null;
  return {
    kind: 'ip',
    resource: text,
    run: async (ms) => {
      if (fallback) return fallback.run(ms);
      const started = Date.now();
      const address = await numeric(a.host);
      if (typeof address !== 'string') return address;
      const left = Math.max(1, ms - (Date.now() - started));
      const r = await helper().echo(address, left);
      switch (r.kind) {
        case 'reply':
          return { ok: true, detail: `reply in ${Number(r.ms.toFixed(3))} ms` };
        case 'timeout':
          return { ok: false, detail: `no reply from ${a.host} within ${seconds(ms)}` };
        case 'failed':
          return { ok: false, detail: `no reply from ${a.host}: ${r.why}` };
        case 'unsupported':
          // Not root and no ping sockets (or no native helper): the OS ping, which may, from now on.
          fallback = byPing();
          return fallback.run(Math.max(1, ms - (Date.now() - started)));
      }
    },
    close: () => fallback?.close?.(),
  };
}

/** The host's address (looked up at every check, as a new ping would), or why there is none. */
async function numeric(host: string): Promise<string | Outcome> {
  if (net.isIP(host)) return host;
  const dns = require('node:dns') as typeof import('node:dns');
  try {
    return (await dns.promises.lookup(host)).address;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return { ok: false, detail: `no reply from ${host}: ${code === 'ENOTFOUND' || code === 'EAI_NONAME' ? 'unknown host' : (e as Error).message}` };
  }
}

// Platform differences of the ping check live in pingArgs and pingStreamArgs.

/** The OS ping's arguments for one echo request waiting at most timeoutMs. */
export function pingArgs(host: string, timeoutMs: number, platform: NodeJS.Platform = process.platform): string[] {
  const secs = String(Math.max(1, Math.ceil(timeoutMs / 1000)));
  if (platform === 'win32') return ['-n', '1', '-w', String(Math.max(1, Math.round(timeoutMs))), host];
  if (platform === 'linux') return ['-n', '-c', '1', '-W', secs, host];
  // macOS, the BSDs: -t is the whole run's limit in seconds
  return ['-n', '-c', '1', '-t', secs, host];
}

/** iputils refuses intervals under 0.2 s to anyone but root. */
const MIN_STREAM_INTERVAL_MS = 200;

/**
 * A long-lived ping's arguments (an echo every interval, "no answer yet" lines for the unanswered
 * ones), or null where one-shot pings are used. Linux (iputils) only: Windows' `ping -t` has no
 * interval and no report of a missing reply before its own -w timeout, and macOS/BSD ping has no
 * -O. The echo goes every interval, or every half timeout when that is shorter, so that a check
 * always sees a fresh echo answered well within its timeout whatever the phase of the two clocks.
 */
export function pingStreamArgs(host: string, intervalMs: number, timeoutMs: number, platform: NodeJS.Platform = process.platform): string[] | null {
  if (platform !== 'linux') return null;
  const every = Math.min(intervalMs, timeoutMs / 2);
  if (every < MIN_STREAM_INTERVAL_MS) return null;
  return ['-n', '-O', '-i', String(Number((every / 1000).toFixed(3))), host];
}

/** Lines of ping's output that say why there is no reply. */
const WHY = /unreachable|prohibited|exceeded|timed out|could not find|unknown host/i;

/** Set once a `ping` turned out not to know -O (busybox): from then on, one-shot pings. */
let streamUnsupported = false;

interface Waiter {
  deadline: number;
  settle(o: Outcome): void;
}

/**
 * One `ping` that runs between checks (spawning a process per check costs a fork of the whole node
 * process each time). A check passes with the first reply read after it started, and fails on the
 * first "no answer yet" or error line, at its timeout, or when the ping ends.
 */
export class PingStream {
  private child: ChildProcess | null = null;
  private waiting = new Set<Waiter>();
  private closed = false;

  constructor(
    private host: string,
    private args: string[],
    private program = 'ping',
  ) {}

  /** the running ping's pid (tests) */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  check(timeoutMs: number): Promise<Outcome> {
    if (this.closed) return Promise.resolve({ ok: false, detail: 'the address monitor is stopping' });
    if (streamUnsupported) return ping(this.host, timeoutMs, this.program);
    this.ensureChild();
    return new Promise<Outcome>((resolve) => {
      const w: Waiter = {
        deadline: Date.now() + timeoutMs,
        settle: (o) => {
          if (!this.waiting.delete(w)) return;
          clearTimeout(timer);
          // After a failure the next check starts a fresh ping: it resolves the name again, and a
          // new ping says why it cannot send ("connect: Network is unreachable") where the running
          // one only reports "no answer yet".
          if (!o.ok) this.stopChild();
          resolve(o);
        },
      };
      const timer = setTimeout(() => w.settle({ ok: false, detail: `no reply from ${this.host} within ${seconds(timeoutMs)}` }), timeoutMs);
      this.waiting.add(w);
    });
  }

  close(): void {
    this.closed = true;
    this.settleAll({ ok: false, detail: 'the address monitor stopped' });
    this.stopChild();
  }

  private settleAll(o: Outcome): void {
    for (const w of [...this.waiting]) w.settle(o);
  }

  private ensureChild(): void {
    if (this.child) return;
    const child = spawn(this.program, this.args, { stdio: ['ignore', 'pipe', 'pipe'], windowsHide: true });
    this.child = child;
    const mine = () => this.child === child;
    let sawOutput = false;
    const errors: string[] = [];
    eachLine(child.stdout!, (line) => {
      if (!mine()) return;
      sawOutput = true;
      if (/^PING /.test(line)) return; // the header: it names the host, which might contain "unreachable"
      if (/bytes from/i.test(line)) {
        const time = /time[=<]\s*([\d.]+)\s*ms/i.exec(line);
        this.settleAll({ ok: true, detail: time ? `reply in ${time[1]} ms` : 'reply' });
      } else if (/^no answer yet/i.test(line) || WHY.test(line)) {
        this.settleAll({ ok: false, detail: `no reply from ${this.host}: ${line}` });
      }
    });
    eachLine(child.stderr!, (line) => {
      if (!mine()) return;
      errors.push(line);
      if (errors.length > 8) errors.shift();
      // Before its first line on stdout a ping that complains is ending (no route, unknown host, an
      // option it does not know): its exit says the rest.
      if (sawOutput && !/^(ping: )?warning/i.test(line)) this.settleAll({ ok: false, detail: `no reply from ${this.host}: ${line}` });
    });
    child.on('error', (e: NodeJS.ErrnoException) => {
      if (!mine()) return;
      this.child = null;
      this.settleAll({ ok: false, detail: e.code === 'ENOENT' ? NO_PING : `cannot run ping: ${e.message}` });
    });
    child.on('close', (code, signal) => {
      if (!mine()) return;
      this.child = null;
      if (!sawOutput && /invalid option|unrecognized option|illegal option|usage/i.test(errors.join('\n'))) {
        streamUnsupported = true;
        for (const w of [...this.waiting]) void ping(this.host, Math.max(1, w.deadline - Date.now()), this.program).then(w.settle);
        return;
      }
      const why = errors.filter((l) => !/^(ping: )?warning/i.test(l)).pop() ?? 'ping ended';
      this.settleAll({ ok: false, detail: `no reply from ${this.host}: ${why} (ping ${signal ?? `exit code ${code}`})` });
    });
  }

  private stopChild(): void {
    const child = this.child;
    this.child = null;
    if (!child) return;
    child.stdout?.destroy();
    child.stderr?.destroy();
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
}

function eachLine(stream: NodeJS.ReadableStream, onLine: (line: string) => void): void {
  let buf = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    buf += chunk;
    let nl: number;
    while ((nl = buf.indexOf('\n')) !== -1) {
      const line = buf.slice(0, nl).trim();
      buf = buf.slice(nl + 1);
      if (line) onLine(line);
    }
    if (buf.length > 4096) buf = buf.slice(-4096);
  });
  stream.on('error', () => undefined);
}

const NO_PING = 'the ping program was not found (Debian: apt-get install iputils-ping)';

export function ping(host: string, timeoutMs: number, program = 'ping'): Promise<Outcome> {
  const start = Date.now();
  return new Promise<Outcome>((resolve) => {
    let out = '';
    let err = '';
    let done = false;
    const finish = (o: Outcome) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve(o);
    };
    const child = spawn(program, pingArgs(host, timeoutMs), { stdio: ['ignore', 'pipe', 'pipe'], windowsHide: true });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      finish({ ok: false, detail: `no reply from ${host} within ${seconds(timeoutMs)}` });
    }, timeoutMs);
    child.stdout!.on('data', (d) => (out = (out + d).slice(-4096)));
    child.stderr!.on('data', (d) => (err = (err + d).slice(-4096)));
    child.on('error', (e: NodeJS.ErrnoException) => finish({ ok: false, detail: e.code === 'ENOENT' ? NO_PING : `cannot run ping: ${e.message}` }));
    child.on('close', (code, signal) => {
      // Windows' ping exits 0 on "Destination host unreachable" answers: a reply has a TTL.
      const replied = code === 0 && (process.platform !== 'win32' || /TTL=/i.test(out));
      if (replied) {
        const time = /time[=<]\s*([\d.]+)\s*ms/i.exec(out);
        finish({ ok: true, detail: time ? `reply in ${time[1]} ms` : `reply in ${took(start)}` });
        return;
      }
      finish({ ok: false, detail: `no reply from ${host}: ${pingReason(out, err, timeoutMs)} (ping ${signal ?? `exit code ${code}`})` });
    });
  });
}

/** The line of ping's output that says why: "Destination Host Unreachable", "Network is unreachable". */
function pingReason(out: string, err: string, timeoutMs: number): string {
  const errLine = err.trim().split(/\r?\n/).filter(Boolean).pop();
  if (errLine) return errLine.trim();
  const lines = out.split(/\r?\n/).map((l) => l.trim());
  const why = lines.find((l) => WHY.test(l));
  if (why) return why;
  const loss = lines.find((l) => /packet loss|Lost = /i.test(l));
  return loss ? `${loss.replace(/,?\s*time\s+\d+\s*ms$/, '')} within ${seconds(timeoutMs)}` : 'no reply';
}

export function tcpConnect(host: string, port: number, timeoutMs: number): Promise<Outcome> {
  const start = Date.now();
  return new Promise<Outcome>((resolve) => {
    let done = false;
    const socket = net.connect({ host, port });
    const finish = (o: Outcome) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(o);
    };
    const timer = setTimeout(() => finish({ ok: false, detail: `no connection to ${host} port ${port} within ${seconds(timeoutMs)}` }), timeoutMs);
    socket.once('connect', () => finish({ ok: true, detail: `connected in ${took(start)}` }));
    socket.once('error', (e: NodeJS.ErrnoException) => {
      const why = e.code === 'ECONNREFUSED' ? 'connection refused' : e.code === 'ENOTFOUND' ? 'unknown host' : e.message;
      finish({ ok: false, detail: `cannot connect to ${host} port ${port}: ${why}${e.code && !why.includes(e.code) ? ` (${e.code})` : ''}` });
    });
  });
}
