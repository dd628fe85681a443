import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '../src/client/client';
import { envFor, fromArmlog, readLog, run, Service, startService, stopAll, tempDir } from './helpers';

afterAll(stopAll);

describe('ARMLOG against a running service', () => {
  let svc: Service;
  beforeAll(async () => {
    svc = await startService({ config: 'server: TESTSRV\nsyslog: false\n' });
  });

  it('writes a plain line to the cluster log only, at INFO, with server, time, PID and no group', async () => {
    const r = await run('armlog', ['plain line'], svc.env);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    const rec = fromArmlog(svc.home).find((x) => x.msg === 'plain line')!;
    expect(rec).toMatchObject({ level: 30, server: 'TESTSRV', src: 'ARMLOG' });
    expect(rec.group).toBeUndefined();
    expect(rec.pid).toBeGreaterThan(0);
    expect(rec.ppid).toBe(process.pid);
    expect(Math.abs(Date.parse(rec.time) - Date.now())).toBeLessThan(60_000);
    expect(fromArmlog(svc.home, 'alert').some((x) => x.msg === 'plain line')).toBe(false);
  });

  it('takes the group from ARMS_GROUPNAME', async () => {
    const r = await run('ARMLOG', ['NORMAL START IIS GROUP SCRIPT'], { ...svc.env, ARMS_GROUPNAME: 'IIS' });
    expect(r.code).toBe(0);
    expect(fromArmlog(svc.home).find((x) => x.msg === 'NORMAL START IIS GROUP SCRIPT')).toMatchObject({ group: 'IIS' });
  });

  it('/ARM writes to the alert log too, at WARN; /L sets the level in any case', async () => {
    expect((await run('ARMLOG', ['ERROR DISK IIS GROUP', '/ARM'], { ...svc.env, ARMS_GROUPNAME: 'IIS' })).code).toBe(0);
    expect((await run('armlog', ['/arm', '/l', 'err', 'disk gone'], svc.env)).code).toBe(0);
    expect((await run('armlog', ['warned', '/L', 'WARN'], svc.env)).code).toBe(0);
    expect((await run('armlog', ['informed', '/ARM', '/L', 'INFO'], svc.env)).code).toBe(0);

    const alerts = fromArmlog(svc.home, 'alert');
    expect(alerts.find((x) => x.msg === 'ERROR DISK IIS GROUP')).toMatchObject({ level: 40, group: 'IIS' });
    expect(alerts.find((x) => x.msg === 'disk gone')).toMatchObject({ level: 50 });
    expect(alerts.find((x) => x.msg === 'informed')).toMatchObject({ level: 30 });
    expect(alerts.some((x) => x.msg === 'warned')).toBe(false);
    const cluster = fromArmlog(svc.home);
    expect(cluster.find((x) => x.msg === 'ERROR DISK IIS GROUP')).toMatchObject({ level: 40, alert: true });
    expect(cluster.find((x) => x.msg === 'warned')).toMatchObject({ level: 40 });
  });

  it('joins unquoted words with single spaces', async () => {
    expect((await run('ARMLOG', ['WWW', 'STARTED'], svc.env)).code).toBe(0);
    expect(fromArmlog(svc.home).some((x) => x.msg === 'WWW STARTED')).toBe(true);
  });

  it('keeps quotes, newlines, control characters, non-ASCII and 64 KiB of text exactly, one record each', async () => {
    const big = 'x'.repeat(64 * 1024 - 10) + 'end-of-big';
    const messages = ['say "hello" and \'bye\'', 'first\nsecond\r\nthird', 'tab\there\x07bell', 'ディスク障害 — ça va ✓ 🚀', big];
    for (const m of messages) expect((await run('armlog', [m], svc.env)).code).toBe(0);
    const before = fs.readFileSync(path.join(svc.home, 'log', 'cluster.log'), 'utf8').split('\n').filter(Boolean).length;
    const got = fromArmlog(svc.home).map((x) => x.msg);
    for (const m of messages) expect(got.filter((g) => g === m)).toHaveLength(1);
    // No fake lines: every physical line of the file is one JSON record.
    expect(readLog(svc.home)).toHaveLength(before);

    // People see each record on one line, the newline shown escaped.
    const shown = await run('arms', ['log', '-n', '0'], svc.env);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toContain('first\\nsecond\\r\\nthird');
    expect(shown.stdout).toContain('tab\\there\\x07bell');
    expect(shown.stdout.split('\n').filter((l) => l.includes('second'))).toHaveLength(1);
  });

  it('refuses a message longer than a command line can carry, with exit 2', async () => {
    const conn = await connect(svc.pipe);
    await expect(conn.request('log', { message: 'y'.repeat(200 * 1024) })).rejects.toMatchObject({ exitCode: 2 });
    conn.close();
  });

  it('usage errors: one line on stderr and exit 2; /? prints usage with exit 0', async () => {
    for (const args of [['/X', 'msg'], ['msg', '/NOSUCH'], [], ['msg', '/L'], ['msg', '/L', 'LOUD'], ['-q', 'msg']]) {
      const r = await run('ARMLOG', args, svc.env);
      expect(r.code, `ARMLOG ${args.join(' ')}`).toBe(2);
      expect(r.stderr).toMatch(/^ARMLOG: .+\n$/);
      expect(r.stdout).toBe('');
    }
    const help = await run('ARMLOG', ['/?'], svc.env);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^usage: ARMLOG "message" \[\/ARM\]/);
  });

  it('50 connections x 200 ARMLOG requests at once: every line in the log exactly once', async () => {
    const conns = await Promise.all(Array.from({ length: 50 }, () => connect(svc.pipe)));
    await Promise.all(
      conns.map((c, ci) => Promise.all(Array.from({ length: 200 }, (_, i) => c.request('log', { message: `burst ${ci}-${i}`, source: 'ARMLOG' })))),
    );
    for (const c of conns) c.close();
    const seen = new Map<string, number>();
    for (const r of fromArmlog(svc.home)) if (r.msg.startsWith('burst ')) seen.set(r.msg, (seen.get(r.msg) ?? 0) + 1);
    expect(seen.size).toBe(50 * 200);
    expect([...seen.values()].every((n) => n === 1)).toBe(true);
  });

  it('40 ARMLOG processes at once: every line exactly once', async () => {
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) => run('ARMLOG', [`proc ${i}`], svc.env)));
    expect(results.map((r) => r.code)).toEqual(Array(40).fill(0));
    const msgs = fromArmlog(svc.home).map((r) => r.msg).filter((m) => m.startsWith('proc '));
    expect(msgs.sort()).toEqual(Array.from({ length: 40 }, (_, i) => `proc ${i}`).sort());
  });
});

