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

export async function serviceStatus(opts: { json: boolean }): Promise<number> {
  const home = resolveHome();
  const info = await ping(home);
  if (!info) {
    if (opts.json) console.log(JSON.stringify({ running: false, pipe: home.pipe, home: home.root }));
    else console.log(`armsd is not running (nothing answers on ${home.pipe})`);
    return EXIT_UNREACHABLE;
  }
  if (opts.json) console.log(JSON.stringify({ running: true, ...info }));
  else console.log(`armsd is running: pid ${info.pid}, server ${info.server}, up ${info.uptime} s, version ${info.version}\n  home ${info.home}\n  pipe ${info.pipe}`);
  return 0;
}
