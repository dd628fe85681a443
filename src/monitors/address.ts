// Address checks: ICMP echo through the OS `ping` (one echo request, its own wait bounded by the
// timeout), or a TCP connect when the address is `host:port` (`[v6]:port` for IPv6).
import { spawn } from 'node:child_process';
import * as net from 'node:net';
import { Check, Outcome, seconds, took } from './loop';

export type Address = { kind: 'ping'; host: string } | { kind: 'tcp'; host: string; port: number };

/**
 * `192.168.0.1`, `db.example`, `fe80::1` → ping; `db:5432`, `[::1]:80` → TCP connect.
 * null when it is neither (empty, spaces, a port out of range).
 */
export function parseAddress(text: string): Address | null {
  const t = text.trim();
  if (!t || /\s/.test(t)) return null;
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

export function addressCheck(text: string, a: Address): Check {
  return a.kind === 'tcp'
    ? { kind: 'tcp', resource: text, run: (ms) => tcpConnect(a.host, a.port, ms) }
    : { kind: 'ip', resource: text, run: (ms) => ping(a.host, ms) };
}

/** The OS ping's arguments for one echo request waiting at most timeoutMs. */
export function pingArgs(host: string, timeoutMs: number, platform: NodeJS.Platform = process.platform): string[] {
  const secs = String(Math.max(1, Math.ceil(timeoutMs / 1000)));
  if (platform === 'win32') return ['-n', '1', '-w', String(Math.max(1, Math.round(timeoutMs))), host];
  if (platform === 'linux') return ['-n', '-c', '1', '-W', secs, host];
  // macOS, the BSDs: -t is the whole run's limit in seconds
  return ['-n', '-c', '1', '-t', secs, host];
}

export function ping(host: string, timeoutMs: number): Promise<Outcome> {
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
    const child = spawn('ping', pingArgs(host, timeoutMs), { stdio: ['ignore', 'pipe', 'pipe'], windowsHide: true });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      finish({ ok: false, detail: `no reply from ${host} within ${seconds(timeoutMs)}` });
    }, timeoutMs);
    child.stdout!.on('data', (d) => (out = (out + d).slice(-4096)));
    child.stderr!.on('data', (d) => (err = (err + d).slice(-4096)));
    child.on('error', (e: NodeJS.ErrnoException) =>
      finish({ ok: false, detail: e.code === 'ENOENT' ? 'the ping program was not found (Debian: apt-get install iputils-ping)' : `cannot run ping: ${e.message}` }),
    );
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
  const why = lines.find((l) => /unreachable|prohibited|exceeded|timed out|could not find|unknown host/i.test(l));
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
