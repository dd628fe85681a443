// Issue 15, acceptance 3: the package as a release gives it. `npm pack` of this checkout, installed
// with `npm install -g --prefix <temporary folder> --offline` (its dependencies come bundled in the
// tarball: no registry, and npm runs no install script of ours), then the demo's LEGACY group
// (examples/groups/legacy, unchanged) run by the armsd of that install, through its own commands.
// Nothing of this checkout is on the PATH: the service writes its commands folder itself.
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call } from '../src/client/client';
import { resolveHome } from '../src/platform/home';
import { readLinuxTrailer } from '../src/platform/shims';
import { readLog, ROOT, sleep, tempDir } from './helpers';

const tmp = tempDir('arms-pack-');
const prefix = path.join(tmp, 'prefix');
const home = path.join(tmp, 'home');
const installed = path.join(prefix, 'lib', 'node_modules', 'arms');
let armsd: ReturnType<typeof spawn> | null = null;
let port = 0;
let tarball = '';
let install: ReturnType<typeof spawnSync>;

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

/** The environment of everything run from the install: its bin first, no trace of this checkout. */
function env(): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = { ...process.env, ARMS_HOME: home, PATH: `${path.join(prefix, 'bin')}${path.delimiter}${path.dirname(process.execPath)}:/usr/bin:/bin`, WEB_PORT: String(port), WEB_DATA: path.join(tmp, 'data') };
  for (const k of ['ARMS_PIPE', 'ARMS_GROUPNAME', 'npm_config_prefix']) delete e[k];
  return e;
}

