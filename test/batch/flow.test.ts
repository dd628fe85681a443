// The documented flow: a start script, a stop script and a disk-failure helper written with the
// same constructs as the scripts printed in the 2002 construction guide (our own text: the guide's
// scripts are reference material), run by the interpreter with the environment the service gives a
// group script, and real ARMLOG, ARMLOAD and ARMKILL against a real service. ARMRSP and ARMFOVER
// are stand-ins that record how they were called, earlier on PATH than the commands folder.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call } from '../../src/client/client';
import { groupDefaults } from '../../src/service/group-config';
import { scriptEnv, StartEvent } from '../../src/service/script-env';
import { COMMANDS, fromArmlog, readLog, Service, sleep, startService, stopAll, tempDir } from '../helpers';
import { bat, runFile } from './run-bat';

afterAll(stopAll);

// Echo stays on, as in the guide's scripts: every command shows up in the output (the cluster log).
const START = bat(`
  REM START.BAT of the test group ORDERS
  REM two servers: SERVERA (home) then SERVERB
  IF "%ARMS_EVENT%" == "START" GOTO NORMAL
  IF "%ARMS_EVENT%" == "FAILOVER" GOTO FAILOVER
  IF "%ARMS_EVENT%" == "RECOVER" GOTO RECOVER
  GOTO NO_ARM

  :NORMAL
  ARMLOAD MONITOR /R 9 /H 1 /FOV ARMRSP /A
  IF "%ARMS_DISK%" == "FAILURE" GOTO ERROR_DISK
  ARMLOG "ORDERS: NORMAL START"
  ARMLOAD ORDERSAPP sleep 600
  ARMLOG "ORDERS: APPLICATION STARTED"
  GOTO EXIT

  :FAILOVER
  ARMLOAD MONITOR /R 9 /H 1 /FOV ARMRSP /A
  IF "%ARMS_DISK%" == "FAILURE" GOTO ERROR_DISK
  ARMLOG "ORDERS: FAILOVER START"
  ARMLOAD ORDERSAPP sleep 600
  ARMLOG "ORDERS: APPLICATION STARTED"
  GOTO EXIT

  :RECOVER
  ARMLOG "ORDERS: RECOVER"
  GOTO EXIT

  :NO_ARM
  ARMLOG "ORDERS: NO EVENT" /ARM
  GOTO EXIT

  :ERROR_DISK
  ARMLOG "ORDERS: DISK ERROR" /ARM
  start ondisk.bat

  :EXIT
`);

const STOP = bat(`
  REM STOP.BAT of the test group ORDERS
  IF "%ARMS_EVENT%" == "START" GOTO NORMAL
  IF "%ARMS_EVENT%" == "FAILOVER" GOTO FAILOVER
  GOTO NO_ARM

  :NORMAL
  ARMKILL MONITOR
  IF "%ARMS_DISK%" == "FAILURE" GOTO EXIT
  ARMLOG "ORDERS: NORMAL STOP"
  ARMKILL ORDERSAPP
  GOTO EXIT

  :FAILOVER
  ARMKILL MONITOR
  IF "%ARMS_DISK%" == "FAILURE" GOTO EXIT
  ARMLOG "ORDERS: FAILOVER STOP"
  ARMKILL ORDERSAPP
  GOTO EXIT

  :NO_ARM
  ARMLOG "ORDERS: NO EVENT" /ARM

  :EXIT
  ARMLOG "ORDERS: STOP SCRIPT ENDS"
`);

const ONDISK = bat(`
  rem ondisk.bat: the disk-failure helper
  ARMLOG "ORDERS: disk helper on %ARMS_SERVER%"
  IF "%ARMS_SERVER%" == "OTHER" GOTO EXIT

  START ARMFOVER /F %ARMS_GROUPNAME%

  :EXIT
  exit
`);

let svc: Service;
let dir: string;
let stubs: string;

