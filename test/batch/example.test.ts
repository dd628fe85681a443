// The LEGACY example group (examples/groups/legacy: START.BAT, STOP.BAT, movegroup.bat) under a
// real service with the real commands (ARMLOAD, ARMRSP, ARMLOG, ARMKILL, ARMFOVER): start, HTTP,
// failover, stop, a failed disk that moves the group on, RECOVER. The service runs .bat scripts
// through the interpreter once script-command.ts is wired to it; until then the group's scripts are
// two-line .sh files that exec the interpreter on the example's .bat files.
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { call } from '../../src/client/client';
import { scriptCommand } from '../../src/platform/script-command';
import { groupDefaults } from '../../src/service/group-config';
import { scriptEnv } from '../../src/service/script-env';
import { COMMANDS, fromArmlog, readLog, ROOT, run, Service, sleep, startService, stopAll, tempDir } from '../helpers';
import { BATCH_MAIN, runFile } from './run-bat';

afterAll(stopAll);

const EXAMPLE = path.join(ROOT, 'examples', 'groups', 'legacy');

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

function servicesRunBatch(): boolean {
  try {
    scriptCommand(path.join(EXAMPLE, 'START.BAT'));
    return true;
  } catch {
    return false;
  }
}

/** The group's scripts as the config names them: the .bat files, or .sh files that hand over to the interpreter. */
function scripts(home: string): { start: string; stop: string } {
  if (servicesRunBatch()) return { start: 'START.BAT', stop: 'STOP.BAT' };
  const shims = path.join(home, 'shims');
  fs.mkdirSync(shims, { recursive: true });
  for (const name of ['START', 'STOP']) {
    fs.writeFileSync(path.join(shims, `${name}.sh`), `cd "${EXAMPLE}"\nexec "${process.execPath}" "${BATCH_MAIN}" ${name}.BAT\n`);
  }
  return { start: path.join(shims, 'START.sh'), stop: path.join(shims, 'STOP.sh') };
}

async function legacyService(opts: { failDiskOnce?: boolean } = {}) {
  const home = tempDir('arms-legacy-');
  const data = path.join(home, 'data');
  const port = await freePort();
  // A disk whose first activation fails (as a switched disk another server held a moment too long).
  const activate = opts.failDiskOnce ? `if [ -f ${home}/tried ]; then mkdir -p ${data}; else touch ${home}/tried; fi` : `mkdir -p ${data}`;
  const s = scripts(home);
  const config = `server: LEGACYSRV
syslog: false
groups:
  LEGACY:
    dir: ${EXAMPLE}
    start: ${s.start}
    stop: ${s.stop}
    timeouts: { start: 30s, stop: 30s }
    maxFailovers: 2
    disks:
      - path: ${data}
        activate: ${activate}
`;
  const svc = await startService({ home, config, env: { WEB_PORT: String(port), WEB_DATA: data } });
  return { svc, port, data };
}

async function group(svc: Service) {
  return ((await call(svc.pipe, 'status')) as { groups: any[] }).groups.find((g) => g.name === 'LEGACY');
}

async function watchIds(svc: Service): Promise<string[]> {
  const w = ((await call(svc.pipe, 'status')) as { watches: Array<{ id: string; group: string | null }> }).watches;
  return w.filter((x) => x.group === 'LEGACY').map((x) => x.id.toUpperCase()).sort();
}

async function get(port: number): Promise<string | null> {
  try {
    return await (await fetch(`http://127.0.0.1:${port}/`)).text();
  } catch {
    return null;
  }
}

async function until<T>(what: () => Promise<T>, ok: (v: T) => boolean, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await what();
    if (ok(v) || Date.now() > deadline) return v;
    await sleep(50);
  }
}

const legacyLines = (svc: Service) => fromArmlog(svc.home).filter((x) => x.group === 'LEGACY').map((x) => x.msg);

