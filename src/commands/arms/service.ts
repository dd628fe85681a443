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
  http?: string;
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

export async function serviceStatus(opts: { json: boolean; user?: boolean; unit?: string; unitDir?: string; name?: string }): Promise<number> {
  const home = resolveHome();
  const info = await ping(home);
  // Windows: what the service control manager says of the service; Linux: the systemd unit.
  const windowsService =
    process.platform === 'win32' ? (require('../../platform/win-service') as typeof import('../../platform/win-service')).serviceState(opts.name ?? 'ARMS') : null;
  const scm = windowsService ? { windowsService: { name: opts.name ?? 'ARMS', state: windowsService } } : {};
  const scmLine = windowsService ? `\n  Windows service ${opts.name ?? 'ARMS'}: ${windowsService}` : '';
  const unit = process.platform === 'win32' ? null : unitStatus(opts);
  const unitLine = unit ? `\n  unit ${unit.file}: ${unit.installed ? `installed, ${unit.enabled ? 'enabled (starts at boot)' : unit.how}` : 'not installed (arms service install)'}` : '';
  if (!info) {
    if (opts.json) console.log(JSON.stringify({ running: false, pipe: home.pipe, home: home.root, unit, ...scm }));
    else console.log(`armsd is not running (nothing answers on ${home.pipe})${unitLine}${scmLine}`);
    return EXIT_UNREACHABLE;
  }
  if (opts.json) console.log(JSON.stringify({ running: true, ...info, unit, ...scm }));
  else
    console.log(
      `armsd is running: pid ${info.pid}, server ${info.server}, up ${info.uptime} s, version ${info.version}\n  home ${info.home}\n  pipe ${info.pipe}${info.http ? `\n  http ${info.http}` : ''}${unitLine}${scmLine}`,
    );
  return 0;
}

// ---------------------------------------------------------------------------------------------
// arms service install|uninstall: armsd at boot, under systemd (Linux).

export interface UnitCommandOptions {
  user: boolean;
  /** the unit's name, without .service */
  unit: string;
  /** Windows: the service's name */
  name?: string;
  /** where the unit file goes (default: systemd's folder for the system or the user) */
  unitDir?: string;
  server?: string;
  watchdog: number;
}

function linuxOnly(what: string): void {
  if (process.platform !== 'linux') throw new CommandError(`arms service ${what} writes a systemd unit on Linux and registers a Windows service on Windows; not on ${process.platform}`, 1);
}

function unitName(name: string): string {
  if (!/^[A-Za-z0-9:_.@-]{1,200}$/.test(name)) throw new CommandError(`--unit ${name}: expected a unit name (letters, digits, : _ . @ -), without .service`, 2);
  return name.replace(/\.service$/, '');
}

export async function serviceInstall(opts: UnitCommandOptions): Promise<number> {
  if (process.platform === 'win32') return windowsServiceInstall({ name: opts.name ?? 'ARMS' });
  linuxOnly('install');
  const systemd = require('../../platform/systemd') as typeof import('../../platform/systemd');
  const { loadConfig, ConfigInvalid } = require('../../service/config') as typeof import('../../service/config');
  const { ensureToken } = require('../../http/token') as typeof import('../../http/token');
  const { NOTIFY_HELPER } = require('../../platform/sd-notify') as typeof import('../../platform/sd-notify');
  const home = resolveHome();
  const unit = unitName(opts.unit);
  if (!opts.user && process.getuid?.() !== 0 && !opts.unitDir) throw new CommandError('a system unit needs root (sudo arms service install), or --user for a unit of your own', 1);
  let config;
  try {
    config = loadConfig(home.config, { server: opts.server });
  } catch (e) {
    if (e instanceof ConfigInvalid) throw new CommandError(`${e.problems.length} mistake(s) in the config (arms check): not installing\n${e.message}`, 1);
    throw e;
  }
  fs.mkdirSync(home.config, { recursive: true, mode: 0o750 });
  const tokenFile = config.http?.tokenFile ?? path.join(home.config, 'http.token');
  ensureToken(tokenFile);

  const notify = fs.existsSync(NOTIFY_HELPER);
  const stopTimeoutS = Math.max(300, ...config.groups.map((g) => g.timeouts.stop)) + 60;
  const text = systemd.unitText({
    node: process.execPath,
    armsd: path.resolve(__dirname, '..', '..', '..', 'bin', 'armsd.js'),
    home: home.root,
    server: config.server,
    user: opts.user,
    watchdogS: opts.watchdog,
    notify,
    stopTimeoutS,
  });
  const dir = opts.unitDir ?? systemd.unitDir(opts.user);
  const file = path.join(dir, `${unit}.service`);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(file, text, { mode: 0o644 });
  console.log(`wrote ${file} (server ${config.server}, home ${home.root}, ${notify ? `Type=notify, watchdog ${opts.watchdog} s` : 'Type=exec: the sd_notify helper is not built, so no readiness or watchdog'})`);
  console.log(`HTTP token: ${tokenFile} (0600)${config.http ? '' : '; HTTP is off until arms.yaml has an http: section'}`);

  const running = await ping(home).catch(() => null);
  if (!opts.unitDir && systemd.systemdRuns(opts.user)) {
    for (const args of [['daemon-reload'], ['enable', ...(running ? [] : ['--now']), `${unit}.service`]]) {
      const r = systemd.systemctl(opts.user, args);
      if (!r.ok) throw new CommandError(`systemctl ${opts.user ? '--user ' : ''}${args.join(' ')} failed: ${r.out}`, 1);
    }
    console.log(`enabled ${unit}.service: armsd starts at ${opts.user ? 'your login (loginctl enable-linger for boot)' : 'boot'}`);
    if (running) console.log(`armsd already runs (pid ${running.pid}, not under systemd): "arms service stop && systemctl ${opts.user ? '--user ' : ''}start ${unit}" hands it over`);
    else console.log(`started ${unit}.service`);
  } else {
    // No systemd manager here (or another folder was asked for): enabled the way systemctl enable does it.
    const link = systemd.wantsLink(dir, unit, opts.user);
    fs.mkdirSync(path.dirname(link), { recursive: true });
    fs.rmSync(link, { force: true });
    fs.symlinkSync(file, link);
    console.log(`enabled by ${link}${opts.unitDir ? '' : ' (systemd is not running here: it starts armsd at the next boot)'}`);
  }
  return 0;
}

