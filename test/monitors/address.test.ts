// Address checks: parsing, TCP connect to an open and a closed loopback port, ping of loopback
// (one-shot, and the long-lived ping: restarted when it dies, gone when the loop stops), and the
// echoes of the probe helper with their fall back to the OS ping.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { addressCheck, parseAddress, ping, pingArgs, PingStream, pingStreamArgs, tcpConnect } from '../../src/monitors/address';
import { Check, CheckResult, startLoop } from '../../src/monitors/loop';
import { HelperCommand, nativeHelper, nodeHelper, ProbeHelper } from '../../src/monitors/probe-helper';
import { sleep, tempDir } from '../helpers';

const hasPing = spawnSync('ping', ['-V']).error === undefined;
const hasIp = spawnSync('ip', ['-V']).error === undefined;
if (!hasPing) console.warn('ping tests skipped: no ping program (Debian: apt-get install iputils-ping)');

const servers: net.Server[] = [];
afterAll(() => servers.forEach((s) => s.close()));

async function openPort(): Promise<number> {
  const s = net.createServer((c) => c.destroy());
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return (s.address() as net.AddressInfo).port;
}
async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

describe('addresses', () => {
  it('host:port is a TCP connect, anything else a ping', () => {
    expect(parseAddress('192.168.0.1')).toEqual({ kind: 'ping', host: '192.168.0.1' });
    expect(parseAddress('db.example')).toEqual({ kind: 'ping', host: 'db.example' });
    expect(parseAddress('fe80::1')).toEqual({ kind: 'ping', host: 'fe80::1' });
    expect(parseAddress('[::1]')).toEqual({ kind: 'ping', host: '::1' });
    expect(parseAddress('db:5432')).toEqual({ kind: 'tcp', host: 'db', port: 5432 });
    expect(parseAddress('[::1]:80')).toEqual({ kind: 'tcp', host: '::1', port: 80 });
    expect(parseAddress(' 127.0.0.1:8080 ')).toEqual({ kind: 'tcp', host: '127.0.0.1', port: 8080 });
    for (const bad of ['', ' ', 'a b', 'host:0', 'host:70000', 'a:b:c', 'host:', '-f', '-i0.001']) expect(parseAddress(bad), bad).toBeNull();
  });

  it('ping arguments: one echo request, the wait bounded by the timeout', () => {
    expect(pingArgs('10.0.0.1', 2500, 'linux')).toEqual(['-n', '-c', '1', '-W', '3', '10.0.0.1']);
    expect(pingArgs('10.0.0.1', 300, 'linux')).toEqual(['-n', '-c', '1', '-W', '1', '10.0.0.1']);
    expect(pingArgs('10.0.0.1', 2500, 'win32')).toEqual(['-n', '1', '-w', '2500', '10.0.0.1']);
    expect(pingArgs('10.0.0.1', 2500, 'darwin')).toEqual(['-n', '-c', '1', '-t', '3', '10.0.0.1']);
  });

  it('persistent ping arguments: Linux only, an echo every interval or half timeout, none under 0.2 s', () => {
    expect(pingStreamArgs('10.0.0.1', 1000, 5000, 'linux')).toEqual(['-n', '-O', '-i', '1', '10.0.0.1']);
    expect(pingStreamArgs('10.0.0.1', 10_000, 10_000, 'linux')).toEqual(['-n', '-O', '-i', '5', '10.0.0.1']);
    expect(pingStreamArgs('10.0.0.1', 200, 10_000, 'linux')).toEqual(['-n', '-O', '-i', '0.2', '10.0.0.1']);
    expect(pingStreamArgs('10.0.0.1', 150, 10_000, 'linux')).toBeNull();
    expect(pingStreamArgs('10.0.0.1', 1000, 300, 'linux')).toBeNull();
    expect(pingStreamArgs('10.0.0.1', 1000, 5000, 'win32')).toBeNull();
    expect(pingStreamArgs('10.0.0.1', 1000, 5000, 'darwin')).toBeNull();
  });

  it('TCP: an open loopback port passes, a closed one fails (connection refused)', async () => {
    const open = await openPort();
    const o = await tcpConnect('127.0.0.1', open, 2000);
    expect(o.ok).toBe(true);
    expect(o.detail).toMatch(/^connected in \d+ ms$/);
    const closed = await closedPort();
    expect(await tcpConnect('127.0.0.1', closed, 2000)).toEqual({ ok: false, detail: `cannot connect to 127.0.0.1 port ${closed}: connection refused (ECONNREFUSED)` });
  });

  it.skipIf(!hasPing)('ping of 127.0.0.1 passes', async () => {
    const o = await ping('127.0.0.1', 2000);
    expect(o.ok).toBe(true);
    expect(o.detail).toMatch(/^reply in [\d.]+ ms$/);
  });
});

