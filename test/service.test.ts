import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { call } from '../src/client/client';
import { resolveHome } from '../src/platform/home';
import { envFor, fromArmlog, readLog, ROOT, run, sleep, startService, stopAll, tempDir } from './helpers';

afterAll(stopAll);

function isRoot(): boolean {
  return process.getuid?.() === 0;
}

describe('homes and the pipe', () => {
  it('two services on two homes run side by side, each with its own log', async () => {
    const [a, b] = await Promise.all([startService({ config: 'server: ALPHA\nsyslog: false\n' }), startService({ config: 'server: BETA\nsyslog: false\n' })]);
    expect(a.pipe).not.toBe(b.pipe);
    expect((await run('ARMLOG', ['to alpha'], a.env)).code).toBe(0);
    expect((await run('ARMLOG', ['to beta'], b.env)).code).toBe(0);
    expect(fromArmlog(a.home).map((r) => [r.server, r.msg])).toEqual([['ALPHA', 'to alpha']]);
    expect(fromArmlog(b.home).map((r) => [r.server, r.msg])).toEqual([['BETA', 'to beta']]);
    await Promise.all([a.stop(), b.stop()]);
  });

  it('refuses a second service on the same home; the first keeps answering', async () => {
    const first = await startService({ config: 'syslog: false\n' });
    const second = spawnSync(process.execPath, [path.join(ROOT, 'bin', 'armsd.js')], { env: first.env, encoding: 'utf8', timeout: 15_000 });
    expect(second.status).toBe(5);
    expect(second.stderr).toMatch(new RegExp(`^armsd: another armsd \\(pid ${first.proc.pid}\\) is already running on this home`));
    expect((await run('armlog', ['still here'], first.env)).code).toBe(0);
    expect((await call(first.pipe, 'ping')) as { pid: number }).toMatchObject({ pid: first.proc.pid });
    await first.stop();
  });

  it('recovers the stale socket and lock left by kill -9', async () => {
    const svc = await startService({ config: 'syslog: false\n' });
    svc.proc.kill('SIGKILL');
    await svc.exited;
    expect(fs.existsSync(svc.pipe)).toBe(true); // what a crash leaves behind
    expect(fs.existsSync(path.join(svc.home, 'state', 'armsd.lock'))).toBe(true);
    const r = await run('armlog', ['nobody home'], svc.env);
    expect(r.code).toBe(3);

    const again = await startService({ home: svc.home });
    expect((await run('armlog', ['back again'], again.env)).code).toBe(0);
    expect(fromArmlog(again.home).some((x) => x.msg === 'back again')).toBe(true);
    await again.stop();
  });

  it('a lock whose PID now belongs to another process is stale, not "running"', async () => {
    const home = tempDir();
    fs.mkdirSync(path.join(home, 'state'), { recursive: true });
    // A lock naming a live process (this test runner) with a start time it never had: PID reuse.
    fs.writeFileSync(path.join(home, 'state', 'armsd.lock'), JSON.stringify({ pid: process.pid, start: 1, boot: 'another-boot' }));
    const svc = await startService({ home, config: 'syslog: false\n' });
    expect((await run('armlog', ['after pid reuse'], svc.env)).code).toBe(0);
    await svc.stop();
  });

  it('the socket is private: folder 0700, socket 0600, and another user cannot connect', async () => {
    const svc = await startService({ config: 'syslog: false\n' });
    expect(fs.statSync(path.dirname(svc.pipe)).mode & 0o777).toBe(0o700);
    expect(fs.statSync(svc.pipe).mode & 0o777).toBe(0o600);
    if (isRoot()) {
      const r = spawnSync('setpriv', ['--reuid=nobody', '--regid=nogroup', '--clear-groups', process.execPath, path.join(ROOT, 'bin', 'armlog.js'), 'intruder'], {
        env: svc.env,
        encoding: 'utf8',
        timeout: 15_000,
      });
      expect(r.status).toBe(3);
      expect(r.stderr).toMatch(/^ARMLOG: permission denied on .*: the service belongs to another user\n$/);
      expect(fromArmlog(svc.home).some((x) => x.msg === 'intruder')).toBe(false);
    }
    await svc.stop();
  });

  it('a home too deep for a socket path gets a short private socket of its own', async () => {
    const deep = path.join(tempDir(), 'a-rather-long-folder-name-for-a-home'.repeat(3));
    fs.mkdirSync(deep, { recursive: true });
    const svc = await startService({ home: deep, config: 'syslog: false\n' });
    expect(Buffer.byteLength(svc.pipe)).toBeLessThanOrEqual(103);
    expect(svc.pipe.startsWith(deep)).toBe(false);
    expect((await run('armlog', ['from the deep'], svc.env)).code).toBe(0);
    expect(fromArmlog(deep).some((x) => x.msg === 'from the deep')).toBe(true);
    await svc.stop();
  });

  it('refuses a socket folder owned by another user', async () => {
    if (!isRoot()) return;
    const home = tempDir();
    fs.mkdirSync(path.join(home, 'run'), { mode: 0o700 });
    fs.chownSync(path.join(home, 'run'), 65534, 65534);
    const r = spawnSync(process.execPath, [path.join(ROOT, 'bin', 'armsd.js')], { env: envFor(home), encoding: 'utf8', timeout: 15_000 });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/not a folder owned by this user/);
  });
});