beforeAll(async () => {
  dir = tempDir('arms-flow-');
  stubs = path.join(dir, 'stubs');
  fs.mkdirSync(stubs);
  fs.writeFileSync(path.join(dir, 'START.BAT'), START);
  fs.writeFileSync(path.join(dir, 'STOP.BAT'), STOP);
  fs.writeFileSync(path.join(dir, 'ondisk.bat'), ONDISK);
  // ARMRSP: a resident stand-in; ARMFOVER: records its arguments.
  fs.writeFileSync(path.join(stubs, 'ARMRSP'), `#!/bin/sh\necho "ARMRSP $*" >> "${dir}/calls"\nexec sleep 600\n`, { mode: 0o755 });
  fs.writeFileSync(path.join(stubs, 'ARMFOVER'), `#!/bin/sh\necho "ARMFOVER $* (event $ARMS_EVENT)" >> "${dir}/calls"\n`, { mode: 0o755 });
  svc = await startService({ config: 'server: SERVERA\nsyslog: false\n' });
});

/** Runs one of the scripts with the environment the service gives a group script of ORDERS (policy SERVERA, SERVERB). */
function runScript(file: string, opts: { event: StartEvent; disk?: 'SUCCESS' | 'FAILURE'; server?: string; factor?: 'GROUPSTOP' }) {
  const group = { ...groupDefaults('ORDERS', 'SERVERA', dir), policy: ['SERVERA', 'SERVERB'], start: path.join(dir, 'START.BAT'), stop: path.join(dir, 'STOP.BAT') };
  const which = file === 'STOP.BAT' ? 'stop' : 'start';
  const env = scriptEnv(svc.env, {
    group,
    server: opts.server ?? 'SERVERA',
    which,
    event: opts.event,
    factor: which === 'stop' ? (opts.factor ?? 'GROUPSTOP') : undefined,
    disk: opts.disk ?? 'SUCCESS',
    pipe: svc.pipe,
    // The stand-ins' folder goes before the commands folder.
    commandsDir: `${stubs}${path.delimiter}${COMMANDS}`,
  });
  return runFile(path.join(dir, file), { env, cwd: dir });
}

async function watches(): Promise<Array<{ id: string; group: string | null; state: string; restartsAllowed: number }>> {
  return ((await call(svc.pipe, 'status')) as { watches: any[] }).watches;
}

const calls = () => (fs.existsSync(path.join(dir, 'calls')) ? fs.readFileSync(path.join(dir, 'calls'), 'utf8').trim().split('\n') : []);

async function until(ok: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await ok()) && Date.now() < deadline) await sleep(25);
}

