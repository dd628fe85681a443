// The Windows programs group scripts call, mapped here (src/batch/programs/): NET and SC through the
// config's services: map, TASKKILL and TASKLIST on real processes, PING's options translated for the
// system's ping (a stand-in ping here: no packet leaves the machine in a test).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { alive, COMMANDS, tempDir, until } from '../helpers';
import { bat, runBat } from './run-bat';

describe.runIf(process.platform === 'linux')('Windows programs mapped on Linux', () => {
  it("NET START/STOP and SC QUERY/START/STOP go through the config's services: map (any case), with NET's and SC's codes", async () => {
    const home = tempDir();
    const flag = path.join(home, 'running.flag');
    fs.writeFileSync(
      path.join(home, 'arms.yaml'),
      `server: SRV\nsyslog: false\nservices:\n  W3SVC:\n    start: touch ${flag}\n    stop: rm -f ${flag}\n    status: test -f ${flag}\n`,
    );
    const r = await runBat(
      bat(`
        @ECHO OFF
        NET START w3svc
        ECHO start %ERRORLEVEL%
        IF EXIST "${flag}" ECHO the start command ran
        NET START W3SVC
        ECHO again %ERRORLEVEL%
        SC QUERY W3SVC | FIND "RUNNING" >NUL && ECHO sc says running
        NET STOP W3SVC
        ECHO stop %ERRORLEVEL%
        SC QUERY W3SVC | FIND "STOPPED" >NUL && ECHO sc says stopped
        SC START W3SVC >NUL
        ECHO sc start %ERRORLEVEL%
        SC START W3SVC >NUL
        ECHO sc start again %ERRORLEVEL%
      `),
      { env: { ARMS_HOME: home } },
    );
    expect(r.stdout).toBe(
      [
        'The w3svc service is starting.',
        'The w3svc service was started successfully.',
        '',
        'start 0',
        'the start command ran',
        'again 2',
        'sc says running',
        'The W3SVC service is stopping.',
        'The W3SVC service was stopped successfully.',
        '',
        'stop 0',
        'sc says stopped',
        'sc start 0',
        'sc start again 1056',
        '',
      ].join('\n'),
    );
    expect(r.stderr).toMatch(/^The requested service has already been started\./);
    expect(r.code).toBe(1056 & 0xff);
  });

  it('TASKLIST finds a program by its image name (.exe or not); TASKKILL /IM and /PID stop it, with their messages', async () => {
    const dir = tempDir();
    const victim = path.join(dir, 'zzvictim');
    fs.copyFileSync(fs.realpathSync('/bin/sleep'), victim);
    fs.chmodSync(victim, 0o755);
    const r = await runBat(
      bat(`
        @ECHO OFF
        START /B zzvictim 300
        START /B zzvictim 301
        zzwait
        TASKLIST /FI "IMAGENAME eq zzvictim.exe" /NH | FIND /C "zzvictim.exe"
        TASKKILL /IM zzvictim.exe
        ECHO killed %ERRORLEVEL%
        REM TASKKILL without /F asks and returns: the programs end a moment later.
        zzwait
        TASKKILL /F /IM zzvictim.exe
        ECHO again %ERRORLEVEL%
      `),
      { dir, files: { 'zzwait': '#!/bin/sh\nsleep 0.3\n' } },
    );
    expect(r.stdout.split('\n').filter((l) => !l.startsWith('SUCCESS'))).toEqual(['2', 'killed 0', 'again 128', '']);
    expect(r.stdout.match(/^SUCCESS: Sent termination signal to the process "zzvictim" with PID \d+\.$/gm)).toHaveLength(2);
    expect(r.stderr).toBe('ERROR: The process "zzvictim.exe" not found.\n');
    const pid = await (async () => {
      const { spawn } = await import('node:child_process');
      const c = spawn(victim, ['302'], { stdio: 'ignore', detached: true });
      c.unref();
      return c.pid!;
    })();
    const k = await runBat(bat(`@ECHO OFF\r\nTASKKILL /F /PID ${pid}\r\nECHO %ERRORLEVEL%\r\n`));
    expect(k.stdout).toBe(`SUCCESS: The process "zzvictim" with PID ${pid} has been terminated.\n0\n`);
    expect(await until(async () => alive(pid), (a) => !a, 5000)).toBe(false);
  });

  it("PING to a target that is not loopback is the system's ping with the options translated (a stand-in ping: nothing is sent); loopback is a wait", async () => {
    const dir = tempDir();
    const fake = path.join(dir, 'bin');
    fs.mkdirSync(fake);
    fs.writeFileSync(path.join(fake, 'ping'), '#!/bin/sh\necho "ping $*"\nexit 1\n', { mode: 0o755 });
    const r = await runBat(
      bat(`
        @ECHO OFF
        PING -n 3 -w 1500 -l 64 remote-host.example >NUL
        ECHO remote %ERRORLEVEL%
        PING /n 2 remote-host.example
        PING -n 1 127.0.0.1 | FIND "Reply from 127.0.0.1"
        ECHO loopback %ERRORLEVEL%
      `),
      { dir, env: { PATH: `${COMMANDS}:${fake}` } },
    );
    expect(r.stdout).toBe('remote 1\nping -c 2 remote-host.example\nReply from 127.0.0.1: bytes=32 time<1ms TTL=128\nloopback 0\n');
  });
});