describe('stopping', () => {
  it('SIGTERM stops cleanly: logged, socket and lock removed, exit 0', async () => {
    const svc = await startService({ config: 'syslog: false\n' });
    svc.proc.kill('SIGTERM');
    expect(await svc.exited).toBe(0);
    expect(fs.existsSync(svc.pipe)).toBe(false);
    expect(fs.existsSync(path.join(svc.home, 'state', 'armsd.lock'))).toBe(false);
    const msgs = readLog(svc.home).filter((r) => r.src === 'armsd').map((r) => r.msg);
    expect(msgs).toEqual(['armsd started on ' + msgs[0].split(' ').pop(), 'armsd stopping: signal SIGTERM', 'armsd stopped']);
  });

  it('SIGINT (Ctrl-C) stops cleanly too', async () => {
    const svc = await startService({ config: 'syslog: false\n' });
    svc.proc.kill('SIGINT');
    expect(await svc.exited).toBe(0);
    expect(fs.existsSync(svc.pipe)).toBe(false);
  });
});

describe('arms service', () => {
  it('start returns once the pipe answers; status; stop returns once it has exited', async () => {
    const home = tempDir();
    const env = envFor(home);
    fs.writeFileSync(path.join(home, 'arms.yaml'), 'server: OPS\nsyslog: false\n');

    const down = await run('arms', ['service', 'status'], env);
    expect(down.code).toBe(3);
    expect(down.stdout).toMatch(/not running/);

    const started = await run('arms', ['service', 'start'], env);
    expect(started.code, started.stderr).toBe(0);
    const pid = Number(/pid (\d+)/.exec(started.stdout)![1]);
    // No waiting: the pipe answers as soon as start returns.
    expect((await run('armlog', ['right after start'], env)).code).toBe(0);

    const again = await run('arms', ['service', 'start'], env);
    expect(again).toMatchObject({ code: 0 });
    expect(again.stdout).toMatch(new RegExp(`already running \\(pid ${pid}\\)`));

    const status = await run('arms', ['service', 'status', '--json'], env);
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ running: true, pid, server: 'OPS', pipe: resolveHome(env).pipe });

    const stopped = await run('arms', ['service', 'stop'], env);
    expect(stopped.code).toBe(0);
    expect(stopped.stdout).toMatch(new RegExp(`armsd stopped \\(pid ${pid}\\)`));
    expect(() => process.kill(pid, 0)).toThrow();
    expect((await run('armlog', ['after stop'], env)).code).toBe(3);
    expect((await run('arms', ['service', 'stop'], env)).stdout).toMatch(/not running/);
  });

  it('start reports why the service could not start (a broken config, with file:line)', async () => {
    const home = tempDir();
    fs.writeFileSync(path.join(home, 'arms.yaml'), 'server: OK\nlog:\n  maxSize: huge\n');
    const r = await run('arms', ['service', 'start'], envFor(home));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^arms: armsd did not start: 1 mistake in the config; not starting; .*arms\.yaml:3: log\.maxSize: expected a size/);
  });

  it('unknown subcommands and options are usage errors (exit 2, one line)', async () => {
    const env = envFor(tempDir());
    for (const args of [['nosuch'], ['service', 'restartt'], ['log', '--bogus'], ['log', '-n', 'many']]) {
      const r = await run('arms', args, env);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(/^arms: /);
    }
  });
});