/** This test process's live `ping` children (one killed but not yet reaped is left out). */
const myPings = () =>
  spawnSync('pgrep', ['-P', String(process.pid), '-x', 'ping'], { encoding: 'utf8' })
    .stdout.split('\n')
    .filter(Boolean)
    .map(Number)
    .filter((pid) => {
      try {
        const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
        return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
      } catch {
        return false;
      }
    });

/** Waits (up to 3 s) until none of pids is a live ping child of this process; what is left. */
async function gone(pids: number[]): Promise<number[]> {
  for (let i = 0; i < 60; i++) {
    const left = myPings().filter((p) => pids.includes(p));
    if (left.length === 0) return [];
    await sleep(50);
  }
  return myPings().filter((p) => pids.includes(p));
}

describe.skipIf(!hasPing || process.platform !== 'linux')('the long-lived ping (Linux)', () => {
  const checks: Check[] = [];
  afterAll(() => checks.forEach((c) => c.close?.()));
  const check = (host: string, intervalMs: number, timeoutMs: number) => {
    const c = addressCheck(host, parseAddress(host)!, { intervalMs, timeoutMs });
    checks.push(c);
    return c;
  };

  it('one ping process answers check after check', async () => {
    const before = myPings();
    const c = check('127.0.0.1', 200, 2000);
    const pids = new Set<number>();
    for (let i = 0; i < 4; i++) {
      const o = await c.run(2000);
      expect(o, `check ${i + 1}`).toMatchObject({ ok: true, detail: expect.stringMatching(/^reply in [\d.]+ ms$/) });
      myPings().filter((p) => !before.includes(p)).forEach((p) => pids.add(p));
      await sleep(200);
    }
    expect(pids.size).toBe(1);
    c.close!();
    expect(await gone([...pids])).toEqual([]);
  });

  it('a ping that dies fails the check waiting on it, and a new one is started at the next check', async () => {
    // An echo every 5 s: the second check waits for the next one, long enough to kill the ping.
    const s = new PingStream('127.0.0.1', pingStreamArgs('127.0.0.1', 10_000, 20_000)!);
    checks.push({ kind: 'ip', resource: 'x', run: () => Promise.reject(new Error('unused')), close: () => s.close() });
    expect((await s.check(20_000)).ok).toBe(true);
    const first = s.pid!;
    expect(myPings()).toContain(first);
    const waiting = s.check(20_000);
    await sleep(300);
    process.kill(first, 'SIGKILL');
    expect(await waiting).toEqual({ ok: false, detail: 'no reply from 127.0.0.1: ping ended (ping SIGKILL)' });
    expect(s.pid).toBeUndefined();
    expect((await s.check(20_000)).ok).toBe(true);
    const second = s.pid!;
    expect(second).not.toBe(first);
    expect(myPings()).toContain(second);
    s.close();
    expect(await gone([second])).toEqual([]);
  });

  it('a ping that ends by itself between checks is started again', async () => {
    const s = new PingStream('127.0.0.1', pingStreamArgs('127.0.0.1', 10_000, 20_000)!);
    checks.push({ kind: 'ip', resource: 'x', run: () => Promise.reject(new Error('unused')), close: () => s.close() });
    expect((await s.check(20_000)).ok).toBe(true);
    const first = s.pid!;
    process.kill(first, 'SIGTERM');
    expect(await gone([first])).toEqual([]);
    for (let i = 0; i < 60 && s.pid !== undefined; i++) await sleep(50); // the stream has seen it end
    expect(s.pid).toBeUndefined();
    expect((await s.check(20_000)).ok).toBe(true);
    expect(s.pid).not.toBe(first);
    expect(myPings()).toContain(s.pid);
    s.close();
  });

  it('a stopped loop leaves no ping process', async () => {
    const before = myPings();
    const cs = [check('127.0.0.1', 200, 1000), check('127.0.0.2', 200, 1000)];
    const results: CheckResult[] = [];
    const loop = startLoop({ checks: cs, intervalMs: 200, timeoutMs: 1000, maxFailures: 3, onResult: (r) => results.push(r) });
    while (results.length < 6) await sleep(50);
    expect(results.every((r) => r.outcome.ok)).toBe(true);
    const mine = myPings().filter((p) => !before.includes(p));
    expect(mine).toHaveLength(2);
    loop.stop();
    cs.forEach((c) => c.close!());
    expect(await gone(mine)).toEqual([]);
    expect(await cs[0].run(1000)).toEqual({ ok: false, detail: 'the address monitor is stopping' });
  });

  it('a check with no reply fails at its timeout', async () => {
    // `sleep` stands in for a ping whose echoes go unanswered and that says nothing.
    const s = new PingStream('127.0.0.1', ['30'], 'sleep');
    const start = Date.now();
    expect(await s.check(300)).toEqual({ ok: false, detail: 'no reply from 127.0.0.1 within 0.3 s' });
    expect(Date.now() - start).toBeGreaterThanOrEqual(290);
    s.close();
  });

  // Last in the file: it switches this process to one-shot pings for good.
  it('a ping without -O (busybox) makes it fall back to one ping per check', async () => {
    const dir = tempDir();
    const fake = path.join(dir, 'ping');
    fs.writeFileSync(fake, `#!/bin/sh\ncase " $* " in *" -O "*) echo "ping: invalid option -- 'O'" >&2; exit 1;; esac\nexec ping "$@"\n`, { mode: 0o755 });
    const s = new PingStream('127.0.0.1', pingStreamArgs('127.0.0.1', 1000, 5000)!, fake);
    expect(await s.check(5000)).toMatchObject({ ok: true, detail: expect.stringMatching(/^reply in [\d.]+ ms$/) });
    expect(await s.check(5000)).toMatchObject({ ok: true });
    s.close();
  });
});

