// ARMFOVER, ARMDOWN and the single-server recovery ladder, with real scripts and a real service.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { call } from '../src/client/client';
import { readState } from '../src/service/state';
import { readLog, run, Service, sleep, startService, stopAll, tempDir, until } from './helpers';

afterAll(stopAll);

interface GroupSpec {
  start: string;
  stop: string;
  settings?: string;
}

async function serviceWith(groups: Record<string, GroupSpec>, extra = '', home = tempDir()): Promise<Service> {
  let config = `server: HOMESRV\nsyslog: false\n${extra}groups:\n`;
  for (const [name, g] of Object.entries(groups)) {
    const dir = path.join(home, 'groups', name);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'start.sh'), g.start);
    fs.writeFileSync(path.join(dir, 'stop.sh'), g.stop);
    config += `  ${name}:\n    start: start.sh\n    stop: stop.sh\n${(g.settings ?? '').replace(/^/gm, '    ')}\n`;
  }
  return startService({ home, config });
}

async function group(svc: Service, name: string) {
  const s = (await call(svc.pipe, 'status')) as { groups: any[]; reboots: { count: number; max: number } };
  return s.groups.find((g) => g.name === name);
}


const lines = (file: string) => (fs.existsSync(file) ? fs.readFileSync(file, 'utf8').trim().split('\n') : []);

