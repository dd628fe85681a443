// arms service start|stop|status: the service in the background, for an operator.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { call, CommandError, EXIT_UNREACHABLE } from '../../client/client';
import { Home, resolveHome } from '../../platform/home';
import { isAlive } from '../../platform/process';

interface Info {
  pid: number;
  server: string;
  pipe: string;
  home: string;
  version: string;
  uptime: number;
}

async function ping(home: Home): Promise<Info | null> {
  try {
    return (await call(home.pipe, 'ping', {}, 5000)) as Info;
  } catch (e) {
    if (e instanceof CommandError && e.exitCode === EXIT_UNREACHABLE && /not running/.test(e.message)) return null;
    throw e;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function serviceStart(opts: { timeout: number }): Promise<number> {
  const home = resolveHome();
  const running = await ping(home);
  if (running) {
    console.log(`armsd is already running (pid ${running.pid}) on ${running.pipe}`);
    return 0;
  }
  fs.mkdirSync(home.log, { recursive: true, mode: 0o750 });
  const outFile = path.join(home.log, 'armsd.out');
  // armsd's own output (a few lines per start and stop, and what it says when it cannot start):
  // one old copy is kept once it passes 1 MB.
  try {
    if (fs.statSync(outFile).size > 1024 * 1024) fs.renameSync(outFile, `${outFile}.1`);
  } catch {
    /* not there yet */
  }
  const out = fs.openSync(outFile, 'a', 0o640);
  const startOffset = fs.fstatSync(out).size;
  const child = spawn(process.execPath, [path.join(__dirname, '..', '..', '..', 'bin', 'armsd.js')], {
    detached: true,
    stdio: ['ignore', out, out],
    windowsHide: true,
  });
  fs.closeSync(out);
  let exited: number | null = null;
  child.on("exit", (code) => (exited = code ?? 1));

  const deadline = Date.now() + opts.timeout * 1000;
  while (Date.now() < deadline) {
    if (exited !== null) {
      const said = fs.readFileSync(outFile).subarray(startOffset).toString().trim().split('\n');
      const why = said.filter(Boolean).map((l) => l.replace(/^armsd: /, '')).join('; ') || `exit code ${exited}`;
      throw new CommandError(`armsd did not start: ${why}`, 1);
    }
    const info = await ping(home).catch(() => null);
    if (info && info.pid === child.pid) {
      child.unref();
      console.log(`armsd started (pid ${info.pid}) on ${info.pipe}, server ${info.server}, logs in ${home.log}`);
      return 0;
    }
    await sleep(40);
  }
  child.unref();
  throw new CommandError(`armsd (pid ${child.pid}) did not answer on ${home.pipe} within ${opts.timeout} s; see ${outFile}`, 1);
}

export async function serviceStop(opts: { timeout: number }): Promise<number> {
  const home = resolveHome();
  const info = await ping(home);
  if (!info) {
    console.log(`armsd is not running (nothing answers on ${home.pipe})`);
    return 0;
  }
  await call(home.pipe, 'stop', { pid: process.pid });
  const deadline = Date.now() + opts.timeout * 1000;
  while (isAlive(info.pid)) {
    if (Date.now() > deadline) throw new CommandError(`armsd (pid ${info.pid}) is still stopping after ${opts.timeout} s`, 1);
    await sleep(40);
  }
  console.log(`armsd stopped (pid ${info.pid})`);
  return 0;
}

export async function serviceStatus(opts: { json: boolean; name?: string }): Promise<number> {
  const home = resolveHome();
  const info = await ping(home);
  // Windows: what the service control manager says of the service, when one is installed.
  const windowsService =
    process.platform === 'win32' ? (require('../../platform/win-service') as typeof import('../../platform/win-service')).serviceState(opts.name ?? 'ARMS') : null;
  const scm = windowsService ? { windowsService: { name: opts.name ?? 'ARMS', state: windowsService } } : {};
  const scmLine = windowsService ? `\n  Windows service ${opts.name ?? 'ARMS'}: ${windowsService}` : '';
  if (!info) {
    if (opts.json) console.log(JSON.stringify({ running: false, pipe: home.pipe, home: home.root, ...scm }));
    else console.log(`armsd is not running (nothing answers on ${home.pipe})${scmLine}`);
    return EXIT_UNREACHABLE;
  }
  if (opts.json) console.log(JSON.stringify({ running: true, ...info, ...scm }));
  else console.log(`armsd is running: pid ${info.pid}, server ${info.server}, up ${info.uptime} s, version ${info.version}\n  home ${info.home}\n  pipe ${info.pipe}${scmLine}`);
  return 0;
}

/** Windows: registers armsd of this home as a Windows service (the native host answers the SCM). */
export async function serviceInstall(opts: { name: string }): Promise<number> {
  if (process.platform !== 'win32') throw new CommandError('arms service install registers a Windows service; on Linux run armsd under systemd (Type=simple, ExecStart=armsd)', 2);
  const win = require('../../platform/win-service') as typeof import('../../platform/win-service');
  const home = resolveHome();
  // The launchers the group scripts will find (a package unpacked from npm pack has none yet).
  const { ensureCommandsDir } = require('../../platform/shims') as typeof import('../../platform/shims');
  fs.mkdirSync(home.state, { recursive: true });
  const commands = ensureCommandsDir(path.join(home.state, 'path'));
  const r = win.installService(opts.name, home);
  if (!r.ok) throw new CommandError(`could not install the service ${opts.name}: ${r.said.replace(/^arms-host: /, '')}`, 1);
  console.log(`service ${opts.name} installed: automatic start, restarts after a failure; home ${home.root}, pipe ${home.pipe}`);
  console.log(`  start it with "sc start ${opts.name}"; commands for your own scripts are in ${commands.dir}`);
  return 0;
}

/** Windows: stops the service if it runs (its groups stop first) and removes it. */
export async function serviceUninstall(opts: { name: string }): Promise<number> {
  if (process.platform !== 'win32') throw new CommandError('arms service uninstall removes a Windows service; there is none on this system', 2);
  const win = require('../../platform/win-service') as typeof import('../../platform/win-service');
  const r = win.uninstallService(opts.name);
  if (!r.ok) throw new CommandError(`could not remove the service ${opts.name}: ${r.said.replace(/^arms-host: /, '')}`, 1);
  console.log(`service ${opts.name} removed`);
  return 0;
}