export async function serviceUninstall(opts: UnitCommandOptions): Promise<number> {
  if (process.platform === 'win32') return windowsServiceUninstall({ name: opts.name ?? 'ARMS' });
  linuxOnly('uninstall');
  const systemd = require('../../platform/systemd') as typeof import('../../platform/systemd');
  const unit = unitName(opts.unit);
  const dir = opts.unitDir ?? systemd.unitDir(opts.user);
  const file = path.join(dir, `${unit}.service`);
  if (!fs.existsSync(file)) throw new CommandError(`${file} is not there: nothing to uninstall`, 4);
  if (!opts.unitDir && systemd.systemdRuns(opts.user)) {
    // --now: a service left running under a removed unit could be neither stopped nor restarted by it.
    const r = systemd.systemctl(opts.user, ['disable', '--now', `${unit}.service`]);
    if (!r.ok) throw new CommandError(`systemctl disable --now ${unit}.service failed: ${r.out}`, 1);
    console.log(`disabled and stopped ${unit}.service (armsd stopped its groups)`);
  }
  fs.rmSync(systemd.wantsLink(dir, unit, opts.user), { force: true });
  fs.rmSync(file);
  if (!opts.unitDir && systemd.systemdRuns(opts.user)) systemd.systemctl(opts.user, ['daemon-reload']);
  console.log(`removed ${file} (the home, its logs and its HTTP token stay)`);
  return 0;
}

/** What `arms service status` says of the unit: installed and enabled, or not (Linux). */
export function unitStatus(opts: { user?: boolean; unit?: string; unitDir?: string }): import('../../platform/systemd').UnitState | null {
  if (process.platform !== 'linux') return null;
  const systemd = require('../../platform/systemd') as typeof import('../../platform/systemd');
  const unit = unitName(opts.unit ?? 'armsd');
  const user = opts.user ?? process.getuid?.() !== 0;
  const dir = opts.unitDir ?? systemd.unitDir(user);
  return systemd.unitState(dir, unit, user, !opts.unitDir && systemd.systemdRuns(user));
}

// ---------------------------------------------------------------------------------------------
// arms service install|uninstall on Windows: a Windows service through the native host.

/** Windows: registers armsd of this home as a Windows service (the native host answers the SCM). */
async function windowsServiceInstall(opts: { name: string }): Promise<number> {
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
async function windowsServiceUninstall(opts: { name: string }): Promise<number> {
  const win = require('../../platform/win-service') as typeof import('../../platform/win-service');
  const r = win.uninstallService(opts.name);
  if (!r.ok) throw new CommandError(`could not remove the service ${opts.name}: ${r.said.replace(/^arms-host: /, '')}`, 1);
  console.log(`service ${opts.name} removed`);
  return 0;
}
