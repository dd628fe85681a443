// Issue 7, acceptance 5: the LEGACY example group (examples/groups/legacy: START.BAT, STOP.BAT,
// movegroup.bat, unchanged) under the Windows service (node.exe under Wine), whose scripts run through
// Wine's cmd.exe, against the same group under the Linux service, whose scripts run through the batch
// interpreter: the same ARMLOG lines (message, level, alert) and the same watches, at each step of
// start, failover and stop. See README.md beside this file for what differs under Wine.
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call } from '../../src/client/client';
import { fromArmlog, run, startService, stopAll, tempDir } from '../helpers';
import { copyPackage, killWine, ROOT, Running, sleep, startWinenode, winenode, winePath } from './wine';

const EXAMPLE = path.join(ROOT, 'examples', 'groups', 'legacy');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'arms-win-legacy-'));
const home = path.join(tmp, 'home');
const pkg = path.join(tmp, 'pkg');
const data = path.join(tmp, 'data');
let homeWin = '';
let service: Running | null = null;
let port = 0;

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

const bin = (name: string) => winePath(path.join(pkg, 'bin', `${name}.js`));
const armsWin = (args: string[], timeoutMs?: number) => winenode(['node', bin('arms'), ...args], { ARMS_HOME: homeWin }, timeoutMs);
const armfoverWin = (args: string[]) => winenode(['node', bin('armfover'), ...args], { ARMS_HOME: homeWin });

interface Rec {
  src: string;
  msg: string;
  level: number;
  group?: string;
  alert?: boolean;
}
function readLog(h: string, which: 'cluster' | 'alert' = 'cluster'): Rec[] {
  const file = path.join(h, 'log', `${which}.log`);
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Rec);
}

/** What the comparison looks at: ARMLOG lines of the group (the port and retry count made generic). */
const armlogLines = (recs: Rec[], group = 'LEGACY') =>
  recs.filter((x) => x.src === 'ARMLOG' && x.group === group).map((x) => [x.msg.replace(/port \d+ \(\d+ retries\)/, 'port P (N retries)'), x.level, !!x.alert]);

type Watch = { id: string; group: string | null; state: string; restartsAllowed: number | null };
const watchView = (ws: Watch[], group = 'LEGACY') =>
  ws
    .filter((w) => w.group === group)
    .map((w) => ({ id: w.id.toUpperCase(), state: w.state, restartsAllowed: w.restartsAllowed }))
    .sort((a, b) => (a.id < b.id ? -1 : 1));

async function statusWin(): Promise<{ groups: any[]; watches: Watch[] }> {
  const r = await armsWin(['status', '--json']);
  if (r.code !== 0) throw new Error(`arms status --json: ${r.code} ${r.stderr}`);
  return JSON.parse(r.stdout);
}

beforeAll(async () => {
  const p = await winenode(['path'], {}, 600_000);
  expect(p.code, `winenode path failed: ${p.stderr}`).toBe(0);
  fs.mkdirSync(home, { recursive: true });
  homeWin = winePath(home);
  copyPackage(pkg);
  const made = await winenode(['node', winePath(path.join(pkg, 'scripts', 'make-path.js'))]);
  expect(made.code, made.stderr).toBe(0);
  port = await freePort();
  const dataWin = winePath(tmp) + '\\data';
  fs.writeFileSync(
    path.join(home, 'arms.yaml'),
    [
      'server: LEGACYSRV',
      'groups:',
      '  LEGACY:',
      `    dir: '${winePath(EXAMPLE)}'`,
      '    start: START.BAT',
      '    stop: STOP.BAT',
      '    timeouts: { start: 120s, stop: 120s }',
      '    maxFailovers: 2',
      '    disks:',
      `      - path: '${dataWin}'`,
      `        activate: 'if not exist "${dataWin}" mkdir "${dataWin}"'`,
      // A disk whose first activation leaves it unusable (as a switched disk another server held a
      // moment too long): START.BAT takes its disk-failure branch and starts movegroup.bat.
      '  LEGACYDISK:',
      `    dir: '${winePath(EXAMPLE)}'`,
      '    start: START.BAT',
      '    stop: STOP.BAT',
      '    timeouts: { start: 120s, stop: 120s }',
      '    maxFailovers: 2',
      '    disks:',
      `      - path: '${dataWin}2'`,
      `        activate: 'if exist "${dataWin}2.tried" (if not exist "${dataWin}2" mkdir "${dataWin}2") else (type nul > "${dataWin}2.tried")'`,
      '',
    ].join('\n'),
  );
  service = startWinenode(['node', bin('armsd')], { ARMS_HOME: homeWin, WEB_PORT: String(port), WEB_DATA: dataWin });
  let ended = false;
  void service.done.then(() => (ended = true));
  for (const deadline = Date.now() + 180_000; ; await sleep(500)) {
    if (ended) {
      const r = await service.done;
      throw new Error(`armsd ended before answering (exit ${r.code}):\n${r.stdout}${r.stderr}`);
    }
    const s = await armsWin(['service', 'status', '--json']);
    if (s.code === 0) break;
    if (Date.now() > deadline) throw new Error(`armsd did not answer within 180 s: ${s.stderr}`);
  }
});

