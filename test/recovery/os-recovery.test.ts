// The recovery of the service's own OS stall monitor (monitors: armsd-os: recovery:), with the real
// armsd frozen from outside: SIGSTOP for longer than osMonitor.stallThreshold, then SIGCONT. A
// stopped process's timers come late, which is what the stall monitor measures (os-monitor.ts: how
// late its interval's own timer came), so each freeze is one honest stall. The ladder: the first
// stall restarts the group (the script runs first with CLP_ACTION=RESTART), the second takes the
// final action (stop-group, CLP_ACTION=FINALACTION).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { call } from '../../src/client/client';
import { envFor, readLog, run, Service, sleep, startService, stopAll, tempDir, until } from '../helpers';

afterAll(stopAll);

interface S {
  groups: Array<{ name: string; state: string }>;
  watches: Array<{ id: string; pid: number | null }>;
  monitors: Array<{ monitor: string; kind: string; ok: boolean; failures: number }>;
  recoveries: Array<{ monitor: string; state: string; restarts: number; restartsAllowed: number; finalAction: string; finalTaken: boolean; last: { action: string; result: string } | null }>;
}
const status = async (svc: Service) => (await call(svc.pipe, 'status')) as S;

/** Freezes the whole service for `ms` (its event loop, its timers), then lets it go on. */
async function freeze(svc: Service, ms: number) {
  svc.proc.kill('SIGSTOP');
  try {
    await sleep(ms);
  } finally {
    svc.proc.kill('SIGCONT');
  }
}

const lines = (file: string) => (fs.existsSync(file) ? fs.readFileSync(file, 'utf8').trim().split('\n') : []);