describe('ARMLOG without a service', () => {
  it('exits 3 and names the pipe it tried and how to start the service', async () => {
    const home = tempDir();
    const r = await run('ARMLOG', ['anyone there?'], envFor(home));
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/^ARMLOG: the ARMS service is not running \(nothing answers on .*armsd\.sock\); start it with "arms service start"\n$/);
    expect(r.stderr).toContain(home);
  });

  it('connects where ARMS_PIPE says, over the home', async () => {
    const svc = await startService({ config: 'syslog: false\n' });
    const r = await run('armlog', ['via ARMS_PIPE'], { ...envFor(tempDir()), ARMS_PIPE: svc.pipe });
    expect(r.code).toBe(0);
    expect(fromArmlog(svc.home).some((x) => x.msg === 'via ARMS_PIPE')).toBe(true);
    await svc.stop();
  });
});

describe('alerts reach syslog', () => {
  it('ARMLOG /ARM is sent through logger to the configured syslog socket', async () => {
    const dir = tempDir();
    const sock = path.join(dir, 'syslog.sock');
    const received: string[] = [];
    const server = net.createServer((c) => c.on('error', () => undefined).on('data', (d) => received.push(d.toString())));
    await new Promise<void>((r) => server.listen(sock, r));
    const svc = await startService({ config: `syslog: ${sock}\n` });
    expect((await run('ARMLOG', ['disk is failing', '/ARM'], { ...svc.env, ARMS_GROUPNAME: 'IIS' })).code).toBe(0);
    expect((await run('ARMLOG', ['only the cluster log'], svc.env)).code).toBe(0);
    const deadline = Date.now() + 10_000;
    while (!received.join('').includes('disk is failing') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const all = received.join('');
    expect(all).toMatch(/<12>.*arms: \[IIS\] disk is failing/);
    expect(all).not.toContain('only the cluster log');
    await svc.stop();
    server.close();
  });
});

describe('log rotation', () => {
  it('rotates the cluster and alert logs by size and keeps the configured number of files', async () => {
    const svc = await startService({ config: 'syslog: false\nlog:\n  maxSize: 4KB\n  keep: 2\n' });
    const conn = await connect(svc.pipe);
    for (let i = 0; i < 200; i++) await conn.request('log', { message: `rotation line ${i} ${'z'.repeat(100)}`, alert: true, source: 'ARMLOG' });
    conn.close();
    const dir = path.join(svc.home, 'log');
    const files = fs.readdirSync(dir).sort();
    expect(files).toEqual(expect.arrayContaining(['alert.log', 'alert.log.1', 'alert.log.2', 'cluster.log', 'cluster.log.1', 'cluster.log.2']));
    expect(files).not.toContain('cluster.log.3');
    for (const f of files.filter((f) => f.startsWith('cluster'))) expect(fs.statSync(path.join(dir, f)).size).toBeLessThan(4096 + 400);
    // The newest line is in the current file, and `arms log` reaches back into the rotated ones.
    expect(fromArmlog(svc.home).at(-1)!.msg).toMatch(/^rotation line 199 /);
    const shown = await run('arms', ['log', '-n', '40', '--alert'], svc.env);
    expect(shown.stdout.trim().split('\n')).toHaveLength(40);
    expect(shown.stdout).toContain('rotation line 160 ');
    await svc.stop();
  });
});