// The echoes from ARMRSP's native probe helper (probe-helper.c), and the fall back to the OS ping
// where it may not open an ICMP socket.
const NATIVE = path.join(__dirname, '..', '..', 'dist', 'monitors', 'arms-probe');
const NODE_HELPER = path.join(__dirname, '..', '..', 'dist', 'monitors', 'disk-prober.js');
const isRoot = process.getuid?.() === 0;
const hasNative = fs.existsSync(NATIVE);
const hasSetpriv = spawnSync('setpriv', ['--version']).error === undefined;
const asNobody = (h: HelperCommand): HelperCommand => ({ command: 'setpriv', args: ['--reuid=65534', '--regid=65534', '--clear-groups', h.command, ...h.args] });

describe.skipIf(process.platform !== 'linux' || !hasNative || !isRoot)('echoes from the probe helper (root)', () => {
  const helpers: ProbeHelper[] = [];
  afterAll(() => helpers.forEach((h) => h.close()));
  const check = (host: string, helper: HelperCommand) => {
    const h = new ProbeHelper(helper);
    helpers.push(h);
    return addressCheck(host, parseAddress(host)!, { intervalMs: 1000, timeoutMs: 2000, helper: () => h });
  };
  /** This process's live pings of the host. */
  const pingsOf = (host: string) => myPings().filter((pid) => fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(host));

  it('IPv4, IPv6 and a name from /etc/hosts answer, with no ping process', async () => {
    const own = `127.${(process.pid >> 8) & 255}.${process.pid & 255}.21`;
    for (const host of [own, '::1', 'localhost']) {
      const c = check(host, nativeHelper(NATIVE));
      expect(await c.run(2000), host).toEqual({ ok: true, detail: expect.stringMatching(/^reply in \d+(\.\d+)? ms$/) });
      c.close?.();
    }
    expect(pingsOf(own)).toEqual([]);
  });

  it('twenty echoes at once through one helper all answer', async () => {
    const h = new ProbeHelper(nativeHelper(NATIVE));
    helpers.push(h);
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => h.echo(`127.0.${i}.1`, 2000)));
    expect(answers.every((a) => a.kind === 'reply')).toBe(true);
  });

  it('not an address it can send to: said, and no ping is started', async () => {
    const h = new ProbeHelper(nativeHelper(NATIVE));
    helpers.push(h);
    expect(await h.echo('300.1.1.1', 500)).toEqual({ kind: 'failed', why: 'not a numeric address' });
  });

  it.skipIf(!hasSetpriv || !hasPing)('a helper that may not open an ICMP socket says why; the check then runs the OS ping, and goes on with it', async () => {
    const h = new ProbeHelper(asNobody(nativeHelper(NATIVE)));
    helpers.push(h);
    expect(await h.echo('127.0.0.1', 1000)).toEqual({
      kind: 'unsupported',
      why: 'cannot open an ICMP socket (Permission denied): not root, and ping sockets are not allowed (net.ipv4.ping_group_range)',
    });
    // With no disk to probe it has no more work: it is stopped.
    const nobodysHelpers = () => spawnSync('pgrep', ['-u', '65534', '-f', NATIVE], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
    for (let i = 0; i < 40 && nobodysHelpers().length > 0; i++) await sleep(50);
    expect(nobodysHelpers()).toEqual([]);
    const own = `127.${(process.pid >> 8) & 255}.${process.pid & 255}.22`;
    const c = check(own, asNobody(nativeHelper(NATIVE)));
    expect(await c.run(2000)).toEqual({ ok: true, detail: expect.stringMatching(/^reply in [\d.]+ ms$/) });
    // It passes though this helper cannot send an echo: the OS ping answered.
    expect(await c.run(2000)).toMatchObject({ ok: true });
    c.close?.();
  });

  it.skipIf(!hasPing)('the node helper (no C compiler, Windows) sends none: the OS ping instead', async () => {
    const own = `127.${(process.pid >> 8) & 255}.${process.pid & 255}.23`;
    const c = check(own, nodeHelper(NODE_HELPER));
    expect(await c.run(2000)).toEqual({ ok: true, detail: expect.stringMatching(/^reply in [\d.]+ ms$/) });
    c.close?.();
  });

  it.skipIf(!hasIp)('an echo nobody answers fails at its timeout (a namespace of the test that ignores echoes)', async () => {
    const ns = `armsE${process.pid}`;
    const ip = (...args: string[]) => spawnSync('ip', args, { stdio: 'pipe' });
    if (ip('netns', 'add', ns).status !== 0) return;
    try {
      ip('-n', ns, 'link', 'set', 'lo', 'up');
      if (ip('netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv4.icmp_echo_ignore_all=1').status !== 0) return;
      // The helper runs inside that namespace: its 127.0.0.1 is the namespace's own loopback.
      const inside: HelperCommand = { command: 'ip', args: ['netns', 'exec', ns, NATIVE] };
      const c = check('127.0.0.1', inside);
      const started = Date.now();
      expect(await c.run(600)).toEqual({ ok: false, detail: 'no reply from 127.0.0.1 within 0.6 s' });
      expect(Date.now() - started).toBeGreaterThanOrEqual(550);
    } finally {
      ip('netns', 'del', ns);
    }
  });
});
