// Issue 15: armsd as a Windows service, under Wine. `arms service install` (run by the Windows
// node) registers the native host (bin/win/arms-host.exe) with the service control manager;
// `sc start` starts it, `sc query` says RUNNING once armsd answers on its pipe, the autostart group
// was started by the service, `sc stop` runs the group's stop script before STOPPED, and
// `arms service uninstall` removes it. See README.md beside this file for what Wine cannot show.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { copyPackage, killWine, readEcho, sleep, wineEnv, winenode, winePath, wineProcesses, writeBat } from './wine';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'arms-win-svc-'));
const home = path.join(tmp, 'home');
const pkg = path.join(tmp, 'pkg');
const groupDir = path.join(home, 'groups', 'G');
/** A name of this run's own, so that a service left by a failed run cannot be confused with it. */
const NAME = `ARMS_T${process.pid}`;
let homeWin = '';

const bin = (name: string) => winePath(path.join(pkg, 'bin', `${name}.js`));
const arms = (args: string[], timeoutMs?: number) => winenode(['node', bin('arms'), ...args], { ARMS_HOME: homeWin }, timeoutMs);
/** sc.exe QUERY's state line: "STATE : 4 RUNNING". */
async function scState(): Promise<string | null> {
  const r = await winenode(['cmd', '/c', 'sc', 'query', NAME]);
  return /STATE\s*:\s*\d+\s+([A-Z_]+)/.exec(r.stdout)?.[1] ?? null;
}
function readLog(): Array<{ src: string; msg: string; group?: string }> {
  const file = path.join(home, 'log', 'cluster.log');
  return fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)) : [];
}

beforeAll(async () => {
  const p = await winenode(['path'], {}, 600_000);
  expect(p.code, `winenode path failed: ${p.stderr}`).toBe(0);
  // Wine starts its automatic services whenever its server starts afresh (after every process of
  // the prefix has ended): a persistent server keeps one "boot" for the whole test. `-p` only
  // applies to a server it starts itself: one still running (`winenode path` just started one,
  // which ends a few seconds after its last process) is ended first, and waited for.
  // (Started so, the server stays in the foreground: it is left running, detached; the last
  // test's killWine ends it.)
  await killWine();
  spawnSync('wineserver', ['-w'], { env: wineEnv(), timeout: 30_000 });
  spawn('wineserver', ['-p'], { env: wineEnv(), stdio: 'ignore', detached: true }).unref();
  await sleep(1000);
  fs.mkdirSync(groupDir, { recursive: true });
  homeWin = winePath(home);
  copyPackage(pkg);
  fs.writeFileSync(path.join(home, 'arms.yaml'), ['groups:', '  G:', '    start: START.BAT', '    stop: STOP.BAT', '    autostart: true', '    timeouts: { start: 120s, stop: 120s }', ''].join('\n'));
  writeBat(path.join(groupDir, 'START.BAT'), ['@ECHO OFF', 'ARMLOG "G started by the service (%ARMS_EVENT%)"', '>started.txt ECHO %ARMS_EVENT%']);
  writeBat(path.join(groupDir, 'STOP.BAT'), ['@ECHO OFF', 'ARMLOG "G stopped by the service (%CLP_FACTOR%)"', '>stopped.txt ECHO %CLP_FACTOR%']);
});