describe('ARMFOVER on one server', () => {
  it('the documented flow: a failing disk makes the start script ask for a failover asynchronously on HOME, not on OTHER', async () => {
    const dir = tempDir();
    const trace = path.join(dir, 'trace');
    const disk = path.join(dir, 'disk');
    // The disk's activation fails the first time only (a path that is not there yet), as a
    // switched disk that another server held a moment too long.
    const activate = `if [ -f ${dir}/tried ]; then mkdir -p ${disk}; else touch ${dir}/tried; fi`;
    const start = `echo "start $ARMS_EVENT $ARMS_DISK $ARMS_SERVER $CLP_SERVER_PREV" >> ${trace}
if [ "$ARMS_DISK" = "FAILURE" ]; then
  ARMLOG "ERROR DISK $ARMS_GROUPNAME" /ARM
  if [ "$ARMS_SERVER" = "HOME" ]; then ARMFOVER /F "$ARMS_GROUPNAME" & fi
  exit 0
fi
`;
    const stop = `echo "stop $ARMS_EVENT $ARMS_DISK $CLP_FACTOR" >> ${trace}\n`;
    const svc = await serviceWith({
      IIS: { start, stop, settings: `disks:\n  - path: ${disk}\n    activate: ${activate}` },
      BACKUP: { start: start.replace(trace, `${trace}.other`), stop, settings: `policy: [OTHERSRV, HOMESRV]\ndisks:\n  - path: ${path.join(dir, 'never')}` },
    });
    expect((await run('arms', ['group', 'start', 'IIS'], svc.env)).code).toBe(0);
    await until(() => group(svc, 'IIS'), (g) => g.state === 'online' && g.startedAs === 'FAILOVER');
    expect(lines(trace)).toEqual(['start START FAILURE HOME ', 'stop START FAILURE GROUPFAILOVER', 'start FAILOVER SUCCESS HOME HOMESRV']);
    // Its stop script sees the event it was started with.
    expect((await run('arms', ['group', 'stop', 'IIS'], svc.env)).code).toBe(0);
    expect(lines(trace).at(-1)).toBe('stop FAILOVER SUCCESS GROUPSTOP');

    // On OTHER the same script does not ask: the group stays online with its failed disk.
    expect((await run('arms', ['group', 'start', 'BACKUP'], svc.env)).code).toBe(0);
    await sleep(500);
    expect(lines(`${trace}.other`)).toEqual(['start START FAILURE OTHER']);
    expect(await group(svc, 'BACKUP')).toMatchObject({ state: 'online', startedAs: 'START', failovers: { recent: 0 } });
    await svc.stop();
  });

  it('ARMFOVER called synchronously (even with /W) from inside the start script completes after the script: no deadlock, one failover', async () => {
    const trace = path.join(tempDir(), 'trace');
    const svc = await serviceWith({
      G: {
        start: `echo "start $ARMS_EVENT" >> ${trace}\nif [ "$ARMS_EVENT" = START ]; then ARMFOVER /W G; echo "armfover said $?" >> ${trace}; fi\n`,
        stop: `echo "stop $ARMS_EVENT $CLP_FACTOR" >> ${trace}\n`,
      },
    });
    const r = await run('arms', ['group', 'start', 'G'], svc.env);
    expect(r.code).toBe(0);
    await until(() => group(svc, 'G'), (g) => g.startedAs === 'FAILOVER' && g.state === 'online');
    await sleep(300);
    expect(lines(trace)).toEqual(['start START', 'armfover said 0', 'stop START GROUPFAILOVER', 'start FAILOVER']);
    expect(readLog(svc.home).some((x) => /cannot wait from the group's own script/.test(x.msg))).toBe(true);
    await svc.stop();
  });

  it('ten ARMFOVER calls at once give at most two failovers (the one under way, and one that every later call joins)', async () => {
    const trace = path.join(tempDir(), 'trace');
    // A slow start: the ten requests all arrive while the first failover is under way, even on a loaded machine.
    const svc = await serviceWith({ G: { start: `echo "start $ARMS_EVENT" >> ${trace}\nsleep 2\n`, stop: `echo stop >> ${trace}\n`, settings: 'maxFailovers: 10' } });
    expect((await run('arms', ['group', 'start', 'G'], svc.env)).code).toBe(0);
    const results = await Promise.all(Array.from({ length: 10 }, () => run('ARMFOVER', ['G'], svc.env)));
    expect(results.map((r) => r.code)).toEqual(Array(10).fill(0));
    expect(results.filter((r) => /already queued/.test(r.stdout)).length).toBeGreaterThanOrEqual(8);
    const g = await until(() => group(svc, 'G'), (x) => x.state === 'online' && x.queued === 0 && x.lastEvent.result === 'ok');
    await sleep(500);
    const failovers = lines(trace).filter((l) => l === 'start FAILOVER').length;
    expect(failovers).toBeGreaterThanOrEqual(1);
    expect(failovers).toBeLessThanOrEqual(2);
    expect(g.failovers.recent).toBe(failovers);
    await svc.stop();
  });

  it('the failover limit stops a flapping group: it stays in error with an alert', async () => {
    const svc = await serviceWith({ FLAP: { start: 'exit 0\n', stop: 'exit 0\n', settings: 'maxFailovers: 2\nfailoverWindow: 1h' } });
    expect((await run('arms', ['group', 'start', 'FLAP'], svc.env)).code).toBe(0);
    expect((await run('ARMFOVER', ['/W', 'FLAP'], svc.env)).code).toBe(0);
    expect((await run('ARMFOVER', ['/W', 'FLAP'], svc.env)).code).toBe(0);
    const third = await run('ARMFOVER', ['/W', 'FLAP'], svc.env);
    expect(third.code).toBe(1);
    expect(third.stderr).toMatch(/failover limit reached \(2 of 2 within 3600 s\): the group stays in error/);
    expect(await group(svc, 'FLAP')).toMatchObject({ state: 'error', failovers: { recent: 2, max: 2 } });
    expect(readLog(svc.home, 'alert').some((x) => x.group === 'FLAP' && /failover limit reached/.test(x.msg))).toBe(true);
    await svc.stop();
  });

  it('/F goes on when the stop script fails; without it the group stays in error', async () => {
    const trace = path.join(tempDir(), 'trace');
    const svc = await serviceWith({ S: { start: `echo "start $ARMS_EVENT" >> ${trace}\n`, stop: 'exit 4\n' } });
    expect((await run('arms', ['group', 'start', 'S'], svc.env)).code).toBe(0);
    const plain = await run('ARMFOVER', ['/W', 'S'], svc.env);
    expect(plain.code).toBe(1);
    expect(plain.stderr).toMatch(/stop script stop.sh exited with code 4/);
    expect(await group(svc, 'S')).toMatchObject({ state: 'error' });
    expect((await run('ARMFOVER', ['/F', '/W', 'S'], svc.env)).code).toBe(0);
    expect(lines(trace)).toEqual(['start START', 'start FAILOVER']);
    expect((await run('ARMFOVER', ['NOSUCH'], svc.env)).code).toBe(4);
    expect((await run('ARMFOVER', [], svc.env)).code).toBe(2);
    await svc.stop();
  });

  it('/R 2 /FOV on a crashing app: two restarts, then one group failover, the new start sees FAILOVER', async () => {
    const dir = tempDir();
    const trace = path.join(dir, 'trace');
    const svc = await serviceWith({
      APP: {
        // The app crashes while the group runs as started; after the failover it runs steadily.
        start: `echo "start $ARMS_EVENT" >> ${trace}\nif [ "$ARMS_EVENT" = START ]; then ARMLOAD APP /R 2 /FOV sh -c "echo run >> ${dir}/runs; exit 1"; else ARMLOAD APP /R 2 /FOV sleep 300; fi\n`,
        stop: `echo "stop $ARMS_EVENT $CLP_FACTOR" >> ${trace}\nARMKILL APP\n`,
      },
    });
    expect((await run('arms', ['group', 'start', 'APP'], svc.env)).code).toBe(0);
    await until(() => group(svc, 'APP'), (g) => g.startedAs === 'FAILOVER' && g.state === 'online');
    expect(lines(path.join(dir, 'runs'))).toHaveLength(3); // the start and two restarts
    expect(lines(trace)).toEqual(['start START', 'stop START GROUPFAILOVER', 'start FAILOVER']);
    expect(readLog(svc.home, 'alert').filter((x) => x.watch === 'APP' && x.action === 'failover')).toHaveLength(1);
    await svc.stop();
  });
});

describe('ARMDOWN and reboots', () => {
  it('ARMDOWN runs every stop script (SERVERSHUTDOWN) before the power command', async () => {
    const trace = path.join(tempDir(), 'trace');
    const power = `power:\n  shutdown: echo shutdown >> ${trace}\n  reboot: echo reboot >> ${trace}\n`;
    const svc = await serviceWith(
      {
        A: { start: 'exit 0\n', stop: `sleep 0.3; echo "stop A $CLP_FACTOR" >> ${trace}\n` },
        B: { start: 'exit 0\n', stop: `echo "stop B $CLP_FACTOR" >> ${trace}\n` },
      },
      power,
    );
    for (const g of ['A', 'B']) expect((await run('arms', ['group', 'start', g], svc.env)).code).toBe(0);
    const r = await run('ARMDOWN', ['/R'], svc.env);
    expect(r).toMatchObject({ code: 0, stdout: 'ARMDOWN: server reboot accepted\n' });
    await until(async () => lines(trace), (l) => l.includes('reboot'));
    const got = lines(trace);
    expect(got.slice(0, 2).sort()).toEqual(['stop A SERVERSHUTDOWN', 'stop B SERVERSHUTDOWN']);
    expect(got[2]).toBe('reboot');
    expect((await group(svc, 'A')).state).toBe('offline');
    expect((await run('ARMDOWN', ['/R', '/P'], svc.env)).code).toBe(2);
    await svc.stop();
  });

  it('ARMDOWN from inside a group\'s own start script does not deadlock', async () => {
    const trace = path.join(tempDir(), 'trace');
    const svc = await serviceWith({ D: { start: `ARMDOWN\necho "armdown said $?" >> ${trace}\n`, stop: `echo "stop $CLP_FACTOR" >> ${trace}\n` } }, `power: { shutdown: echo shutdown >> ${trace} }\n`);
    expect((await run('arms', ['group', 'start', 'D'], svc.env)).code).toBe(0);
    await until(async () => lines(trace), (l) => l.includes('shutdown'));
    expect(lines(trace)).toEqual(['armdown said 0', 'stop SERVERSHUTDOWN', 'shutdown']);
    await svc.stop();
  });

  it('shutdowns asked for by monitoring are counted across service restarts and stop at maxReboots until cleared', async () => {
    const home = tempDir();
    const trace = path.join(home, 'power');
    const extra = `maxReboots: 1\npower: { shutdown: echo shutdown >> ${trace}, reboot: echo reboot >> ${trace} }\n`;
    const groups = { W: { start: 'ARMLOAD DIES /M /SHUT sh -c "sleep 0.2; exit 1"\n', stop: 'ARMKILL DIES\n', settings: 'finalAction: reboot' } };
    let svc = await serviceWith(groups, extra, home);
    expect((await run('arms', ['group', 'start', 'W'], svc.env)).code).toBe(0);
    await until(async () => lines(trace), (l) => l.length > 0);
    expect(lines(trace)).toEqual(['reboot']);
    await svc.stop();

    svc = await startService({ home });
    const status = await run('arms', ['status'], svc.env);
    expect(status.stdout).toMatch(/server shutdowns by monitoring: 1 of 1 \(limit reached: "arms clear reboots"\)/);
    expect((await run('arms', ['group', 'start', 'W'], svc.env)).code).toBe(0);
    await until(async () => readLog(svc.home, 'alert').some((x) => /reboot limit is reached/.test(x.msg)), (x) => x);
    expect(lines(trace)).toEqual(['reboot']); // refused: no second reboot
    const cleared = await run('arms', ['clear', 'reboots'], svc.env);
    expect(cleared).toMatchObject({ code: 0, stdout: 'reboot count cleared (was 1)\n' });
    expect(((await call(svc.pipe, 'status')) as any).reboots).toEqual({ count: 0, max: 1 });
    await svc.stop();
  });
});

describe('RECOVER', () => {
  it('runs each group\'s start script with RECOVER after a kill -9 of the service, and not after a clean stop', async () => {
    const home = tempDir();
    const trace = path.join(home, 'trace');
    const start = `echo "start $ARMS_EVENT" >> ${trace}\n`;
    let svc = await serviceWith({ R: { start, stop: 'exit 0\n', settings: 'autostart: true' } }, '', home);
    await until(() => group(svc, 'R'), (g) => g.state === 'online');
    await svc.stop(); // clean: stop scripts run, no RECOVER next time
    svc = await startService({ home });
    await until(() => group(svc, 'R'), (g) => g.state === 'online');
    expect(lines(trace)).toEqual(['start START', 'start START']);
    // The state reaches the disk just after the answer (in the background): the crash must come
    // after it, or the group is rightly restored as caught mid-start (in error).
    const onDisk = () => readState(path.join(home, 'state')).state?.groups?.R?.state;
    await until(async () => onDisk(), (s) => s === 'online');

    svc.proc.kill('SIGKILL');
    await svc.exited;
    svc = await startService({ home });
    // The group is still online (taken back as it was: nothing is started twice); its start script
    // runs once more, as the RECOVER hook.
    await until(async () => lines(trace), (l) => l.length === 3);
    expect(await group(svc, 'R')).toMatchObject({ state: 'online' });
    await sleep(300);
    expect(lines(trace)).toEqual(['start START', 'start START', 'start RECOVER']);
    expect(readLog(home, 'alert').some((x) => /did not stop cleanly last time/.test(x.msg))).toBe(true);
    await svc.stop();
  });
});
