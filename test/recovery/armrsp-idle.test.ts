// Acceptance 2 of issue 16: a START.BAT in the guide's dialect (ARMLOAD RSP /R 9 /H 1 /FOV ARMRSP /A,
// then a service under ARMLOAD /S /M) on a group without disks, addresses or NICs, as a trial run.
// Before, ARMRSP exited 2 at once, was restarted nine times, the group failed over until its budget
// was spent: a dead group in four seconds. Now the group stays online and the log says why ARMRSP
// watches nothing. Where the guide's own START.BAT is on this machine, it runs unchanged too.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { call } from '../../src/client/client';
import { readLog, run, Service, sleep, startService, stopAll, tempDir, until } from '../helpers';
import { bat } from '../batch/run-bat';

afterAll(stopAll);

const GUIDE = '/work/shared/spec/documented-scripts/START.BAT';

// Our own text, with the guide's constructs: the monitor first, the disk branch, the service.
const START = bat(`
  REM START.BAT of a group without disks
  IF "%ARMS_EVENT%" == "START" GOTO NORMAL
  IF "%ARMS_EVENT%" == "FAILOVER" GOTO FAILOVER
  GOTO EXIT

  :NORMAL
  ARMLOAD RSP /R 9 /H 1 /FOV ARMRSP /A
  IF "%ARMS_DISK%" == "FAILURE" GOTO ERROR_DISK
  ARMLOG "NORMAL START WEB GROUP SCRIPT"
  ARMLOAD WWWPS /S /M "W3SVC"
  ARMLOG "WWW STARTED"
  GOTO EXIT

  :FAILOVER
  ARMLOAD RSP /R 9 /H 1 /FOV ARMRSP /A
  ARMLOAD WWWPS /S /M "W3SVC"
  GOTO EXIT

  :ERROR_DISK
  ARMLOG "ERROR DISK WEB GROUP" /ARM

  :EXIT
`);

const STOP = bat(`
  ARMKILL RSP
  ARMKILL WWWPS
`);

interface Status {
  groups: Array<{ name: string; state: string; failovers: { recent: number }; startedAs: string | null }>;
  watches: Array<{ id: string; group: string | null; state: string; restartsUsed: number; pid: number | null }>;
  monitors: Array<{ monitor: string; kind: string; ok: boolean; detail: string }>;
}

async function trial(start: string): Promise<{ svc: Service; status: () => Promise<Status> }> {
  const home = tempDir('arms-idle-rsp-');
  const dir = path.join(home, 'groups', 'WEB');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'START.BAT'), start);
  fs.writeFileSync(path.join(dir, 'STOP.BAT'), STOP);
  const svc = await startService({
    home,
    config: `server: SERVERA\nsyslog: false\nservices:\n  W3SVC: { start: "sleep 600" }\ngroups:\n  WEB:\n    start: START.BAT\n    stop: STOP.BAT\n`,
  });
  return { svc, status: async () => (await call(svc.pipe, 'status')) as Status };
}

async function expectStaysOnline(svc: Service, status: () => Promise<Status>) {
  const started = await run('arms', ['group', 'start', 'WEB'], svc.env);
  expect(started).toMatchObject({ code: 0 });
  // Longer than the four seconds the old restart loop took to spend every failover.
  await sleep(5000);
  const s = await status();
  expect(s.groups.find((g) => g.name === 'WEB')).toMatchObject({ state: 'online', startedAs: 'START', failovers: { recent: 0 } });
  const rsp = s.watches.find((w) => w.id === 'RSP')!;
  expect(rsp).toMatchObject({ group: 'WEB', state: 'running', restartsUsed: 0 });
  expect(s.monitors.find((m) => m.monitor === 'RSP')).toMatchObject({ kind: 'none', ok: true, detail: expect.stringMatching(/group WEB has no disks, addresses or NICs/) });
  const warn = readLog(svc.home).find((l) => l.src === 'ARMRSP' && l.group === 'WEB');
  expect(warn).toMatchObject({ level: 40, msg: expect.stringMatching(/^ARMRSP RSP: group WEB has no disks, addresses or NICs in the config .*nothing to watch; it stays resident without checking/) });
  expect(readLog(svc.home).filter((l) => /restarting it|failover of group WEB/.test(l.msg))).toEqual([]);
  // The stop script's ARMKILL ends it like any monitor.
  expect((await run('arms', ['group', 'stop', 'WEB'], svc.env)).code).toBe(0);
  expect((await status()).watches).toEqual([]);
  await svc.stop();
}

describe('ARMRSP /A on a group with nothing to watch', () => {
  it("the guide's START.BAT dialect on a group without disks: the group stays online, the log says why", async () => {
    const { svc, status } = await trial(START);
    await expectStaysOnline(svc, status);
  });

  it.runIf(fs.existsSync(GUIDE))("the guide's own START.BAT, unchanged (where the specification is on this machine)", async () => {
    const { svc, status } = await trial(fs.readFileSync(GUIDE, 'latin1'));
    await expectStaysOnline(svc, status);
  });
});