afterAll(async () => {
  await winenode(['node', bin('arms'), 'service', 'uninstall', '--name', NAME], { ARMS_HOME: homeWin }).catch(() => undefined);
  await killWine();
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe.sequential('armsd as a Windows service (the native host, under Wine)', () => {
  it('"arms service install" registers it; "sc query" shows it STOPPED', async () => {
    // The package has no dist\path yet (as unpacked from npm pack): install writes it.
    expect(fs.existsSync(path.join(pkg, 'dist', 'path'))).toBe(false);
    const r = await arms(['service', 'install', '--name', NAME]);
    expect(r.code, `${r.stdout}${r.stderr}`).toBe(0);
    expect(r.stdout.split(/\r?\n/)[0]).toMatch(new RegExp(`^service ${NAME} installed: automatic start, restarts after a failure; home .*, pipe \\\\\\\\\\.\\\\pipe\\\\arms-[0-9a-f]{16}$`));
    expect(fs.readdirSync(path.join(pkg, 'dist', 'path'))).toContain('armlog.exe');
    expect(await scState()).toBe('STOPPED');
    // The registry holds what the SCM runs: the host, with this node, armsd.js and this home
    // (Wine's sc has no qc: the service's key is read instead).
    const q = await winenode(['cmd', '/c', 'reg', 'query', `HKLM\\System\\CurrentControlSet\\Services\\${NAME}`]);
    const image = /ImagePath\s+REG_(?:EXPAND_)?SZ\s+(.*)/.exec(q.stdout)?.[1]?.trim();
    expect(image).toBe(
      `"${winePath(path.join(pkg, 'bin', 'win', 'arms-host.exe'))}" service --name "${NAME}" --node "${(await winenode(['path'])).stdout.trim()}\\node.exe" --script "${bin('armsd')}" --home "${homeWin}" --pipe "${JSON.parse((await arms(['service', 'status', '--json'])).stdout).pipe}"`,
    );
    expect(/Start\s+REG_DWORD\s+(\S+)/.exec(q.stdout)?.[1]).toBe('0x2'); // automatic
    expect(/DisplayName\s+REG_SZ\s+(.*)/.exec(q.stdout)?.[1]?.trim()).toBe(`ARMS control service (${NAME})`);
  });

  it('"sc start": RUNNING once armsd answers; the autostart group was started by the service', async () => {
    const r = await winenode(['cmd', '/c', 'sc', 'start', NAME]);
    expect(r.code, `${r.stdout}${r.stderr}`).toBe(0);
    let state: string | null = null;
    for (const deadline = Date.now() + 120_000; Date.now() < deadline; await sleep(1000)) {
      state = await scState();
      if (state === 'RUNNING') break;
    }
    expect(state, fs.existsSync(path.join(home, 'log', 'service.log')) ? fs.readFileSync(path.join(home, 'log', 'service.log'), 'utf8') : 'no service.log').toBe('RUNNING');
    const st = await arms(['service', 'status', '--json', '--name', NAME]);
    expect(st.code, st.stderr).toBe(0);
    expect(JSON.parse(st.stdout)).toMatchObject({ running: true, home: homeWin, windowsService: { name: NAME, state: 'RUNNING' } });
    for (const deadline = Date.now() + 60_000; readEcho(path.join(groupDir, 'started.txt')) === null && Date.now() < deadline; ) await sleep(500);
    expect(readEcho(path.join(groupDir, 'started.txt'))).toBe('START');
    expect(readLog().filter((l) => l.src === 'ARMLOG').map((l) => l.msg)).toEqual(['G started by the service (START)']);
  });

  it('"sc stop" runs the stop script, then the service is STOPPED and armsd has ended cleanly', async () => {
    const r = await winenode(['cmd', '/c', 'sc', 'stop', NAME]);
    expect(r.code, `${r.stdout}${r.stderr}`).toBe(0);
    let state: string | null = null;
    for (const deadline = Date.now() + 120_000; Date.now() < deadline; await sleep(1000)) {
      state = await scState();
      if (state === 'STOPPED') break;
    }
    expect(state).toBe('STOPPED');
    expect(readEcho(path.join(groupDir, 'stopped.txt'))).toBe('SERVERSHUTDOWN');
    const log = fs.readFileSync(path.join(home, 'log', 'service.log'), 'utf8');
    // (Wine then starts automatic services again whenever its server restarts: later lines may follow.)
    expect(log).toMatch(/arms-host: running\r?\n.*arms-host: stop requested: asking armsd to stop its groups\r?\n.*arms-host: armsd stopped, exit code 0\r?\n/);
    expect(readLog().filter((l) => l.src === 'armsd').pop()?.msg).toBe('armsd stopped');
  });

  it('WINE ONLY: armsd killed: the host ends without reporting STOPPED (a failure: on Windows the recovery actions restart it); Wine restarts nothing', async () => {
    expect((await winenode(['cmd', '/c', 'sc', 'start', NAME])).code).toBe(0);
    for (const deadline = Date.now() + 120_000; (await scState()) !== 'RUNNING' && Date.now() < deadline; ) await sleep(1000);
    const script = bin('armsd');
    const armsd = () => wineProcesses().filter((p) => /node\.exe /.test(p.cmdline) && p.cmdline.endsWith(script) && !/arms-host/.test(p.cmdline));
    expect(armsd().length).toBe(1);
    process.kill(armsd()[0].pid, 'SIGKILL');
    const log = path.join(home, 'log', 'service.log');
    for (const deadline = Date.now() + 30_000; !/armsd ended on its own/.test(fs.readFileSync(log, 'utf8')) && Date.now() < deadline; ) await sleep(500);
    expect(fs.readFileSync(log, 'utf8')).toMatch(/arms-host: armsd ended on its own, exit code \d+: ending without reporting STOPPED, so the recovery actions apply\r?\n$/);
    // Windows would start the service again after 5 s (the first recovery action). Wine has no
    // recovery actions: nothing more happens (and its SCM still says RUNNING).
    await sleep(10_000);
    expect(fs.readFileSync(log, 'utf8')).not.toMatch(/ending without reporting STOPPED.*\r?\n.*started armsd/s);
    expect(armsd()).toEqual([]);
  });

  it('"arms service uninstall" removes it', async () => {
    const r = await arms(['service', 'uninstall', '--name', NAME]);
    expect(r.code, `${r.stdout}${r.stderr}`).toBe(0);
    expect(r.stdout.trim()).toBe(`service ${NAME} removed`);
    expect(await scState()).toBeNull();
    const again = await arms(['service', 'uninstall', '--name', NAME]);
    expect(again.code).toBe(1);
    expect(again.stderr.trim()).toMatch(new RegExp(`^arms: could not remove the service ${NAME}: no service ${NAME} \\(`));
  });
});
