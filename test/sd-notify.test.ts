// armsd under systemd's notification protocol (Linux): the test opens the NOTIFY_SOCKET itself (a
// real Unix datagram socket, bound by a small C listener as systemd binds it) and starts a real
// armsd with NOTIFY_SOCKET and WATCHDOG_USEC, as a Type=notify unit would.
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call } from '../src/client/client';
import { resolveHome } from '../src/platform/home';
import { envFor, ROOT, sleep, tempDir, until } from './helpers';

const linux = process.platform === 'linux';
const WATCHDOG_MS = 200; // WATCHDOG_USEC=400000: a ping every 200 ms

interface Message {
  at: number;
  pid: number;
  text: string;
}

const started: ChildProcess[] = [];
afterAll(() => {
  for (const p of started) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
});

/** Binds a datagram socket at `socket` and collects what arrives on it. */
async function listen(dir: string, socket: string): Promise<{ messages: Message[] }> {
  const bin = path.join(dir, 'notify-listener');
  const cc = spawnSync(process.env.CC || 'cc', ['-Wall', '-o', bin, path.join(ROOT, 'test', 'fixtures', 'notify-listener.c')], { encoding: 'utf8' });
  if (cc.status !== 0) throw new Error(`cannot build the listener: ${cc.stderr}`);
  const proc = spawn(bin, [socket], { stdio: ['ignore', 'pipe', 'inherit'] });
  started.push(proc);
  const messages: Message[] = [];
  let buf = '';
  let ready!: () => void;
  const listening = new Promise<void>((r) => (ready = r));
  proc.stdout!.on('data', (d) => {
    buf += d;
    const lines = buf.split('\n');
    buf = lines.pop()!;
    for (const l of lines) {
      if (l === 'listening') ready();
      const m = /^(\d+) (\d+) (.*)$/.exec(l);
      if (m) messages.push({ at: Number(m[1]), pid: Number(m[2]), text: m[3] });
    }
  });
  await listening;
  return { messages };
}

function parentOf(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}

describe.runIf(linux)('sd_notify: READY=1 and the watchdog over a real NOTIFY_SOCKET', () => {
  let dir: string;
  let home: string;
  let armsd: ChildProcess;
  let pipe: string;
  let got: { messages: Message[] };
  let readyAt = 0;
  let pipeAnsweredAtReady: boolean | null = null;

  beforeAll(async () => {
    dir = tempDir();
    home = path.join(dir, 'home');
    fs.mkdirSync(path.join(home, 'groups', 'ENV'), { recursive: true });
    fs.writeFileSync(path.join(home, 'groups', 'ENV', 'start.sh'), `#!/bin/sh\nenv > "${path.join(dir, 'script-env')}"\n`, { mode: 0o755 });
    fs.writeFileSync(path.join(home, 'groups', 'ENV', 'stop.sh'), '#!/bin/sh\n', { mode: 0o755 });
    fs.writeFileSync(path.join(home, 'arms.yaml'), 'syslog: false\ngroups:\n  ENV: { start: start.sh, stop: stop.sh }\n');
    const socket = path.join(dir, 'notify');
    got = await listen(dir, socket);
    const env = envFor(home, { NOTIFY_SOCKET: socket, WATCHDOG_USEC: String(WATCHDOG_MS * 2 * 1000) });
    pipe = resolveHome(env).pipe;
    armsd = spawn(process.execPath, [path.join(ROOT, 'bin', 'armsd.js')], { env, stdio: 'ignore' });
    started.push(armsd);
    // The moment READY=1 arrives, the pipe must already answer.
    await until(
      async () => got.messages.some((m) => m.text === 'READY=1'),
      (v) => v,
      15_000,
    );
    readyAt = got.messages.find((m) => m.text === 'READY=1')!.at;
    pipeAnsweredAtReady = await call(pipe, 'ping', {}, 2000).then(
      () => true,
      () => false,
    );
  });

  it('sends READY=1 once the pipe answers, from its own helper, and a STATUS line', async () => {
    expect(readyAt).toBeGreaterThan(0);
    expect(pipeAnsweredAtReady).toBe(true);
    const ready = got.messages.find((m) => m.text === 'READY=1')!;
    // Sent by armsd's helper process (a child of armsd): the unit says NotifyAccess=all.
    expect(parentOf(ready.pid)).toBe(armsd.pid);
    expect(got.messages.find((m) => m.text.startsWith('STATUS='))?.text).toMatch(/^STATUS=listening on .*armsd\.sock/);
    // Before READY=1, no other message than watchdog pings.
    expect(got.messages.filter((m) => m.at < readyAt && m.text !== 'WATCHDOG=1')).toEqual([]);
  });

  it('sends WATCHDOG=1 at half of WATCHDOG_USEC', async () => {
    const from = Date.now();
    await sleep(2000);
    const pings = got.messages.filter((m) => m.text === 'WATCHDOG=1' && m.at >= from && m.at <= from + 2000).map((m) => m.at);
    // 2 s at one ping per 200 ms: 10, give or take the machine's load.
    expect(pings.length).toBeGreaterThanOrEqual(7);
    expect(pings.length).toBeLessThanOrEqual(12);
    const gaps = pings.slice(1).map((t, i) => t - pings[i]).sort((a, b) => a - b);
    const median = gaps[gaps.length >> 1];
    expect(median).toBeGreaterThanOrEqual(WATCHDOG_MS * 0.75);
    expect(median).toBeLessThanOrEqual(WATCHDOG_MS * 1.5);
  });

  it('sends no WATCHDOG=1 while its event loop cannot run (the process stopped), and again once it runs', async () => {
    // SIGSTOP freezes armsd's event loop (a hung armsd); its helper still runs, and must stay quiet.
    process.kill(armsd.pid!, 'SIGSTOP');
    const stoppedAt = Date.now();
    await sleep(2000);
    const contAt = Date.now();
    process.kill(armsd.pid!, 'SIGCONT');
    // What was already in the helper's stdin when the loop froze may arrive just after: 100 ms of grace.
    const during = got.messages.filter((m) => m.at > stoppedAt + 100 && m.at < contAt);
    expect(during).toEqual([]);
    const after = await until(
      async () => got.messages.filter((m) => m.text === 'WATCHDOG=1' && m.at >= contAt).length,
      (n) => n >= 3,
      5000,
    );
    expect(after).toBeGreaterThanOrEqual(3);
  });

  it("keeps NOTIFY_SOCKET and WATCHDOG_* out of its scripts' environment", async () => {
    await call(pipe, 'group.start', { name: 'ENV', wait: true });
    const env = fs.readFileSync(path.join(dir, 'script-env'), 'utf8');
    expect(env).toContain('ARMS_GROUPNAME=ENV');
    expect(env).not.toMatch(/^(NOTIFY_SOCKET|WATCHDOG_USEC|WATCHDOG_PID)=/m);
  });

  it('says STOPPING=1 when it stops, and its helper ends with it', async () => {
    const helper = got.messages.find((m) => m.text === 'READY=1')!.pid;
    armsd.kill('SIGTERM');
    await new Promise((r) => armsd.once('exit', r));
    expect(got.messages.some((m) => m.text === 'STOPPING=1')).toBe(true);
    const gone = await until(
      async () => !fs.existsSync(`/proc/${helper}`),
      (v) => v,
      5000,
    );
    expect(gone).toBe(true);
  });
});