describe('the LEGACY example group, in the batch dialect, under the service', () => {
  it('start, answer, fail over, stop', async () => {
    const { svc, port } = await legacyService();
    const started = await run('arms', ['group', 'start', 'LEGACY'], svc.env);
    expect(started.stderr).toBe('');
    expect(started.code).toBe(0);
    expect(await get(port)).toMatch(/^hello from group LEGACY \(started as START\), visit 1/);
    expect(await watchIds(svc)).toEqual(['LEGACY_RSP', 'LEGACY_WEB']);
    expect(legacyLines(svc)).toEqual(['LEGACY: start script, normal start on HOME', expect.stringMatching(/^LEGACY: application answers on port \d+ \(\d+ retries\)$/)]);

    // A failover on one server: the stop script, then the start script with FAILOVER.
    expect((await run('ARMFOVER', ['/W', 'LEGACY'], svc.env)).code).toBe(0);
    expect(await group(svc)).toMatchObject({ state: 'online', startedAs: 'FAILOVER' });
    expect(await get(port)).toMatch(/^hello from group LEGACY \(started as FAILOVER\), visit 2/);
    expect(legacyLines(svc).slice(2, 6)).toEqual([
      'LEGACY: stop script (START, GROUPFAILOVER)',
      'LEGACY: stop script done',
      'LEGACY: start script, taking the group over (previous server: LEGACYSRV)',
      expect.stringMatching(/^LEGACY: application answers/),
    ]);

    expect((await run('arms', ['group', 'stop', 'LEGACY'], svc.env)).code).toBe(0);
    expect(await watchIds(svc)).toEqual([]);
    expect(await get(port)).toBeNull();
    expect(legacyLines(svc).slice(-2)).toEqual(['LEGACY: stop script (FAILOVER, GROUPSTOP)', 'LEGACY: stop script done']);
    // No script complained on stderr (those lines go to the cluster log as warnings).
    expect(readLog(svc.home).filter((x) => x.src === 'script' && x.level >= 40)).toEqual([]);
    await svc.stop();
  });

  it('a failed disk on the home server: the alert, movegroup.bat asks ARMFOVER, the group comes back as FAILOVER', async () => {
    const { svc, port } = await legacyService({ failDiskOnce: true });
    expect((await run('arms', ['group', 'start', 'LEGACY'], svc.env)).code).toBe(0);
    const g = await until(() => group(svc), (x) => x.state === 'online' && x.startedAs === 'FAILOVER');
    expect(g).toMatchObject({ state: 'online', startedAs: 'FAILOVER', disk: 'SUCCESS' });
    expect(await get(port)).toMatch(/started as FAILOVER/);
    expect(readLog(svc.home, 'alert').some((x) => x.group === 'LEGACY' && x.msg === 'LEGACY: data disk not usable on HOME')).toBe(true);
    expect(await watchIds(svc)).toEqual(['LEGACY_RSP', 'LEGACY_WEB']);
    expect((await run('arms', ['group', 'stop', 'LEGACY'], svc.env)).code).toBe(0);
    await svc.stop();
  });

  it('RECOVER is a hook that only logs; STOP.BAT without an event alerts', async () => {
    const { svc } = await legacyService();
    const g = { ...groupDefaults('LEGACY', 'LEGACYSRV', EXAMPLE), start: path.join(EXAMPLE, 'START.BAT'), stop: path.join(EXAMPLE, 'STOP.BAT') };
    const env = scriptEnv(svc.env, { group: g, server: 'LEGACYSRV', which: 'start', event: 'RECOVER', disk: 'SUCCESS', pipe: svc.pipe, commandsDir: COMMANDS });
    const r = await runFile(path.join(EXAMPLE, 'START.BAT'), { env, cwd: EXAMPLE });
    expect(r).toMatchObject({ code: 0, stdout: '', stderr: '' });
    expect(legacyLines(svc)).toEqual(['LEGACY: this server is back (RECOVER)']);
    expect(await watchIds(svc)).toEqual([]);
    const stop = await runFile(path.join(EXAMPLE, 'STOP.BAT'), { env: { ...svc.env, ARMS_GROUPNAME: 'LEGACY' }, cwd: EXAMPLE });
    expect(stop.code).toBe(0);
    expect(readLog(svc.home, 'alert').some((x) => x.msg === 'LEGACY: run without ARMS_EVENT: nothing stopped')).toBe(true);
    await svc.stop();
  });
});
