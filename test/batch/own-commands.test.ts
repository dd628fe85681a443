// Our ARM* commands on a line of a batch script run inside the interpreter (src/batch/own-commands.ts):
// no node is started for them, yet they behave as the programs do: the script's environment and
// folder, their output and errors on the script's descriptors (redirections included), their exit
// code as ERRORLEVEL. An ARMLOG on PATH that is not ours still runs as a program.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readLog, run, startService, stopAll, tempDir } from '../helpers';
import { bat } from './run-bat';

afterAll(stopAll);

async function groupWith(start: string, extra: Record<string, string> = {}) {
  const home = tempDir();
  const dir = path.join(home, 'groups', 'G');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'START.BAT'), start);
  fs.writeFileSync(path.join(dir, 'STOP.BAT'), bat('@ECHO OFF'));
  for (const [f, text] of Object.entries(extra)) fs.writeFileSync(path.join(dir, f), text, { mode: 0o755 });
  const svc = await startService({ home, config: 'server: SRV\nsyslog: false\ngroups:\n  G:\n    start: START.BAT\n    stop: STOP.BAT\n' });
  return { svc, home, dir };
}

const scriptLines = (home: string) => readLog(home).filter((x) => x.src === 'script').map((x) => `${x.level === 40 ? 'err' : 'out'} ${x.msg}`);

describe.runIf(process.platform !== 'win32')('ARM* commands inside the batch interpreter', () => {
  it('run in the script\'s own process, with its environment; their output, errors and exit codes are the script\'s', async () => {
    const { svc, home } = await groupWith(
      bat(`
        @ECHO OFF
        sh -c "echo script $PPID"
        SET NOTE=from %ARMS_GROUPNAME%
        ARMLOG "note %NOTE%"
        ARMKILL NOSUCH
        ECHO ARMKILL said %ERRORLEVEL%
        ARMKILL NOSUCH 2> NUL
        ECHO again %ERRORLEVEL%
        ARMSLEEP 0.1
        ECHO slept %ERRORLEVEL%
        ARMLOG /? > NUL
        ECHO help %ERRORLEVEL%
      `),
    );
    expect((await run('arms', ['group', 'start', 'G'], svc.env)).code).toBe(0);
    const lines = scriptLines(home);
    const scriptPid = Number(/^out script (\d+)$/.exec(lines[0])![1]);
    expect(lines.slice(1)).toEqual(['err ARMKILL: no watch "NOSUCH"', 'out ARMKILL said 4', 'out again 4', 'out slept 0', 'out help 0']);
    const logged = readLog(home).filter((x) => x.src === 'ARMLOG');
    expect(logged.map((x) => [x.msg, x.group, x.pid])).toEqual([['note from G', 'G', scriptPid]]);
    await svc.stop();
  });

  it('an ARMLOG on PATH that is not ours runs as the program it is', async () => {
    const { svc, home, dir } = await groupWith(
      bat(`
        @ECHO OFF
        SET PATH=%~dp0mine;%PATH%
        ARMLOG "to the local one"
        ECHO local %ERRORLEVEL%
        EXIT /B 0
      `),
    );
    fs.mkdirSync(path.join(dir, 'mine'));
    fs.writeFileSync(path.join(dir, 'mine', 'ARMLOG'), '#!/bin/sh\necho "mine: $1"\nexit 7\n', { mode: 0o755 });
    expect((await run('arms', ['group', 'start', 'G'], svc.env)).code).toBe(0);
    expect(scriptLines(home)).toEqual(['out mine: to the local one', 'out local 7']);
    expect(readLog(home).filter((x) => x.src === 'ARMLOG')).toEqual([]);
    await svc.stop();
  });
});