/** A command of the install, by the name npm linked into <prefix>/bin. */
function runInstalled(cmd: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(path.join(prefix, 'bin', cmd), args, { env: env(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

beforeAll(async () => {
  port = await freePort();
  // --ignore-scripts: `prepare` would rebuild dist/ under the other tests; `npm test` has built it.
  const pack = spawnSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', tmp], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
  expect(pack.status, pack.stderr).toBe(0);
  tarball = path.join(tmp, (JSON.parse(pack.stdout) as Array<{ filename: string }>)[0].filename);
  install = spawnSync('npm', ['install', '-g', '--prefix', prefix, '--offline', '--no-audit', '--no-fund', tarball], {
    cwd: tmp,
    encoding: 'utf8',
    timeout: 180_000,
    // A cache of its own: a package missing from the tarball cannot come from a warm cache either.
    env: { ...process.env, npm_config_cache: path.join(tmp, 'npm-cache') },
  });
  fs.mkdirSync(home, { recursive: true });
  // The demo's groups as an operator would copy them (LEGACY starts ../web/server.js).
  fs.cpSync(path.join(ROOT, 'examples', 'groups'), path.join(tmp, 'groups'), { recursive: true });
  const data = path.join(tmp, 'data');
  fs.writeFileSync(
    path.join(home, 'arms.yaml'),
    `server: PACKSRV\nsyslog: false\ngroups:\n  LEGACY:\n    dir: ${path.join(tmp, 'groups', 'legacy')}\n    start: START.BAT\n    stop: STOP.BAT\n    timeouts: { start: 60s, stop: 60s }\n    maxFailovers: 2\n    disks:\n      - path: ${data}\n        activate: mkdir -p "${data}"\n`,
  );
}, 300_000);

afterAll(async () => {
  if (armsd && armsd.exitCode === null) {
    armsd.kill('SIGTERM');
    await new Promise((r) => armsd!.once('exit', r));
  }
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe.sequential('the packed tarball, installed with npm install -g into a temporary prefix', () => {
  it('installs offline: the dependencies come in the tarball, the commands are linked into <prefix>/bin', () => {
    expect(install.status, `${install.stdout}${install.stderr}`).toBe(0);
    for (const cmd of ['armsd', 'arms', 'ARMLOG', 'armlog', 'ARMLOAD', 'ARMKILL', 'ARMRSP', 'ARMFOVER', 'ARMSLEEP']) {
      expect(fs.existsSync(path.join(prefix, 'bin', cmd)), cmd).toBe(true);
    }
    for (const dep of ['commander', 'cross-spawn', 'pino', 'yaml']) {
      expect(fs.existsSync(path.join(installed, 'node_modules', dep, 'package.json')), dep).toBe(true);
    }
    // dist/path is not in the tarball (package.json "files"; npm would drop its symlinks anyway):
    // the service writes the folder itself, with launchers it has seen run on this machine.
    expect(fs.existsSync(path.join(installed, 'dist', 'path'))).toBe(false);
    // Nothing of a developer's tree is shipped.
    expect(fs.existsSync(path.join(installed, 'node_modules', 'vitest'))).toBe(false);
    expect(fs.existsSync(path.join(installed, 'src'))).toBe(false);
  });

  it("runs the LEGACY group: its armsd writes its commands folder, START.BAT's ARM* lines work, the group fails over and stops", async () => {
    const pipe = resolveHome(env()).pipe;
    armsd = spawn(path.join(prefix, 'bin', 'armsd'), [], { env: env(), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    armsd.stdout!.on('data', (d) => (out += d));
    armsd.stderr!.on('data', (d) => (out += d));
    for (const deadline = Date.now() + 30_000; ; await sleep(50)) {
      if (armsd.exitCode !== null) throw new Error(`armsd ended: ${out}`);
      if (await call(pipe, 'ping', {}, 2000).then(() => true, () => false)) break;
      if (Date.now() > deadline) throw new Error(`armsd did not answer: ${out}`);
    }
    const commands = path.join(installed, 'dist', 'path');
    if (fs.existsSync(path.join(ROOT, 'dist', 'platform', 'arms-launch'))) {
      // Linux with a C compiler: the launcher came in the tarball, runnable, and the service copied it
      expect(readLinuxTrailer(path.join(commands, 'ARMLOG'))).toEqual({ node: 'node', script: path.join('..', 'bundles', 'armlog.js'), spare: 'always' });
    } else {
      expect(fs.readlinkSync(path.join(commands, 'ARMLOG'))).toBe(path.join('..', 'bundles', 'armlog.js'));
    }
    expect(readLog(home).find((r) => r.src === 'armsd' && /^wrote the commands folder/.test(r.msg))?.msg).toBe(
      `wrote the commands folder ${commands} (the scripts find ARMLOG and the other commands there)`,
    );

    const started = await runInstalled('arms', ['group', 'start', 'LEGACY']);
    expect(started.code, `${started.stdout}${started.stderr}`).toBe(0);
    expect(started.stdout.trim()).toBe('group LEGACY is online');
    const answer = await (await fetch(`http://127.0.0.1:${port}/`)).text();
    expect(answer).toMatch(/^hello from group LEGACY \(started as START\), visit 1/);
    const status = (await call(pipe, 'status')) as { watches: Array<{ id: string; command: string }> };
    expect(status.watches.map((w) => w.id).sort()).toEqual(['LEGACY_RSP', 'LEGACY_WEB']);

    const fover = await runInstalled('ARMFOVER', ['/W', 'LEGACY']);
    expect(fover.code, fover.stderr).toBe(0);
    const stopped = await runInstalled('arms', ['group', 'stop', 'LEGACY']);
    expect(stopped.code, stopped.stderr).toBe(0);

    const lines = readLog(home).filter((r) => r.src === 'ARMLOG' && r.group === 'LEGACY').map((r) => r.msg.replace(/port \d+ \(\d+ retries\)/, 'port P'));
    expect(lines).toEqual([
      'LEGACY: start script, normal start on HOME',
      'LEGACY: application answers on port P',
      'LEGACY: stop script (START, GROUPFAILOVER)',
      'LEGACY: stop script done',
      'LEGACY: start script, taking the group over (previous server: PACKSRV)',
      'LEGACY: application answers on port P',
      'LEGACY: stop script (FAILOVER, GROUPSTOP)',
      'LEGACY: stop script done',
    ]);
    // No script line complained (a command not found would say so on stderr, logged as a warning).
    expect(readLog(home).filter((r) => r.src === 'script' && r.level >= 40)).toEqual([]);
    armsd.kill('SIGTERM');
    expect(await new Promise((r) => armsd!.once('exit', r))).toBe(0);
  });
});
