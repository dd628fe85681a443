// The interpreter as the product uses it: the service runs a group's .bat scripts through it,
// `arms run --trace` shows each line with the branch taken, `arms check` reports what cannot be
// parsed with file:line. Not on Windows, where cmd.exe runs .bat files.
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

  it('arms check reports what cannot be parsed (errors) and likely mistakes (warnings) in every batch file of a group, with file and line', async () => {
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
        IF EXIST x.txt (
          ECHO never closed
      `),
    });
    const r = await run('arms', ['check'], svc.env);
    expect(r.code).toBe(1);
    expect(r.stdout.split('\n').filter(Boolean)).toEqual([
      `${path.join(dir, 'STOP.BAT')}:2: warning: GOTO NOWHERE: there is no label :NOWHERE in this file (cmd stops this batch context there)`,
      `${path.join(dir, 'helper.bat')}:3: this ( is never closed: ) is missing`,
      `${path.join(svc.home, 'arms.yaml')}: the groups' batch scripts have 1 line(s) that cannot be parsed: they would not run (docs/batch.md)`,
    ]);
    fs.writeFileSync(path.join(dir, 'helper.bat'), bat('@ECHO OFF'));
    const ok = await run('arms', ['check'], svc.env);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/warning: GOTO NOWHERE/);
    expect(ok.stdout).toMatch(/arms\.yaml: valid/);
    await svc.stop();
  });

  it('a Shift_JIS script with Japanese REM lines and messages runs under the service, and its messages reach the cluster log intact', async () => {
    const sjis = (text: string) => {
      // The test's text in Shift_JIS through iconv (glibc's converter), CRLF line ends.
      const r = require('node:child_process').spawnSync('iconv', ['-f', 'UTF-8', '-t', 'SHIFT_JIS'], { input: text.split('\n').join('\r\n') });
      if (r.status !== 0) throw new Error(`iconv: ${r.stderr}`);
      return r.stdout as Buffer;
    };
    const home = tempDir();
    const dir = path.join(home, 'groups', 'ORDERS');
    fs.mkdirSync(dir, { recursive: true });
    // 表 (95 5C) and ソ (83 5C) end in the byte of \, ポ (83 7C) in the byte of |: each is one character.
    fs.writeFileSync(path.join(dir, 'START.BAT'), sjis('@ECHO OFF\nREM 業務グループの起動スクリプト（表示・ソフト）\nECHO 起動します：ポート表\nARMLOG "業務ソフトを起動しました" /ARM\nEXIT /B 0\n'));
    fs.writeFileSync(path.join(dir, 'STOP.BAT'), sjis('@ECHO OFF\nECHO 停止します\n'));
    expect(fs.readFileSync(path.join(dir, 'START.BAT')).includes(Buffer.from([0x95, 0x5c]))).toBe(true);
    const svc = await startService({ home, config: 'server: SRV\nsyslog: false\ngroups:\n  ORDERS:\n    start: START.BAT\n    stop: STOP.BAT\n' });
    expect((await run('arms', ['group', 'start', 'ORDERS'], svc.env)).code).toBe(0);
    expect((await run('arms', ['group', 'stop', 'ORDERS'], svc.env)).code).toBe(0);
    const log = readLog(svc.home);
    expect(log.filter((x) => x.src === 'script').map((x) => x.msg)).toEqual(['起動します：ポート表', '停止します']);
    expect(log.filter((x) => x.src === 'ARMLOG').map((x) => x.msg)).toEqual(['業務ソフトを起動しました']);
    expect(readLog(svc.home, 'alert').map((x) => x.msg)).toContain('業務ソフトを起動しました');
    await svc.stop();
  });

  it('arms run keeps empty lines; --dry-run shows the ARM* lines instead of sending them, so a trial run leaves no watch behind', async () => {
    const { svc, dir } = await homeWith({
      'START.BAT': bat(`
        @ECHO OFF
        ECHO first
        ECHO.
        ECHO(
        ECHO last
        ARMLOAD TRIAL /W sleep 30
        ECHO armload %ERRORLEVEL%
        START ARMFOVER /F ORDERS
      `),
      'STOP.BAT': bat('@ECHO OFF'),
    });
    const dry = await run('arms', ['run', path.join(dir, 'START.BAT'), '--event', 'START', '--dry-run'], svc.env);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toBe('first\n\n\nlast\narmload 0\n');
    expect(dry.stderr).toBe('[dry run] START.BAT:6: ARMLOAD TRIAL /W sleep 30 (not sent: ERRORLEVEL 0)\n[dry run] START.BAT:8: START ARMFOVER /F ORDERS (not started)\n');
    const status = await run('arms', ['status', '--json'], svc.env);
    expect(status.stdout).not.toMatch(/TRIAL/);
    const help = await run('arms', ['run', '--help'], svc.env);
    expect(help.stdout).toMatch(/acts on the service for real/);
    expect((await run('arms', ['run', path.join(dir, 'START.BAT'), '--event', 'START', '--dry-run', '--group', 'X'], svc.env)).code).toBe(0);
    await svc.stop();
  });

  it('arms check FILE.BAT lints that file alone, without a config', async () => {
    const dir = tempDir();
    const good = path.join(dir, 'GOOD.BAT');
    const bad = path.join(dir, 'BAD.BAT');
    fs.writeFileSync(good, bat('@ECHO OFF\r\nFOR /F "tokens=1,2 delims=," %%A IN (x.csv) DO ECHO %%A\r\nGOTO NOWHERE\r\n'));
    fs.writeFileSync(bad, bat('@ECHO OFF\r\n(\r\nECHO x\r\n'));
    const env = { ...process.env, ARMS_HOME: path.join(dir, 'no-home') };
    const ok = await run('arms', ['check', good], env);
    expect(ok).toMatchObject({ code: 0 });
    expect(ok.stdout).toBe(`${good}:3: warning: GOTO NOWHERE: there is no label :NOWHERE in this file (cmd stops this batch context there)\n${good}: runs, 1 warning(s)\n`);
    const no = await run('arms', ['check', good, bad], env);
    expect(no.code).toBe(1);
    expect(no.stdout).toMatch(new RegExp(`${bad.replace(/[.]/g, '\\.')}:2: this \\( is never closed`));
    expect((await run('arms', ['check', '--encoding', 'ebcdic', good], env)).code).toBe(2);
  });
});
