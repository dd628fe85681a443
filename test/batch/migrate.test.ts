// arms migrate: the report of what will not work on this OS (each Windows-only construct with its
// line and what to use instead), the exit codes of the command, the shell scripts it writes (the same
// output and exit code as the interpreter gives the .bat), and acceptance 3 of issue 7: the LEGACY
// example group migrated with --to sh runs under a real service with the same ARMLOG lines and the
// same watches as the original .bat files.
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { call } from '../../src/client/client';
import { migrate } from '../../src/batch/migrate';
import { envFor, fromArmlog, readLog, ROOT, run, Service, sleep, startService, stopAll, tempDir } from '../helpers';
import { bat, batEnv, runBat } from './run-bat';

afterAll(stopAll);

const EXAMPLE = path.join(ROOT, 'examples', 'groups', 'legacy');

function writeBat(text: string, name = 'T.BAT'): string {
  const dir = tempDir('arms-migrate-');
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return file;
}

/** file:line: message lines of the report, with the folder taken off. */
function findings(report: string[]): Array<{ line: number; message: string; instead?: string }> {
  const out: Array<{ line: number; message: string; instead?: string }> = [];
  for (const l of report) {
    const m = /^.*?:(\d+): (.*)$/.exec(l);
    if (m) out.push({ line: Number(m[1]), message: m[2] });
    else if (l.startsWith('    instead: ')) out[out.length - 1].instead = l.slice('    instead: '.length);
  }
  return out;
}

