// The interpreter as the product uses it: the service runs a group's .bat scripts through it,
// `arms run --trace` shows each line with the branch taken, `arms check` reports what is outside
// the dialect with file:line. Not on Windows, where cmd.exe runs .bat files.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readLog, run, startService, stopAll, tempDir } from '../helpers';
import { bat } from './run-bat';

afterAll(stopAll);

async function homeWith(files: Record<string, string>) {
  const home = tempDir();
  const dir = path.join(home, 'groups', 'ORDERS');
  fs.mkdirSync(dir, { recursive: true });
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
  const svc = await startService({ home, config: 'server: SRV\nsyslog: false\ngroups:\n  ORDERS:\n    start: START.BAT\n    stop: STOP.BAT\n' });
  return { svc, dir };
}

describe.runIf(process.platform !== 'win32')('the interpreter wired into the product', () => {
  it('the service runs a group\'s .bat scripts: ARMLOG reaches the log with the group, the echoed commands are logged as script lines', async () => {
    const { svc, dir } = await homeWith({
      'START.BAT': bat(`
        IF "%ARMS_EVENT%" == "START" GOTO NORMAL
        GOTO EXIT
        :NORMAL
        ARMLOG "ORDERS STARTED ON %ARMS_SERVER%"
        :EXIT
      `),
      'STOP.BAT': bat('@ARMLOG "ORDERS STOPPED (%CLP_FACTOR%)"'),
    });
    expect((await run('arms', ['group', 'start', 'ORDERS'], svc.env)).code).toBe(0);
    expect((await run('arms', ['group', 'stop', 'ORDERS'], svc.env)).code).toBe(0);
    const log = readLog(svc.home);
    expect(log.filter((x) => x.src === 'ARMLOG').map((x) => [x.group, x.msg])).toEqual([
      ['ORDERS', 'ORDERS STARTED ON HOME'],
      ['ORDERS', 'ORDERS STOPPED (GROUPSTOP)'],
    ]);
    expect(log.some((x) => x.src === 'script' && x.msg === `${dir}>IF "START" == "START" GOTO NORMAL`)).toBe(true);
    await svc.stop();
  });

  it('arms run --trace shows each line as it runs with the branch taken', async () => {
    const { svc, dir } = await homeWith({
      'START.BAT': bat(`
        @ECHO OFF
        IF "%ARMS_EVENT%" == "FAILOVER" (ECHO taking over) ELSE (ECHO fresh start)
      `),
      'STOP.BAT': bat('@ECHO OFF'),
    });
    const r = await run('arms', ['run', path.join(dir, 'START.BAT'), '--event', 'FAILOVER', '--trace'], svc.env);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('taking over\n');
    expect(r.stderr).toBe('+ START.BAT:1: ECHO OFF\n+ START.BAT:2: IF "FAILOVER" == "FAILOVER" -> true: then\n+ START.BAT:2: ECHO taking over\n');
    await svc.stop();
  });

  it('arms check reports the constructs outside the dialect in every batch file of a group, with file and line', async () => {
    const { svc, dir } = await homeWith({
      'START.BAT': bat(`
        @ECHO OFF
        START helper.bat
      `),
      'STOP.BAT': bat(`
        @ECHO OFF
        GOTO NOWHERE
      `),
      'helper.bat': bat(`
        @ECHO OFF
        FOR %%F IN (*.log) DO DEL %%F
      `),
    });
    const r = await run('arms', ['check'], svc.env);
    expect(r.code).toBe(1);
    expect(r.stdout.split('\n').filter(Boolean)).toEqual([
      `${path.join(dir, 'STOP.BAT')}:2: warning: GOTO NOWHERE: there is no label :NOWHERE in this file (cmd stops this batch context there)`,
      `${path.join(dir, 'helper.bat')}:2: FOR is a cmd built-in outside the batch dialect: FOR loops are outside the batch dialect: use a .sh helper script`,
      `${path.join(svc.home, 'arms.yaml')}: the groups' batch scripts have 1 construct(s) outside the batch dialect (docs/batch.md)`,
    ]);
    fs.writeFileSync(path.join(dir, 'helper.bat'), bat('@ECHO OFF'));
    const ok = await run('arms', ['check'], svc.env);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/warning: GOTO NOWHERE/);
    expect(ok.stdout).toMatch(/arms\.yaml: valid/);
    await svc.stop();
  });
});