afterAll(async () => {
  await stopAll();
  if (service) {
    const stillRunning = await Promise.race([service.done.then(() => false), sleep(0).then(() => true)]);
    if (stillRunning) {
      await armsWin(['service', 'stop', '--timeout', '60'], 90_000).catch(() => undefined);
      const ended = await Promise.race([service.done.then(() => true), sleep(30_000).then(() => false)]);
      if (!ended) service.kill();
    }
  }
  await killWine();
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** The same steps on Linux: the service runs the .bat files through the batch interpreter. */
async function onLinux() {
  const h = tempDir('arms-win-legacy-linux-');
  const d = path.join(h, 'data');
  const svc = await startService({
    home: h,
    config: `server: LEGACYSRV\nsyslog: false\ngroups:\n  LEGACY:\n    dir: ${EXAMPLE}\n    start: START.BAT\n    stop: STOP.BAT\n    timeouts: { start: 30s, stop: 30s }\n    maxFailovers: 2\n    disks:\n      - path: ${d}\n        activate: mkdir -p ${d}\n`,
    env: { WEB_PORT: String(await freePort()), WEB_DATA: d },
  });
  const st = async () => (await call(svc.pipe, 'status')) as { groups: any[]; watches: Watch[] };
  const seen: Record<string, unknown> = {};
  expect((await run('arms', ['group', 'start', 'LEGACY'], svc.env)).code).toBe(0);
  seen.started = { state: (await st()).groups[0].state, watches: watchView((await st()).watches), log: armlogLines(readLog(svc.home)) };
  expect((await run('ARMFOVER', ['/W', 'LEGACY'], svc.env)).code).toBe(0);
  seen.failedOver = { startedAs: (await st()).groups[0].startedAs, watches: watchView((await st()).watches), log: armlogLines(readLog(svc.home)) };
  expect((await run('arms', ['group', 'stop', 'LEGACY'], svc.env)).code).toBe(0);
  seen.stopped = { state: (await st()).groups[0].state, watches: watchView((await st()).watches), log: armlogLines(readLog(svc.home)) };
  seen.alert = armlogLines(readLog(svc.home, 'alert'));
  expect(fromArmlog(svc.home).length).toBeGreaterThan(0);
  await svc.stop();
  return seen;
}

/** On Linux: LEGACYDISK, whose disk is unusable at the first start: movegroup.bat fails the group over. */
async function diskOnLinux() {
  const h = tempDir('arms-win-legacy-linux-');
  const d = path.join(h, 'data2');
  const svc = await startService({
    home: h,
    config: `server: LEGACYSRV\nsyslog: false\ngroups:\n  LEGACYDISK:\n    dir: ${EXAMPLE}\n    start: START.BAT\n    stop: STOP.BAT\n    timeouts: { start: 30s, stop: 30s }\n    maxFailovers: 2\n    disks:\n      - path: ${d}\n        activate: if [ -f ${d}.tried ]; then mkdir -p ${d}; else touch ${d}.tried; fi\n`,
    env: { WEB_PORT: String(await freePort()), WEB_DATA: d },
  });
  const st = async () => (await call(svc.pipe, 'status')) as { groups: any[]; watches: Watch[] };
  expect((await run('arms', ['group', 'start', 'LEGACYDISK'], svc.env)).code).toBe(0);
  let g: any;
  for (const deadline = Date.now() + 30_000; Date.now() < deadline; await sleep(100)) {
    g = (await st()).groups[0];
    if (g.state === 'online' && g.startedAs === 'FAILOVER') break;
  }
  const seen = { state: g.state, startedAs: g.startedAs, disk: g.disk, watches: watchView((await st()).watches, 'LEGACYDISK'), log: armlogLines(readLog(svc.home), 'LEGACYDISK'), alert: armlogLines(readLog(svc.home, 'alert'), 'LEGACYDISK') };
  expect((await run('arms', ['group', 'stop', 'LEGACYDISK'], svc.env)).code).toBe(0);
  await svc.stop();
  return seen;
}

describe.sequential('the LEGACY example group through cmd.exe (Windows service under Wine) and through the interpreter (Linux)', () => {
  it('start, failover, stop: the same ARMLOG lines and the same watches as on Linux', async () => {
    const linux = await onLinux();
    const win: Record<string, unknown> = {};
    const started = await armsWin(['group', 'start', 'LEGACY']);
    expect(started.code, `${started.stdout}${started.stderr}\n${JSON.stringify(readLog(home).slice(-15), null, 1)}`).toBe(0);
    const answer = await fetch(`http://127.0.0.1:${port}/`).then((r) => r.text());
    expect(answer).toMatch(/^hello from group LEGACY \(started as START\), visit 1/);
    let s = await statusWin();
    win.started = { state: s.groups.find((g) => g.name === 'LEGACY').state, watches: watchView(s.watches), log: armlogLines(readLog(home)) };
    const fover = await armfoverWin(['/W', 'LEGACY']);
    expect(fover.code, `${fover.stdout}${fover.stderr}\n${JSON.stringify(readLog(home).slice(-15), null, 1)}`).toBe(0);
    s = await statusWin();
    win.failedOver = { startedAs: s.groups.find((g) => g.name === 'LEGACY').startedAs, watches: watchView(s.watches), log: armlogLines(readLog(home)) };
    const stopped = await armsWin(['group', 'stop', 'LEGACY']);
    expect(stopped.code, `${stopped.stdout}${stopped.stderr}`).toBe(0);
    s = await statusWin();
    win.stopped = { state: s.groups.find((g) => g.name === 'LEGACY').state, watches: watchView(s.watches), log: armlogLines(readLog(home)) };
    win.alert = armlogLines(readLog(home, 'alert'));
    expect(win).toEqual(linux);
    expect((linux.stopped as any).log).toEqual([
      ['LEGACY: start script, normal start on HOME', 30, false],
      ['LEGACY: application answers on port P (N retries)', 30, false],
      ['LEGACY: stop script (START, GROUPFAILOVER)', 30, false],
      ['LEGACY: stop script done', 30, false],
      ['LEGACY: start script, taking the group over (previous server: LEGACYSRV)', 30, false],
      ['LEGACY: application answers on port P (N retries)', 30, false],
      ['LEGACY: stop script (FAILOVER, GROUPSTOP)', 30, false],
      ['LEGACY: stop script done', 30, false],
    ]);
    expect((linux.started as any).watches.map((w: Watch) => w.id)).toEqual(['LEGACY_RSP', 'LEGACY_WEB']);
  });

  it('a failed disk: the alert, movegroup.bat (START ARMFOVER /F), the group back online as FAILOVER, as on Linux', async () => {
    const linux = await diskOnLinux();
    const started = await armsWin(['group', 'start', 'LEGACYDISK']);
    expect(started.code, `${started.stdout}${started.stderr}`).toBe(0);
    let g: any;
    let s = await statusWin();
    for (const deadline = Date.now() + 120_000; Date.now() < deadline; await sleep(1000)) {
      s = await statusWin();
      g = s.groups.find((x) => x.name === 'LEGACYDISK');
      if (g.state === 'online' && g.startedAs === 'FAILOVER') break;
    }
    const win = { state: g.state, startedAs: g.startedAs, disk: g.disk, watches: watchView(s.watches, 'LEGACYDISK'), log: armlogLines(readLog(home), 'LEGACYDISK'), alert: armlogLines(readLog(home, 'alert'), 'LEGACYDISK') };
    expect(win, JSON.stringify(readLog(home).filter((x) => x.group === 'LEGACYDISK').slice(-20), null, 1)).toEqual(linux);
    expect(linux).toMatchObject({ state: 'online', startedAs: 'FAILOVER', disk: 'SUCCESS' });
    expect(linux.alert.map((x) => x[0])).toContain('LEGACY: data disk not usable on HOME');
    const stopped = await armsWin(['group', 'stop', 'LEGACYDISK']);
    expect(stopped.code, `${stopped.stdout}${stopped.stderr}`).toBe(0);
  });
});