describe.skipIf(process.platform === 'win32')('the OS stall monitor armsd-os with a recovery, in the real service', () => {
  it('a stall restarts the group (script first, CLP_ACTION=RESTART), the next one stops it (FINALACTION); logged and in status recoveries[]', async () => {
    const home = tempDir('arms-os-recovery-');
    const dir = path.join(home, 'groups', 'G');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'start.sh'), `echo "start $ARMS_EVENT" >> ${home}/trace\nARMLOAD APP sleep 600\n`);
    fs.writeFileSync(path.join(dir, 'stop.sh'), `echo "stop $ARMS_EVENT $CLP_FACTOR" >> ${home}/trace\nARMKILL APP; exit 0\n`);
    fs.writeFileSync(
      path.join(home, 'recover.sh'),
      `echo "$CLP_ACTION $CLP_MONITORNAME $CLP_RECOVERYCOUNT $CLP_GROUPNAME $CLP_RESTARTCOUNT|$ARMS_MONITOR_RESOURCE" >> ${home}/actions\necho "recovery script saw $CLP_ACTION"\n`,
    );
    const trace = () => lines(path.join(home, 'trace'));
    const actions = () => lines(path.join(home, 'actions'));
    // A threshold well above what a loaded machine delays a timer, a freeze well above the threshold.
    const svc = await startService({
      home,
      config: `syslog: false
osMonitor: { stallThreshold: 2s, interval: 250ms }
groups:
  G: { start: start.sh, stop: stop.sh }
monitors:
  armsd-os:
    group: G
    recovery: { target: group, restarts: 1, finalAction: stop-group, script: recover.sh }
`,
    });
    expect((await run('arms', ['group', 'start', 'G'], svc.env)).code).toBe(0);
    let s = await until(() => status(svc), (x) => x.monitors.some((m) => m.monitor === 'armsd-os' && m.kind === 'os' && m.ok));
    expect(s.recoveries).toMatchObject([{ monitor: 'armsd-os', state: 'idle', restarts: 0, restartsAllowed: 1, finalAction: 'stop-group', finalTaken: false, last: null }]);
    const pid0 = s.watches.find((w) => w.id === 'APP')!.pid;
    expect(pid0).toBeGreaterThan(0);

    // First stall: the group is re-activated (its stop then start script, RESOURCERESTART).
    await freeze(svc, 5000);
    s = await until(() => status(svc), (x) => x.recoveries[0]?.last !== null && x.recoveries[0].state === 'idle' && x.groups[0].state === 'online', 30_000);
    expect(actions()).toEqual(['RESTART armsd-os 1 G 1|os event loop']);
    expect(trace()).toEqual(['start START', 'stop START RESOURCERESTART', 'start START']);
    expect(s.recoveries).toMatchObject([{ monitor: 'armsd-os', restarts: 1, restartsAllowed: 1, finalTaken: false, last: { action: 'restart', result: 'done' } }]);
    const pid1 = s.watches.find((w) => w.id === 'APP')!.pid;
    expect(pid1).toBeGreaterThan(0);
    expect(pid1).not.toBe(pid0);
    // The monitor runs on time again before the next freeze.
    await until(() => status(svc), (x) => x.monitors.some((m) => m.monitor === 'armsd-os' && m.ok));

    // Second stall: the restarts are used up, the final action stops the group.
    await freeze(svc, 5000);
    s = await until(() => status(svc), (x) => x.groups[0].state === 'offline' && x.recoveries[0].state === 'idle', 30_000);
    expect(s.groups[0].state).toBe('offline');
    expect(actions()).toEqual(['RESTART armsd-os 1 G 1|os event loop', 'FINALACTION armsd-os 2 G 1|os event loop']);
    expect(trace()).toEqual(['start START', 'stop START RESOURCERESTART', 'start START', 'stop START GROUPSTOP']);

    // What the operator sees: `arms status --json` ...
    const cli = await run('arms', ['status', '--json'], svc.env);
    expect(cli.code).toBe(0);
    const shown = JSON.parse(cli.stdout) as S;
    // a final action that stopped the group starts the ladder again
    expect(shown.recoveries).toEqual([
      expect.objectContaining({ monitor: 'armsd-os', state: 'idle', restarts: 0, restartsAllowed: 1, finalAction: 'stop-group', finalTaken: false, last: expect.objectContaining({ action: 'stop-group', result: 'done' }) }),
    ]);
    // ... the alert log: each stall, and what the recovery did about it ...
    const alerts = readLog(home, 'alert');
    expect(alerts.filter((l) => /^OS stall:/.test(l.msg))).toHaveLength(2);
    expect(alerts.filter((l) => l.src === 'recovery' && l.event === 'monitor-failed').map((l) => l.msg)).toEqual([
      expect.stringMatching(/^monitor armsd-os: os event loop failed 1 check in a row: delay [\d.]+ s \(threshold 2 s\); restarting group G \(1 of 1\)$/),
      expect.stringMatching(/^monitor armsd-os: os event loop failed 1 check in a row: delay [\d.]+ s \(threshold 2 s\); stopping group G$/),
    ]);
    // ... and the cluster log: the script's runs and its output.
    const log = readLog(home);
    expect(log.filter((l) => /^monitor armsd-os: recovery script recover\.sh/.test(l.msg)).map((l) => l.msg)).toEqual([
      expect.stringMatching(/\(CLP_ACTION=RESTART\) exited with code 0 in \d+ ms$/),
      expect.stringMatching(/\(CLP_ACTION=FINALACTION\) exited with code 0 in \d+ ms$/),
    ]);
    expect(log.filter((l) => l.src === 'script' && l.monitor === 'armsd-os').map((l) => l.msg)).toEqual(['recovery script saw RESTART', 'recovery script saw FINALACTION']);
    await svc.stop();
  }, 120_000);

  it('a recovery that acts on a group needs "group:" on armsd-os (it belongs to no group): arms check and armsd refuse it with its line; with target: server it is valid', async () => {
    const home = tempDir('arms-os-recovery-');
    const file = path.join(home, 'arms.yaml');
    // restarts with the default target (group): once accepted, and logged "restarting group null" doing nothing
    fs.writeFileSync(file, 'syslog: false\nmonitors:\n  armsd-os:\n    recovery: { restarts: 1, script: recover.sh }\n');
    const env = envFor(home);
    const c = await run('arms', ['check'], env);
    expect(c.code).toBe(1);
    expect(c.stdout.trim()).toBe(`${file}:4: monitors.armsd-os: a recovery that acts on a group (target: group, finalAction: none) needs "group:" on armsd-os (the service's stall monitor belongs to no group)`);
    const d = await run('armsd', [], env);
    expect(d.code).toBe(2);
    expect(d.stderr).toContain(`${file}:4: monitors.armsd-os: a recovery that acts on a group`);
    fs.writeFileSync(file, 'syslog: false\nmonitors:\n  armsd-os:\n    recovery: { target: server, finalAction: reboot, script: recover.sh }\n');
    expect((await run('arms', ['check'], env)).code).toBe(0);
  });
});
