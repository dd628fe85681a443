// Recovery per monitor (config monitors.<name>.recovery), with the real service, real ARMLOAD and
// ARMRSP, real scripts: the ladder (re-activations of the target, then the final action once), the
// recovery script with CLP_ACTION, CLP_MONITORNAME, CLP_RECOVERYCOUNT, CLP_GROUPNAME, the wait that a
// passing check calls off, and an ARMRSP whose failures the service handles instead of its end.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { call } from '../../src/client/client';
import { recoveryDefaults } from '../../src/service/monitor-config';
import { decideRecovery, freshCounters } from '../../src/service/recovery';
import { readLog, run, Service, sleep, startService, stopAll, tempDir, until } from '../helpers';

afterAll(stopAll);

interface S {
  groups: Array<{ name: string; state: string; startedAs: string | null; failovers: { recent: number } }>;
  watches: Array<{ id: string; pid: number | null; state: string; restartsUsed: number }>;
  monitors: Array<{ monitor: string; ok: boolean; failures: number; kind: string }>;
  recoveries: Array<{ monitor: string; state: string; restarts: number; restartsAllowed: number; finalAction: string; finalTaken: boolean; last: { action: string; result: string } | null }>;
}
const status = async (svc: Service) => (await call(svc.pipe, 'status')) as S;

/** A group G whose start script loads APP (and more), a recovery script that records its environment. */
function setup(start: string, extra = '') {
  const home = tempDir('arms-recovery-');
  const dir = path.join(home, 'groups', 'G');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'start.sh'), `echo "start $ARMS_EVENT" >> ${home}/trace\n${start}`);
  fs.writeFileSync(path.join(dir, 'stop.sh'), `echo "stop $ARMS_EVENT $CLP_FACTOR" >> ${home}/trace\nARMKILL APP; ARMKILL RSP; exit 0\n`);
  fs.writeFileSync(
    path.join(home, 'recover.sh'),
    `echo "$CLP_ACTION $CLP_MONITORNAME $CLP_RECOVERYCOUNT $CLP_GROUPNAME $CLP_RESTARTCOUNT" >> ${home}/actions\n${extra}`,
  );
  const flag = path.join(home, 'healthy');
  fs.writeFileSync(flag, '');
  const trace = () => (fs.existsSync(path.join(home, 'trace')) ? fs.readFileSync(path.join(home, 'trace'), 'utf8').trim().split('\n') : []);
  const actions = () => (fs.existsSync(path.join(home, 'actions')) ? fs.readFileSync(path.join(home, 'actions'), 'utf8').trim().split('\n') : []);
  return { home, flag, trace, actions };
}

describe('the recovery ladder (pure)', () => {
  it('restarts up to the count, then the final action once, then nothing until resetAfter without a failure', () => {
    const cfg = { ...recoveryDefaults(), target: { kind: 'watch' as const, id: 'APP' }, restarts: 2, finalAction: 'failover' as const, resetAfter: 60 };
    let c = freshCounters();
    const steps: string[] = [];
    for (const t of [0, 1000, 2000, 3000]) {
      const s = decideRecovery(cfg, c, t);
      c = s.counters;
      steps.push(s.action === 'final' ? `final ${s.final} ${c.recoveries}` : `${s.action} ${c.recoveries}`);
    }
    expect(steps).toEqual(['restart 1', 'restart 2', 'final failover 3', 'spent 3']);
    // a minute after the last failure: a fresh ladder
    expect(decideRecovery(cfg, c, 3000 + 60_000)).toMatchObject({ action: 'restart', counters: { restarts: 1, recoveries: 1 } });
    // the server cannot be re-activated: the final action at once
    expect(decideRecovery({ ...cfg, target: { kind: 'server' }, restarts: 0, finalAction: 'reboot' }, freshCounters(), 0)).toMatchObject({ action: 'final', final: 'reboot' });
  });
});