describe('the report: what will not work on Linux, with its line and what to use instead', () => {
  const WINDOWS = bat(`
    @ECHO OFF
    NET START W3SVC
    NET STOP "World Wide Web Publishing"
    sc start MSSQLSERVER
    sc query MSSQLSERVER
    IF EXIST C:\\DATA\\FLAG GOTO DONE
    %SystemRoot%\\system32\\ping.exe -n 5 127.0.0.1
    "%windir%\\notepad.exe" readme.txt
    ARMLOAD WEB /S W3SVC
    ARMLOAD DB /S /A /R 3 /H 1 MSSQL
    ARMLOAD APP /R 3 node app.js
    timeout /t 5
    ping -n 3 127.0.0.1 >NUL
    taskkill /IM app.exe /F
    copy a b
    :DONE
  `);

  it('finds each Windows-only construct on its line; a service the config maps is not reported', () => {
    const r = migrate(writeBat(WINDOWS), {}, { services: ['mssql'], configFile: '/etc/arms/arms.yaml', platform: 'linux' });
    expect(r.code).toBe(1);
    const f = findings(r.report);
    const at = (line: number) => f.filter((x) => x.line === line);
    expect(at(2)).toEqual([
      {
        line: 2,
        message: 'NET START W3SVC starts a Windows service that arms.yaml does not map (here it would be taken as a systemd unit W3SVC)',
        instead: 'map it in arms.yaml: services: { W3SVC: <systemd unit> }; better, ARMLOAD W3SVC /S W3SVC so that the service watches it',
      },
    ]);
    expect(at(3)).toEqual([{ line: 3, message: expect.stringMatching(/^NET STOP World Wide Web Publishing stops a Windows service that/), instead: expect.stringMatching(/ARMKILL World_Wide_Web_Publishing/) }]);
    expect(at(4)[0].message).toMatch(/^SC START MSSQLSERVER starts a Windows service that/);
    expect(at(5)[0].message).toMatch(/^SC QUERY MSSQLSERVER asks about a Windows service that/);
    expect(at(6).map((x) => x.message)).toEqual(['C:\\ is a drive letter: there are no drives here']);
    // ping.exe runs here (PING is mapped); the variable it is found through is not set.
    expect(at(7).map((x) => x.message)).toEqual(['%SystemRoot% is a Windows variable: not set here']);
    expect(at(8).map((x) => x.message)).toEqual(['%windir% is a Windows variable: not set here', 'notepad.exe is a Windows program (.exe)']);
    expect(at(9)).toEqual([
      {
        line: 9,
        message: 'ARMLOAD /S W3SVC: "W3SVC" is a Windows service name that arms.yaml does not map (here it would be taken as a systemd unit W3SVC)',
        instead: 'map it in arms.yaml: services: { W3SVC: <systemd unit> } (or { start: ..., stop: ..., status: ... }); ARMLOAD /S then uses it',
      },
    ]);
    expect(at(10)).toEqual([]); // MSSQL is mapped (in any case)
    expect(at(11)).toEqual([]); // not a service
    // TIMEOUT, PING -n, TASKKILL and COPY run here (mapped programs and built-ins): nothing to change.
    expect([...at(12), ...at(13), ...at(14), ...at(15)]).toEqual([]);
    expect(f.map((x) => x.line)).toEqual([2, 3, 4, 5, 6, 7, 8, 8, 9]);
    expect(r.report.at(-1)).toBe('T.BAT: 9 thing(s) to change for Linux');
  });

  it('the example group needs no change: exit 0', () => {
    for (const f of ['START.BAT', 'STOP.BAT', 'movegroup.bat']) {
      const r = migrate(path.join(EXAMPLE, f), {}, { services: [], platform: 'linux' });
      expect(r.report, f).toEqual([`${f}: nothing to change for Linux`]);
      expect(r.code).toBe(0);
    }
  });

  it('arms migrate: 0 nothing to change, 1 something (the config\'s services: map read from the home), 2 usage', async () => {
    const home = tempDir('arms-migrate-home-');
    fs.writeFileSync(path.join(home, 'arms.yaml'), 'services:\n  W3SVC: nginx\n');
    const env = envFor(home);
    const file = writeBat(bat(`
      ARMLOAD WEB /S W3SVC
      ARMLOAD DB /S MSSQL
    `));
    const r = await run('arms', ['migrate', file], env);
    expect(r.code).toBe(1);
    expect(r.stdout.split('\n')[0]).toBe(`${file}:2: ARMLOAD /S MSSQL: "MSSQL" is a Windows service name that arms.yaml does not map (here it would be taken as a systemd unit MSSQL)`);
    expect(r.stdout).not.toMatch(/W3SVC/);
    const ok = await run('arms', ['migrate', path.join(EXAMPLE, 'START.BAT')], env);
    expect(ok).toMatchObject({ code: 0, stdout: 'START.BAT: nothing to change for Linux\n', stderr: '' });
    expect((await run('arms', ['migrate'], env)).code).toBe(2);
    expect((await run('arms', ['migrate', file, '--to', 'ps1'], env)).code).toBe(2);
    expect((await run('arms', ['migrate', file, '-o', '/tmp/x.sh'], env)).code).toBe(2);
    const missing = await run('arms', ['migrate', path.join(home, 'NOPE.BAT')], env);
    expect(missing.code).toBe(1);
    expect(missing.stdout).toMatch(/NOPE\.BAT: no such file/);
    // --to sh: the script on stdout and the report on stderr; with -o, the file (executable) and the report on stdout.
    const sh = await run('arms', ['migrate', path.join(EXAMPLE, 'STOP.BAT'), '--to', 'sh'], env);
    expect(sh.code).toBe(0);
    expect(sh.stdout).toMatch(/^#!\/bin\/sh\n/);
    expect(sh.stderr).toBe('STOP.BAT: nothing to change for Linux\n');
    const out = path.join(home, 'STOP.sh');
    const written = await run('arms', ['migrate', path.join(EXAMPLE, 'STOP.BAT'), '--to', 'sh', '-o', out], env);
    expect(written).toMatchObject({ code: 0, stdout: 'STOP.BAT: nothing to change for Linux\n' });
    expect(fs.readFileSync(out, 'utf8')).toBe(sh.stdout);
    expect(fs.statSync(out).mode & 0o111).not.toBe(0);
  });
});

/** Runs a .sh with /bin/sh in its folder, as the service runs a .sh group script. */
function runSh(file: string, args: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('/bin/sh', [file, ...args], { cwd: path.dirname(file), env: batEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** The .bat through the interpreter and its --to sh translation through /bin/sh: output and exit code. */
async function bothWays(text: string, args: string[] = [], env: NodeJS.ProcessEnv = {}) {
  const file = writeBat(text);
  const r = migrate(file, { to: 'sh' }, { services: [], platform: 'linux' });
  const shFile = file.replace(/\.BAT$/, '.sh');
  fs.writeFileSync(shFile, r.sh!);
  const b = await runBat(text, { dir: path.dirname(file), args, env });
  const s = await runSh(shFile, args, env);
  return { bat: { code: b.code, stdout: b.stdout }, sh: { code: s.code, stdout: s.stdout }, stderr: s.stderr, text: r.sh!, report: r.report, code: r.code };
}

describe('--to sh: the same output and exit code as the interpreter', () => {
  it('FOR in its forms, FOR /F tokens over a file, a string and a command, delayed expansion, pipes, FIND, FINDSTR and the file built-ins', async () => {
    const r = await bothWays(
      bat(`
        @ECHO OFF
        SETLOCAL ENABLEDELAYEDEXPANSION
        ECHO web01,10.0.0.1> servers.csv
        ECHO ;comment>> servers.csv
        ECHO db01,,10.0.0.2>> servers.csv
        FOR /F "tokens=1,2 delims=," %%A IN (servers.csv) DO ECHO %%A is %%B
        FOR /F "skip=1 tokens=2*" %%A IN ('TYPE servers.csv') DO ECHO never %%A
        FOR /F "tokens=2*" %%A IN ("one two three four") DO ECHO [%%A] [%%B]
        SET COUNT=0
        FOR %%I IN (a b c) DO (
          SET /A COUNT+=1
          ECHO !COUNT! %%I
        )
        FOR /L %%N IN (10,-5,0) DO ECHO n=%%N
        FOR %%F IN (*.csv) DO ECHO %%~nF %%~xF %%~nxF %%~zF
        MD sub\\deeper
        COPY servers.csv sub\\copy.csv >NUL
        TYPE sub\\copy.csv | FIND /C "0"
        ECHO server running | FIND "running" >NUL && ECHO found
        TYPE servers.csv | FINDSTR /I "DB01" || ECHO not found
        DEL sub\\copy.csv
        IF NOT EXIST sub\\copy.csv ECHO deleted
        RD /S /Q sub
        IF NOT EXIST sub ECHO removed
        TIMEOUT /T 0 /NOBREAK >NUL
        PING -n 1 127.0.0.1 >NUL
        EXIT /B !COUNT!
      `),
      [],
    );
    expect(r.report).toEqual(['T.BAT: nothing to change for Linux']);
    expect(r.sh).toEqual(r.bat);
    expect(r.bat.stdout.split('\n')).toEqual([
      'web01 is 10.0.0.1',
      'db01 is 10.0.0.2',
      '[two] [three four]',
      '1 a',
      '2 b',
      '3 c',
      'n=10',
      'n=5',
      'n=0',
      'servers .csv servers.csv 39',
      '2',
      'found',
      'db01,,10.0.0.2',
      'deleted',
      'removed',
      '',
    ]);
    expect(r.bat.code).toBe(3);
    expect(r.text).toContain('  while IFS=\',\' read -r _f_A _f_B _skip; do');
    expect(r.text).toContain('  for _f_I in a b c; do');
  });

  it('GOTO loops, SET /A, IF in its forms, ERRORLEVEL, CALL :label with arguments, EXIT /B', async () => {
    const r = await bothWays(
      bat(`
        @ECHO OFF
        SET /A N=0
        set Greeting=hello %1
        :LOOP
        SET /A n+=1
        IF %N% LSS 3 GOTO LOOP
        ECHO n is %N%, %greeting%
        IF /I "%GREETING%" == "HELLO WORLD" ECHO same without regard to case
        IF NOT DEFINED NOSUCH ECHO nosuch is not defined
        CALL :TWICE "a b" c
        ECHO after the call: %ERRORLEVEL%
        node -e "process.exit(3)"
        IF ERRORLEVEL 3 (
          ECHO at least 3
        ) ELSE (
          ECHO less than 3
        )
        IF NOT ERRORLEVEL 4 ECHO less than 4
        node -e "process.exit(0)" && ECHO and then || ECHO or else
        IF EXIST T.BAT ECHO the script is here
        GOTO END
        :TWICE
        ECHO twice %~1 %2
        EXIT /B 5
        :END
        EXIT /B 7
      `),
      ['world'],
    );
    expect(r.stderr).toBe('');
    expect(r.sh).toEqual(r.bat);
    expect(r.bat.stdout.split('\n')).toEqual([
      'n is 3, hello world',
      'same without regard to case',
      'nosuch is not defined',
      'twice a b c',
      'after the call: 5',
      'at least 3',
      'less than 4',
      'and then ', // cmd keeps the blank before ||, and so does the .sh
      'the script is here',
      '',
    ]);
    expect(r.bat.code).toBe(7);
    expect(r.code).toBe(0);
  });

  it('falling off the end keeps the last program\'s code; EXIT n ends the run from inside a CALL', async () => {
    const a = await bothWays(bat(`
      @ECHO OFF
      node -e "process.exit(4)"
    `));
    expect(a.sh).toEqual(a.bat);
    expect(a.bat.code).toBe(4);
    const b = await bothWays(bat(`
      @ECHO OFF
      CALL :INNER
      ECHO never
      :INNER
      ECHO inner
      EXIT 9
    `));
    expect(b.sh).toEqual(b.bat);
    expect(b.bat).toEqual({ code: 9, stdout: 'inner\n' });
  });

  it('what has no faithful translation is a TODO in the .sh and a line of the report (exit 1)', async () => {
    const file = writeBat(bat(`
      @ECHO OFF
      SETLOCAL
      SET X=abcdef
      ECHO %X:~1,3%
      ENDLOCAL
    `));
    const r = migrate(file, { to: 'sh' }, { services: [], platform: 'linux' });
    expect(r.code).toBe(1);
    // SETLOCAL with an ENDLOCAL later: a scope sh has not (without one, it ends with the script: a comment).
    expect(findings(r.report).map((f) => f.line)).toEqual([2, 4, 5]);
    expect(r.report[0]).toMatch(/:2: no faithful translation to sh: SETLOCAL/);
    expect(r.sh).toContain('# TODO (arms migrate): SETLOCAL');
    expect(r.sh).toContain('# line 4: ECHO %X:~1,3%');
  });

  it('the example scripts read like their .bat: a function per label, GOTO, ARM* by name, %~dp0', () => {
    const r = migrate(path.join(EXAMPLE, 'START.BAT'), { to: 'sh' }, { services: [], platform: 'linux' });
    expect(r.code).toBe(0);
    const sh = r.sh!;
    expect(sh).toContain('label_BRING_UP() {   # :BRING_UP (line 32)');
    expect(sh).toContain('  if [ "$ARMS_EVENT" = START ]; then\n    goto label_FRESH_START; return\n  fi');
    expect(sh).toContain('  ARMLOAD LEGACY_RSP /R 9 /H 1 /FOV ARMRSP /A; _el=$?');
    expect(sh).toContain('  if [ -z "$WEB_DATA" ]; then\n    WEB_DATA="${_dp0}data"\n  fi');
    expect(sh).toContain('  _int "$TRIES"; _a1=$_n\n  TRIES=$((_a1 + 1))');
    expect(sh).toContain('  if [ "$TRIES" -ge 50 ]; then');
    expect(sh).toContain('  sh movegroup.sh >/dev/null 2>&1 &');
    expect(r.report).toEqual([
      'note: movegroup.bat runs as movegroup.sh in the .sh: arms migrate movegroup.bat --to sh -o movegroup.sh',
      'START.BAT: nothing to change for Linux',
    ]);
  });
});

// Acceptance 3: the example group both ways under a real service.

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/**
 * The group's folder and script names, as .bat (the example itself) or as .sh (the example migrated
 * with `arms migrate --to sh` next to a copy of examples/groups/web, which START.BAT's %~dp0..\web names).
 */
async function groupFiles(kind: 'bat' | 'sh', home: string): Promise<{ dir: string; start: string; stop: string }> {
  if (kind === 'bat') return { dir: EXAMPLE, start: 'START.BAT', stop: 'STOP.BAT' };
  const root = path.join(home, 'groups');
  const dir = path.join(root, 'legacy');
  fs.mkdirSync(dir, { recursive: true });
  fs.cpSync(path.join(ROOT, 'examples', 'groups', 'web'), path.join(root, 'web'), { recursive: true });
  for (const f of ['START.BAT', 'STOP.BAT', 'movegroup.bat']) {
    const out = path.join(dir, f.replace(/\.bat$/i, '.sh'));
    const r = await run('arms', ['migrate', path.join(EXAMPLE, f), '--to', 'sh', '-o', out], envFor(home));
    expect(r.code, r.stdout + r.stderr).toBe(0);
  }
  return { dir, start: 'START.sh', stop: 'STOP.sh' };
}

async function legacyService(kind: 'bat' | 'sh', opts: { failDiskOnce?: boolean } = {}) {
  const home = tempDir(`arms-migrate-${kind}-`);
  const data = path.join(home, 'data');
  const port = await freePort();
  const activate = opts.failDiskOnce ? `if [ -f ${home}/tried ]; then mkdir -p ${data}; else touch ${home}/tried; fi` : `mkdir -p ${data}`;
  const g = await groupFiles(kind, home);
  const config = `server: LEGACYSRV
syslog: false
groups:
  LEGACY:
    dir: ${g.dir}
    start: ${g.start}
    stop: ${g.stop}
    timeouts: { start: 30s, stop: 30s }
    maxFailovers: 2
    disks:
      - path: ${data}
        activate: ${activate}
`;
  const svc = await startService({ home, config, env: { WEB_PORT: String(port), WEB_DATA: data } });
  return { svc, port };
}

async function group(svc: Service) {
  return ((await call(svc.pipe, 'status')) as { groups: any[] }).groups.find((g) => g.name === 'LEGACY');
}

/** The watches of the group: ID, restarts allowed, final action, state. */
async function watches(svc: Service) {
  const w = ((await call(svc.pipe, 'status')) as { watches: any[] }).watches;
  return w
    .filter((x) => x.group === 'LEGACY')
    .map((x) => ({ id: String(x.id).toUpperCase(), state: x.state, command: String(x.command).replace(/\S*\/legacy\//, '<group folder>/'), restartsUsed: x.restartsUsed, restartsAllowed: x.restartsAllowed }))
    .sort((a, b) => (a.id < b.id ? -1 : 1));
}

async function until<T>(what: () => Promise<T>, ok: (v: T) => boolean, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await what();
    if (ok(v) || Date.now() > deadline) return v;
    await sleep(50);
  }
}

/** The group's ARMLOG lines (message, level, alert), the port number and retry count made generic. */
const armlogLines = (svc: Service, which: 'cluster' | 'alert' = 'cluster') =>
  fromArmlog(svc.home, which)
    .filter((x) => x.group === 'LEGACY')
    .map((x) => [x.msg.replace(/port \d+ \(\d+ retries\)/, 'port P (N retries)'), x.level, !!x.alert]);

/** One run of the scenario: start, failover, stop; what the service saw at each step. */
async function scenario(kind: 'bat' | 'sh') {
  const seen: Record<string, unknown> = {};
  {
    const { svc, port } = await legacyService(kind);
    expect((await run('arms', ['group', 'start', 'LEGACY'], svc.env)).code).toBe(0);
    seen.started = { group: (await group(svc)).state, watches: await watches(svc), http: /^hello from group LEGACY \(started as START\)/.test((await (await fetch(`http://127.0.0.1:${port}/`)).text())) };
    const fover = await run('ARMFOVER', ['/W', 'LEGACY'], svc.env);
    expect(fover.code, `${kind}: ${fover.stdout}${fover.stderr}\n${fs.readFileSync(path.join(svc.home, 'log', 'cluster.log'), 'utf8')}`).toBe(0);
    seen.failedOver = { group: (await group(svc)).startedAs, watches: await watches(svc) };
    expect((await run('arms', ['group', 'stop', 'LEGACY'], svc.env)).code).toBe(0);
    seen.stopped = { group: (await group(svc)).state, watches: await watches(svc) };
    seen.cluster = armlogLines(svc);
    seen.alert = armlogLines(svc, 'alert');
    seen.scriptWarnings = readLog(svc.home).filter((x) => x.src === 'script' && x.level >= 40).map((x) => x.msg);
    await svc.stop();
  }
  {
    const { svc } = await legacyService(kind, { failDiskOnce: true });
    expect((await run('arms', ['group', 'start', 'LEGACY'], svc.env)).code).toBe(0);
    const g = await until(() => group(svc), (x) => x.state === 'online' && x.startedAs === 'FAILOVER');
    seen.diskFailure = { state: g.state, startedAs: g.startedAs, watches: await watches(svc), cluster: armlogLines(svc), alert: armlogLines(svc, 'alert') };
    expect((await run('arms', ['group', 'stop', 'LEGACY'], svc.env)).code).toBe(0);
    await svc.stop();
  }
  return seen;
}

describe('acceptance 3: the example group migrated with --to sh behaves as the .bat under the service', () => {
  it('start, failover, stop, and a failed disk: the same ARMLOG lines, the same watches', async () => {
    const [batSeen, shSeen] = await Promise.all([scenario('bat'), scenario('sh')]);
    expect(shSeen).toEqual(batSeen);
    // And what that is (so that both being wrong the same way would show).
    expect(batSeen.started).toMatchObject({ group: 'online', http: true });
    expect((batSeen.started as any).watches.map((w: any) => w.id)).toEqual(['LEGACY_RSP', 'LEGACY_WEB']);
    expect((batSeen.stopped as any).watches).toEqual([]);
    expect(batSeen.cluster).toEqual([
      ['LEGACY: start script, normal start on HOME', 30, false],
      ['LEGACY: application answers on port P (N retries)', 30, false],
      ['LEGACY: stop script (START, GROUPFAILOVER)', 30, false],
      ['LEGACY: stop script done', 30, false],
      ['LEGACY: start script, taking the group over (previous server: LEGACYSRV)', 30, false],
      ['LEGACY: application answers on port P (N retries)', 30, false],
      ['LEGACY: stop script (FAILOVER, GROUPSTOP)', 30, false],
      ['LEGACY: stop script done', 30, false],
    ]);
    expect(batSeen.scriptWarnings).toEqual([]);
    expect(batSeen.diskFailure).toMatchObject({ state: 'online', startedAs: 'FAILOVER' });
    expect((batSeen.diskFailure as any).alert.map((x: unknown[]) => x[0])).toContain('LEGACY: data disk not usable on HOME');
  }, 120_000);

  it('SET /A never evaluates an argument or a variable as code in the .sh (bash as /bin/sh, an argument a[$(touch F)])', () => {
    const file = writeBat('@ECHO OFF\r\nSET /A N=%1+1\r\nSET X=%2\r\nSET /A M=X*2\r\nECHO N=%N% M=%M%\r\n', 'CALC.BAT');
    const r = migrate(file, { to: 'sh' }, { services: [], platform: 'linux' });
    const sh = path.join(path.dirname(file), 'CALC.sh');
    fs.writeFileSync(sh, r.sh!);
    const pwned = path.join(path.dirname(file), 'PWNED');
    for (const shell of [['bash', '--posix'], ['sh']]) {
      const evil = spawnSync(shell[0], [...shell.slice(1), sh, `a[$(touch ${pwned})]`, `b[$(touch ${pwned})]`], { encoding: 'utf8' });
      expect(fs.existsSync(pwned)).toBe(false);
      // Not a number: read as 0, as cmd reads a name that holds no number.
      expect(evil.stdout).toBe('N=1 M=0\n');
      const ok = spawnSync(shell[0], [...shell.slice(1), sh, '41', '0x10'], { encoding: 'utf8' });
      expect(ok.stdout).toBe('N=42 M=32\n');
    }
  });
});