describe('the config', () => {
  it('armsd refuses to start on a broken config and says file:line for every mistake', async () => {
    const home = tempDir();
    fs.writeFileSync(path.join(home, 'arms.yaml'), 'server: "bad name!"\nlog:\n  keep: -1\n  sizes: 3\nsyslg: true\n');
    const r = spawnSync(process.execPath, [path.join(ROOT, 'bin', 'armsd.js')], { env: envFor(home), encoding: 'utf8', timeout: 15_000 });
    expect(r.status).toBe(2);
    const file = path.join(home, 'arms.yaml');
    expect(r.stderr).toContain(`${file}:1: server: expected a name (letters, digits, "_", "-", "."), got "bad name!"`);
    expect(r.stderr).toContain(`${file}:3: log.keep: expected a whole number from 0 to 100`);
    expect(r.stderr).toContain(`${file}:4: log: unknown setting "sizes"`);
    expect(r.stderr).toContain(`${file}:5: unknown setting "syslg"`);
  });

  it('a YAML syntax error is reported with its line', async () => {
    const home = tempDir();
    fs.writeFileSync(path.join(home, 'arms.yaml'), 'server: A\nlog: [unclosed\n');
    const r = spawnSync(process.execPath, [path.join(ROOT, 'bin', 'armsd.js')], { env: envFor(home), encoding: 'utf8', timeout: 15_000 });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/arms\.yaml:\d+: /);
  });
});

describe('arms log', () => {
  it('filters by group, prints JSON on request, and follows new lines', async () => {
    const svc = await startService({ config: 'server: LOGSRV\nsyslog: false\n' });
    await run('ARMLOG', ['web line'], { ...svc.env, ARMS_GROUPNAME: 'WEB' });
    await run('ARMLOG', ['db line'], { ...svc.env, ARMS_GROUPNAME: 'DB' });

    const web = await run('arms', ['log', '--group', 'web'], svc.env);
    expect(web.stdout).toMatch(/INFO LOGSRV \[WEB\] ARMLOG pid \d+: web line\n$/);
    expect(web.stdout).not.toContain('db line');

    const json = await run('arms', ['log', '--json', '--group', 'DB'], svc.env);
    expect(JSON.parse(json.stdout.trim())).toMatchObject({ msg: 'db line', group: 'DB', server: 'LOGSRV' });

    const child = spawn(path.join(ROOT, 'dist', 'path', 'arms'), ['log', '-f', '-n', '1'], { env: svc.env });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    await sleep(400);
    await run('ARMLOG', ['followed line'], svc.env);
    const deadline = Date.now() + 10_000;
    while (!out.includes('followed line') && Date.now() < deadline) await sleep(50);
    child.kill();
    expect(out).toContain('followed line');
    await svc.stop();
  });

  it('says so when the home has no logs', async () => {
    const r = await run('arms', ['log'], envFor(tempDir()));
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/^arms: no logs in /);
  });
});