describe('a monitor the service runs, with a recovery', () => {
  it('cmd monitor, target watch:APP, 2 restarts, then stop-group; the script runs first each time with its variables', async () => {
    const { home, flag, trace, actions } = setup('ARMLOAD APP sleep 600\n');
    const svc = await startService({
      home,
      config: `syslog: false
groups:
  G: { start: start.sh, stop: stop.sh }
monitors:
  APPCHECK:
    group: G
    cmd: test -f ${flag}
    interval: 200ms
    failures: 2
    recovery:
      target: watch:APP
      restarts: 2
      finalAction: stop-group
      script: recover.sh
`,
    });
    expect((await run('arms', ['group', 'start', 'G'], svc.env)).code).toBe(0);
    await until(() => status(svc), (s) => s.monitors.some((m) => m.monitor === 'APPCHECK' && m.ok));
    const pid0 = (await status(svc)).watches.find((w) => w.id === 'APP')!.pid;
    fs.rmSync(flag);
    const g = await until(async () => (await status(svc)).groups[0], (x) => x.state === 'offline', 20_000);
    expect(g.state).toBe('offline');
    expect(actions()).toEqual(['RESTART APPCHECK 1 G 1', 'RESTART APPCHECK 2 G 2', 'FINALACTION APPCHECK 3 G 2']);
    expect(trace()).toEqual(['start START', 'stop START GROUPSTOP']);
    const restarts = readLog(home).filter((l) => /^watch APP restarted by a monitor's recovery/.test(l.msg));
    expect(restarts).toHaveLength(2);
    expect(restarts.map((l) => l.pid)).not.toContain(pid0);
    const alerts = readLog(home, 'alert').filter((l) => l.src === 'recovery' && l.event === 'monitor-failed').map((l) => l.msg);
    expect(alerts).toEqual([
      expect.stringMatching(/^monitor APPCHECK: cmd test -f .* failed 2 checks in a row: exit code 1; restarting watch APP \(1 of 2\)$/),
      expect.stringMatching(/failed 4 checks in a row: exit code 1; restarting watch APP \(2 of 2\)$/),
      expect.stringMatching(/failed 6 checks in a row: exit code 1; stopping group G$/),
    ]);
    // offline: the monitor of the group does not check any more
    const after = (await status(svc)).monitors.find((m) => m.monitor === 'APPCHECK')!;
    await sleep(600);
    expect((await status(svc)).monitors.find((m) => m.monitor === 'APPCHECK')).toEqual(after);
    await svc.stop();
  });

  it('a wait before acting: a check that passes meanwhile calls the recovery off', async () => {
    const { home, flag, actions } = setup('ARMLOAD APP sleep 600\n');
    const svc = await startService({
      home,
      config: `syslog: false
groups:
  G: { start: start.sh, stop: stop.sh }
monitors:
  APPCHECK: { group: G, cmd: "test -f ${flag}", interval: 200ms, failures: 1, recovery: { target: "watch:APP", restarts: 1, wait: 2s, script: recover.sh } }
`,
    });
    expect((await run('arms', ['group', 'start', 'G'], svc.env)).code).toBe(0);
    await until(() => status(svc), (s) => s.monitors.some((m) => m.monitor === 'APPCHECK' && m.ok));
    const pid = (await status(svc)).watches[0].pid;
    fs.rmSync(flag);
    await until(async () => readLog(home), (l) => l.some((x) => /recovery in 2 s unless it passes meanwhile/.test(x.msg)));
    expect((await status(svc)).recoveries).toMatchObject([{ monitor: 'APPCHECK', state: 'waiting' }]);
    fs.writeFileSync(flag, '');
    await until(async () => readLog(home), (l) => l.some((x) => /passed again during the wait: recovery called off/.test(x.msg)));
    await sleep(2200);
    expect(actions()).toEqual([]);
    expect((await status(svc)).watches[0].pid).toBe(pid);
    expect((await status(svc)).recoveries).toMatchObject([{ monitor: 'APPCHECK', state: 'idle', restarts: 0, last: null }]);
    await svc.stop();
  });
});

describe('an ARMRSP with a recovery in the config', () => {
  it('does not end at /N: the service restarts its group, then fails it over; the script mends the resource at the failover', async () => {
    const { home, flag, trace, actions } = setup(`ARMLOAD RSP /R 9 /FOV ARMRSP /CMD "test -f ${'$FLAG'}" /INT 0.2 /N 2\n`, `[ "$CLP_ACTION" = FAILOVER ] && touch "$FLAG"\nexit 0\n`);
    const svc = await startService({
      home,
      env: { FLAG: path.join(home, 'healthy') },
      config: `syslog: false
groups:
  G: { start: start.sh, stop: stop.sh }
monitors:
  RSP:
    recovery: { target: group, restarts: 1, finalAction: failover, script: recover.sh }
`,
    });
    expect((await run('arms', ['group', 'start', 'G'], svc.env)).code).toBe(0);
    await until(() => status(svc), (s) => s.monitors.some((m) => m.monitor === 'RSP' && m.ok));
    fs.rmSync(flag);
    const g = await until(async () => (await status(svc)).groups[0], (x) => x.startedAs === 'FAILOVER' && x.state === 'online', 30_000);
    expect(g).toMatchObject({ state: 'online', startedAs: 'FAILOVER', failovers: { recent: 1 } });
    expect(trace()).toEqual(['start START', 'stop START RESOURCERESTART', 'start START', 'stop START GROUPFAILOVER', 'start FAILOVER']);
    expect(actions()).toEqual(['RESTART RSP 1 G 1', 'FAILOVER RSP 2 G 1']);
    // ARMRSP itself never ended: no restart of its watch was used.
    expect((await status(svc)).watches.find((w) => w.id === 'RSP')).toMatchObject({ state: 'running', restartsUsed: 0 });
    expect(readLog(home, 'alert').filter((l) => l.src === 'ARMRSP' && /exiting$/.test(l.msg))).toEqual([]);
    await until(() => status(svc), (s) => s.monitors.some((m) => m.monitor === 'RSP' && m.ok));
    expect((await run('arms', ['group', 'stop', 'G'], svc.env)).code).toBe(0);
    await svc.stop();
  });
  it('loaded outside any group, with target: group: the restart fails in the alert log and in recoveries[] (nothing to restart), never "done"', async () => {
    const home = tempDir('arms-recovery-');
    const svc = await startService({ home, config: 'syslog: false\nmonitors:\n  RSP: { recovery: { restarts: 1 } }\n' });
    expect((await run('ARMLOAD', ['RSP', 'ARMRSP', '/CMD', 'false', '/INT', '0.2', '/N', '1'], svc.env)).code).toBe(0);
    const s = await until(() => status(svc), (x) => x.recoveries[0]?.last !== null && x.recoveries[0].state === 'idle');
    expect(s.recoveries).toEqual([expect.objectContaining({ monitor: 'RSP', restarts: 1, last: expect.objectContaining({ action: 'restart', result: 'failed: monitor RSP has no group to restart' }) })]);
    expect(readLog(home, 'alert').filter((l) => l.src === 'recovery').map((l) => l.msg)).toEqual([
      'monitor RSP: cmd false failed 1 check in a row: exit code 1; restarting group (none: the monitor has no group) (1 of 1)',
      'monitor RSP: recovery (restart) failed: monitor RSP has no group to restart',
    ]);
    expect((await run('ARMKILL', ['RSP'], svc.env)).code).toBe(0);
    await svc.stop();
  });
});

describe('final actions on the server', () => {
  it('http monitor, target server, finalAction reboot: the script (FINALACTION), then the power command, counted against maxReboots; tcp monitor, finalAction none: the script and an alert only', async () => {
    const { home, actions } = setup('exit 0\n');
    const http = await import('node:http');
    const net = await import('node:net');
    const sick = http.createServer((_q, s) => s.writeHead(503).end('down')).listen(0, '127.0.0.1');
    await new Promise((r) => sick.once('listening', r));
    const closed = net.createServer().listen(0, '127.0.0.1');
    await new Promise((r) => closed.once('listening', r));
    const tcpPort = (closed.address() as import('node:net').AddressInfo).port;
    closed.close();
    const svc = await startService({
      home,
      config: `syslog: false
maxReboots: 1
power: { reboot: "echo reboot >> ${home}/power" }
groups:
  G: { start: start.sh, stop: stop.sh }
monitors:
  WEB: { http: "http://127.0.0.1:${(sick.address() as import('node:net').AddressInfo).port}/", interval: 100ms, failures: 2, recovery: { target: server, finalAction: reboot, script: recover.sh } }
  DBPORT: { tcp: "127.0.0.1:${tcpPort}", interval: 100ms, failures: 2, recovery: { target: server, script: recover.sh } }
`,
    });
    await until(async () => (fs.existsSync(path.join(home, 'power')) ? fs.readFileSync(path.join(home, 'power'), 'utf8') : ''), (t) => t === 'reboot\n');
    await until(async () => actions(), (a) => a.length >= 2);
    expect(actions().sort()).toEqual(['FINALACTION DBPORT 1  0', 'FINALACTION WEB 1  0']);
    const s = (await call(svc.pipe, 'status')) as { reboots: { count: number }; recoveries: S['recoveries'] };
    expect(s.reboots.count).toBe(1);
    expect(s.recoveries).toEqual([
      expect.objectContaining({ monitor: 'WEB', finalAction: 'reboot', finalTaken: true, last: expect.objectContaining({ action: 'reboot', result: 'done' }) }),
      expect.objectContaining({ monitor: 'DBPORT', finalAction: 'none', finalTaken: true, last: expect.objectContaining({ action: 'none' }) }),
    ]);
    const alerts = readLog(home, 'alert').filter((l) => l.src === 'recovery').map((l) => l.msg);
    expect(alerts).toContainEqual(expect.stringMatching(/^monitor WEB: http http:\/\/127\.0\.0\.1:\d+\/ failed 2 checks in a row: HTTP 503 Service Unavailable \(expected 2xx or 3xx\); rebooting the server$/));
    expect(alerts).toContainEqual(expect.stringMatching(/^monitor DBPORT: tcp 127\.0\.0\.1:\d+ failed 2 checks in a row: .*; no recovery action but the script$/));
    // Still failing: nothing more until resetAfter (one reboot, one script run each).
    await sleep(600);
    expect(fs.readFileSync(path.join(home, 'power'), 'utf8')).toBe('reboot\n');
    expect(actions()).toHaveLength(2);
    await svc.stop();
    sick.close();
  });
});