describe('the documented flow, in the guide\'s dialect, under the interpreter', () => {
  it('START on a good disk: the monitor and the application are loaded under watches of the group, the lines logged, commands echoed', async () => {
    const r = await runScript('START.BAT', { event: 'START' });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    // ECHO is on, as in the guide's scripts: cmd shows each command after the prompt.
    expect(r.stdout).toContain(`\n${dir}>IF "START" == "START" GOTO NORMAL\n`);
    expect(r.stdout).toContain(`\n${dir}>ARMLOAD MONITOR /R 9 /H 1 /FOV ARMRSP /A\n`);
    expect(r.stdout).toContain(`\n${dir}>IF "SUCCESS" == "FAILURE" GOTO ERROR_DISK\n`);
    expect(r.stdout).not.toContain('FAILOVER START');

    const w = await watches();
    expect(w.filter((x) => x.group === 'ORDERS').map((x) => x.id.toUpperCase()).sort()).toEqual(['MONITOR', 'ORDERSAPP']);
    expect(w.find((x) => x.id.toUpperCase() === 'MONITOR')).toMatchObject({ restartsAllowed: 9 });
    await until(() => calls().length > 0);
    expect(calls()).toEqual(['ARMRSP /A']);
    expect(fromArmlog(svc.home).filter((x) => x.group === 'ORDERS').map((x) => x.msg)).toEqual(['ORDERS: NORMAL START', 'ORDERS: APPLICATION STARTED']);
  });

  it('STOP after START: ARMKILL ends both watches; the last ARMLOG runs after the labels', async () => {
    const r = await runScript('STOP.BAT', { event: 'START' });
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect((await watches()).filter((x) => x.group === 'ORDERS')).toEqual([]);
    expect(fromArmlog(svc.home).filter((x) => x.group === 'ORDERS').map((x) => x.msg).slice(-2)).toEqual(['ORDERS: NORMAL STOP', 'ORDERS: STOP SCRIPT ENDS']);
  });

  it('FAILOVER takes the FAILOVER branch', async () => {
    const r = await runScript('START.BAT', { event: 'FAILOVER' });
    expect(r.code).toBe(0);
    expect(fromArmlog(svc.home).filter((x) => x.group === 'ORDERS').map((x) => x.msg).slice(-2)).toEqual(['ORDERS: FAILOVER START', 'ORDERS: APPLICATION STARTED']);
    expect((await runScript('STOP.BAT', { event: 'FAILOVER' })).code).toBe(0);
    expect(fromArmlog(svc.home).some((x) => x.msg === 'ORDERS: FAILOVER STOP')).toBe(true);
    expect((await watches()).filter((x) => x.group === 'ORDERS')).toEqual([]);
  });

  it('a failed disk on HOME: the alert is logged and the helper, started asynchronously, runs START ARMFOVER /F with the group', async () => {
    fs.rmSync(path.join(dir, 'calls'), { force: true });
    const r = await runScript('START.BAT', { event: 'START', disk: 'FAILURE' });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`\n${dir}>start ondisk.bat\n`);
    expect(readLog(svc.home, 'alert').some((x) => x.group === 'ORDERS' && x.msg === 'ORDERS: DISK ERROR')).toBe(true);
    await until(() => calls().some((c) => c.startsWith('ARMFOVER')));
    expect(calls()).toContain('ARMFOVER /F ORDERS (event START)');
    expect(fromArmlog(svc.home).some((x) => x.group === 'ORDERS' && x.msg === 'ORDERS: disk helper on HOME')).toBe(true);
    // Nothing but the monitor was loaded; the stop script on a failed disk kills only the monitor.
    expect((await watches()).filter((x) => x.group === 'ORDERS').map((x) => x.id.toUpperCase())).toEqual(['MONITOR']);
    expect((await runScript('STOP.BAT', { event: 'START', disk: 'FAILURE' })).code).toBe(0);
    expect((await watches()).filter((x) => x.group === 'ORDERS')).toEqual([]);
  });

  it('a failed disk on OTHER: the helper runs but does not ask for a failover', async () => {
    fs.rmSync(path.join(dir, 'calls'), { force: true });
    const r = await runScript('START.BAT', { event: 'FAILOVER', disk: 'FAILURE', server: 'SERVERB' });
    expect(r.code).toBe(0);
    await until(() => fromArmlog(svc.home).some((x) => x.msg === 'ORDERS: disk helper on OTHER'));
    await sleep(500); // time for an ARMFOVER it should not start
    expect(calls()).toEqual(['ARMRSP /A']);
    expect((await runScript('STOP.BAT', { event: 'FAILOVER', disk: 'FAILURE', server: 'SERVERB' })).code).toBe(0);
  });

  it('RECOVER only logs; a script run without an event logs to the alert log', async () => {
    expect((await runScript('START.BAT', { event: 'RECOVER' })).code).toBe(0);
    expect(fromArmlog(svc.home).at(-1)).toMatchObject({ group: 'ORDERS', msg: 'ORDERS: RECOVER' });
    const env = { ...svc.env, ARMS_GROUPNAME: 'ORDERS' };
    const r = await runFile(path.join(dir, 'START.BAT'), { env, cwd: dir });
    expect(r.code).toBe(0);
    expect(readLog(svc.home, 'alert').some((x) => x.msg === 'ORDERS: NO EVENT')).toBe(true);
    expect((await watches()).filter((x) => x.group === 'ORDERS')).toEqual([]);
  });
});
