// arms service install|uninstall|status (Linux): the unit written, checked by systemd's own
// analyzer, and its ExecStart run as systemd would run it. The unit goes to a temporary folder
// (--unit-dir): this machine's systemd is left alone.
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { call } from '../src/client/client';
import { resolveHome } from '../src/platform/home';
import { envFor, run, stopAll, tempDir, until } from './helpers';

afterAll(stopAll);

const linux = process.platform === 'linux';

function verify(file: string, user = false): { code: number | null; out: string } {
  const env = { ...process.env };
  if (user) {
    // The user manager's analyzer wants a runtime folder, as a login session has.
    env.XDG_RUNTIME_DIR = tempDir();
    fs.chmodSync(env.XDG_RUNTIME_DIR, 0o700);
  }
  const r = spawnSync('systemd-analyze', [...(user ? ['--user'] : []), 'verify', file], { encoding: 'utf8', env });
  if (r.error) throw new Error(`systemd-analyze is needed (Debian: apt-get install systemd): ${r.error.message}`);
  return { code: r.status, out: `${r.stdout}${r.stderr}`.trim() };
}

/** The words of ExecStart=, as systemd splits them (our unit quotes only with "..."). */
function execStart(unit: string): string[] {
  const line = unit.split('\n').find((l) => l.startsWith('ExecStart='))!.slice('ExecStart='.length);
  return [...line.matchAll(/"((?:[^"\\]|\\.)*)"|(\S+)/g)].map((m) => (m[1] ?? m[2]).replace(/\\(.)/g, '$1').replace(/%%/g, '%').replace(/\$\$/g, '$'));
}

describe.runIf(linux)('arms service install, status, uninstall', () => {
  it('writes a unit that systemd-analyze verify accepts, enabled, with the home and server as arguments', async () => {
    const home = tempDir('arms test home ');
    const units = tempDir();
    fs.mkdirSync(path.join(home, 'groups', 'DB'), { recursive: true });
    fs.writeFileSync(path.join(home, 'groups', 'DB', 's.sh'), '#!/bin/sh\n', { mode: 0o755 });
    fs.writeFileSync(path.join(home, 'arms.yaml'), 'server: NODE1\nsyslog: false\ngroups:\n  DB: { start: s.sh, stop: s.sh, timeouts: { stop: 15m } }\n');
    const env = envFor(home);
    const r = await run('arms', ['service', 'install', '--unit-dir', units, '--watchdog', '20'], env);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const file = path.join(units, 'armsd.service');
    const unit = fs.readFileSync(file, 'utf8');
    for (const line of [
      'Type=notify',
      'NotifyAccess=all',
      'WatchdogSec=20',
      'KillMode=process',
      'Restart=on-failure',
      'RestartPreventExitStatus=2 5',
      'After=network-online.target',
      'Wants=network-online.target',
      'TimeoutStopSec=960', // the longest stop timeout (15 min) and a minute
      'WantedBy=multi-user.target',
    ]) {
      expect(unit.split('\n')).toContain(line);
    }
    const argv = execStart(unit);
    expect(argv.slice(-4)).toEqual(['--home', home, '--server', 'NODE1']);
    expect(verify(file)).toEqual({ code: 0, out: '' });
    // Enabled the way systemctl enable does it.
    expect(fs.readlinkSync(path.join(units, 'multi-user.target.wants', 'armsd.service'))).toBe(file);
    // The HTTP token, made at install: 0600.
    expect(fs.statSync(path.join(home, 'http.token')).mode & 0o777).toBe(0o600);

    const st = await run('arms', ['service', 'status', '--unit-dir', units, '--json'], env);
    expect(st.code).toBe(3); // not running
    expect(JSON.parse(st.stdout).unit).toMatchObject({ file, installed: true, enabled: true });
    expect((await run('arms', ['service', 'status', '--unit-dir', units], env)).stdout).toContain(`unit ${file}: installed, enabled`);

    // The ExecStart line, run as systemd runs it (no ARMS_HOME in its environment): armsd on that home, as NODE1.
    const clean = { ...env };
    delete clean.ARMS_HOME;
    const proc = spawn(argv[0], argv.slice(1), { env: clean, stdio: 'ignore' });
    try {
      const pipe = resolveHome({ ARMS_HOME: home }).pipe;
      const info = (await until(
        () => call(pipe, 'ping', {}, 1000).catch(() => null),
        (v) => v !== null,
        15_000,
      )) as { server: string; home: string } | null;
      expect(info).toMatchObject({ server: 'NODE1', home });
      const running = await run('arms', ['service', 'status', '--unit-dir', units], env);
      expect(running.code).toBe(0);
      expect(running.stdout).toContain('installed, enabled');
    } finally {
      proc.kill('SIGTERM');
      await new Promise((r) => proc.once('exit', r));
    }

    const un = await run('arms', ['service', 'uninstall', '--unit-dir', units], env);
    expect(un.code).toBe(0);
    expect(fs.existsSync(file)).toBe(false);
    expect(fs.existsSync(path.join(units, 'multi-user.target.wants', 'armsd.service'))).toBe(false);
    expect(JSON.parse((await run('arms', ['service', 'status', '--unit-dir', units, '--json'], env)).stdout).unit).toMatchObject({ installed: false, enabled: false });
    const again = await run('arms', ['service', 'uninstall', '--unit-dir', units], env);
    expect(again.code).toBe(4);
    expect(again.stderr).toMatch(/not there: nothing to uninstall/);
  });

  it('the analyzer used here does reject a unit whose program is missing (the check above can fail)', () => {
    const dir = tempDir();
    const file = path.join(dir, 'broken.service');
    fs.writeFileSync(file, '[Service]\nType=notify\nExecStart=/nonexistent/node armsd.js\n');
    expect(verify(file).code).not.toBe(0);
  });

  it('--user: a unit for the user manager, wanted by default.target; --unit names it', async () => {
    const home = tempDir();
    const units = tempDir();
    const env = envFor(home);
    const r = await run('arms', ['service', 'install', '--user', '--unit', 'arms-web', '--unit-dir', units, '--server', 'WEB1'], env);
    expect(r.code).toBe(0);
    const file = path.join(units, 'arms-web.service');
    const unit = fs.readFileSync(file, 'utf8');
    expect(unit.split('\n')).toContain('WantedBy=default.target');
    expect(execStart(unit).slice(-2)).toEqual(['--server', 'WEB1']);
    expect(verify(file, true)).toEqual({ code: 0, out: '' });
    expect(fs.readlinkSync(path.join(units, 'default.target.wants', 'arms-web.service'))).toBe(file);
  });

  it('refuses a server name that arms.yaml contradicts, and a bad unit name', async () => {
    const home = tempDir();
    const units = tempDir();
    fs.writeFileSync(path.join(home, 'arms.yaml'), 'server: NODE1\n');
    const env = envFor(home);
    const r = await run('arms', ['service', 'install', '--unit-dir', units, '--server', 'NODE2'], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/arms\.yaml:1: server: this file says NODE1, armsd was started with --server NODE2/);
    expect(fs.readdirSync(units)).toEqual([]);
    const bad = await run('arms', ['service', 'install', '--unit-dir', units, '--unit', '../etc/x'], env);
    expect(bad.code).toBe(2);
    // armsd itself refuses the contradiction too (exit 2: the unit does not restart it in a loop).
    const armsd = await run('armsd', ['--server', 'NODE2'], env);
    expect(armsd.code).toBe(2);
    expect(armsd.stderr).toMatch(/server: this file says NODE1/);
    expect((await run('armsd', ['--home'], env)).code).toBe(2);
  });
});
