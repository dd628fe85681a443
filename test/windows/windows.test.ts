// The Windows acceptance test: the real armsd under the official Windows node.exe (through Wine),
// listening on a named pipe, and legacy .bat files run by Wine's cmd.exe calling the commands
// through the commands folder written for win32. Nothing is mocked. See README.md beside this file
// for what this can and cannot show (Wine is not Windows).
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeCommandsDir } from '../../src/platform/shims';
import { writeExeCommandsDir } from './launcher/write-exe-commands';
import {
  buildLauncher,
  hasCommand,
  killWine,
  readEcho,
  ROOT,
  Running,
  sleep,
  startWinenode,
  winenode,
  winePath,
  wineProcesses,
  WINEPREFIX,
  writeBat,
} from './wine';

interface LogRecord {
  level: number;
  time: string;
  server: string;
  src: string;
  msg: string;
  pid?: number;
  ppid?: number;
  alert?: boolean;
  pipe?: string;
  [k: string]: unknown;
}

interface Status {
  running: boolean;
  pid: number;
  server: string;
  pipe: string;
  home: string;
  version: string;
}

const LEVEL = { INFO: 30, WARN: 40, ERR: 50 };
/** A named pipe in the Windows pipe namespace, as src/platform/home.ts names it for a home. */
const PIPE_NAME = /^\\\\\.\\pipe\\arms-[0-9a-f]{16}$/;

/**
 * The node command in the launchers. A Windows install of Node.js puts its folder (with node.exe)
 * on PATH, and `npm run build` on Windows writes the launchers with the default "node", which
 * cmd.exe resolves through PATH and PATHEXT to node.exe (the .exe launchers: through PATH, adding
 * ".exe"). Here that folder is winenode's: WINEPATH puts it on cmd's PATH.
 */
const NODE_CMD = 'node';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'arms-win-'));
const home = path.join(tmp, 'home');
const cmds = path.join(tmp, 'cmds');
const tag = `w${process.pid}`;
let homeWin = '';
let cmdsWin = '';
let service: Running | null = null;
let started: Status | null = null;

const w = (p: string) => winePath(p);
const bin = (name: string) => winePath(path.join(ROOT, 'bin', `${name}.js`));
const armsEnv = () => ({ ARMS_HOME: homeWin });

function readLog(which: 'cluster' | 'alert'): LogRecord[] {
  const file = path.join(home, 'log', `${which}.log`);
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as LogRecord);
}

const armlogLines = (which: 'cluster' | 'alert', marker: string) => readLog(which).filter((r) => r.src === 'ARMLOG' && r.msg.includes(marker));

/** `arms service status --json` by the Windows node: a ping over the pipe. */
async function status(): Promise<{ code: number | null; status: Status | null; stderr: string }> {
  const r = await winenode(['node', bin('arms'), 'service', 'status', '--json'], armsEnv());
  let s: Status | null = null;
  try {
    s = JSON.parse(r.stdout.trim().split('\n').pop() ?? '') as Status;
  } catch {
    /* not running, or it said something else */
  }
  return { code: r.code, status: s, stderr: r.stderr };
}

/** The lines of a .bat: the commands folder first on PATH, ARMS_HOME set, then `body`. */
function batLines(commandsWin: string, body: string[]): string[] {
  return ['@echo off', `set "PATH=${commandsWin};%PATH%"`, `set "ARMS_HOME=${homeWin}"`, ...body];
}

/** Runs a .bat with Wine's cmd.exe (`winenode cmd /c X.BAT`). */
async function runBat(name: string, lines: string[]) {
  const file = path.join(tmp, name);
  writeBat(file, lines);
  return winenode(['cmd', '/c', w(file)]);
}

beforeAll(async () => {
  // The first call creates this test's Wine prefix if it does not exist yet.
  const p = await winenode(['path'], {}, 600_000);
  expect(p.code, `winenode path failed: ${p.stderr}`).toBe(0);
  fs.mkdirSync(home, { recursive: true });
  homeWin = w(home);
  expect(homeWin).toMatch(/^[A-Za-z]:\\/);

  // The commands folder as the product writes it for Windows: one .cmd per lowercase command.
  const written = writeCommandsDir(cmds, 'win32', NODE_CMD).map((f) => path.basename(f)).sort();
  expect(written).toEqual(['armlog.cmd', 'arms.cmd', 'armsd.cmd']);
  cmdsWin = w(cmds);

  // The service in the foreground, under the Windows node.exe, in its own Windows-path home.
  service = startWinenode(['node', bin('armsd')], armsEnv());
  let ended = false;
  void service.done.then(() => (ended = true));
  const deadline = Date.now() + 180_000;
  for (;;) {
    if (ended) {
      const r = await service.done;
      throw new Error(`armsd ended before answering (exit ${r.code}):\n${r.stdout}${r.stderr}`);
    }
    const s = await status();
    if (s.code === 0 && s.status?.running) {
      started = s.status;
      break;
    }
    if (Date.now() > deadline) throw new Error(`armsd did not answer within 180 s: ${s.stderr}`);
    await sleep(500);
  }
});

afterAll(async () => {
  // Whatever happened above: no service, no winenode and no wine process of ours is left behind.
  if (service) {
    const stillRunning = await Promise.race([service.done.then(() => false), sleep(0).then(() => true)]);
    if (stillRunning) {
      await winenode(['node', bin('arms'), 'service', 'stop', '--timeout', '60'], armsEnv(), 90_000).catch(() => undefined);
      const ended = await Promise.race([service.done.then(() => true), sleep(30_000).then(() => false)]);
      if (!ended) service.kill();
    }
  }
  const left = await killWine();
  fs.rmSync(tmp, { recursive: true, force: true });
  if (left.length > 0) throw new Error(`wine processes left behind: ${JSON.stringify(left)}`);
});

describe.sequential('ARMS on Windows (node.exe and cmd.exe under Wine)', () => {
  it('armsd listens on a named pipe \\\\.\\pipe\\arms-<hash of home>', async () => {
    expect(started).not.toBeNull();
    const s = started!;
    expect(s.running).toBe(true);
    expect(s.home).toBe(homeWin);
    // The pipe field of the ping answer: a name in the pipe namespace, derived from the home.
    expect(s.pipe).toMatch(PIPE_NAME);
    const id = createHash('sha256').update(path.win32.resolve(homeWin).toLowerCase()).digest('hex').slice(0, 16);
    expect(s.pipe).toBe(`\\\\.\\pipe\\arms-${id}`);
    // The service's own first log line says so too; and no Unix socket was made anywhere in the home.
    const first = readLog('cluster').find((r) => r.src === 'armsd' && /armsd started/.test(r.msg));
    expect(first?.pipe).toBe(s.pipe);
    expect(first?.pid).toBe(s.pid);
    expect(fs.existsSync(path.join(home, 'run'))).toBe(false);
    expect(fs.readdirSync(path.join(home, 'state'))).toEqual(['armsd.lock']);
  });

  it('a .bat calls ARMLOG, ARMLOG /ARM and armlog with a bad option through the .cmd launchers (with CALL)', async () => {
    const m = `${tag}-bat`;
    const el = [1, 2, 3].map((i) => path.join(tmp, `bat-el${i}.txt`));
    const r = await runBat(
      'LOGS.BAT',
      batLines(cmdsWin, [
        `CALL ARMLOG "${m} plain line from a batch file"`,
        `>"${w(el[0])}" echo %ERRORLEVEL%`,
        `CALL ARMLOG "${m} alert from a batch file" /ARM`,
        `>"${w(el[1])}" echo %ERRORLEVEL%`,
        // `cmd /c` runs the launcher in a cmd.exe of its own, whose exit code is the launcher's: the
        // exit code of armlog as ERRORLEVEL, the same under Wine and Windows. (After CALL, Wine's cmd
        // reports any failure as 1: see the Wine-only test below.)
        `cmd /c armlog /NOSUCH "${m} never logged"`,
        `>"${w(el[2])}" echo %ERRORLEVEL%`,
      ]),
    );
    expect(el.map(readEcho), r.stderr).toEqual(['0', '0', '2']);
    expect(r.stderr).toContain('ARMLOG: unknown option "/NOSUCH"');

    const cluster = armlogLines('cluster', m);
    expect(cluster.map((l) => [l.msg, l.level, !!l.alert])).toEqual([
      [`${m} plain line from a batch file`, LEVEL.INFO, false],
      [`${m} alert from a batch file`, LEVEL.WARN, true],
    ]);
    const alert = armlogLines('alert', m);
    expect(alert.map((l) => [l.msg, l.level])).toEqual([[`${m} alert from a batch file`, LEVEL.WARN]]);
    // Both lines came from node.exe processes started by the same cmd.exe: the script's interpreter.
    expect(cluster[0].ppid).toBeGreaterThan(0);
    expect(cluster[1].ppid).toBe(cluster[0].ppid);
    expect(cluster[1].pid).not.toBe(cluster[0].pid);
  });

  it('WINE ONLY: after CALL, Wine\'s cmd sets ERRORLEVEL 1 for any failure (real cmd.exe keeps the code, here 2)', async () => {
    const el = ['call-node', 'node', 'call-armlog'].map((n) => path.join(tmp, `wine-el-${n}.txt`));
    const r = await runBat(
      'WINECALL.BAT',
      batLines(cmdsWin, [
        // The control, without ARMS: node.exe exiting 6, with and without CALL.
        `CALL node -e "process.exit(6)"`,
        `>"${w(el[0])}" echo %ERRORLEVEL%`,
        `node -e "process.exit(6)"`,
        `>"${w(el[1])}" echo %ERRORLEVEL%`,
        `CALL armlog /NOSUCH`,
        `>"${w(el[2])}" echo %ERRORLEVEL%`,
      ]),
    );
    // On Windows these would be 6, 6 and 2. If Wine fixes CALL, this test fails: drop it then.
    expect(el.map(readEcho), r.stderr).toEqual(['1', '6', '1']);
  });

  describe('a legacy START.BAT calling ARMLOG twice without CALL, with the .cmd launchers', () => {
    const m = `${tag}-nocall`;
    const end = path.join(tmp, 'start-end.txt');
    beforeAll(async () => {
      const r = await runBat('START.BAT', batLines(cmdsWin, [`ARMLOG "${m} a"`, `ARMLOG "${m} b"`, `>"${w(end)}" echo reached the end`]));
      // The script's exit code is that of the launcher it was handed over to.
      expect(r.code, r.stderr).toBe(0);
    });

    it('only the first ARMLOG runs: cmd.exe hands the script over to ARMLOG.cmd and never comes back', () => {
      // What real cmd.exe does with a batch file named without CALL, and what Wine's cmd does too.
      expect(armlogLines('cluster', m).map((l) => l.msg)).toEqual([`${m} a`]);
      expect(readEcho(end)).toBeNull();
    });

    // The behaviour legacy scripts need (the original ARMLOG was a program). Known to fail with .cmd
    // launchers; the .exe launchers below fix it.
    it.fails('DESIRED, FAILS WITH .cmd LAUNCHERS: both ARMLOG lines run and the script goes on', () => {
      expect(armlogLines('cluster', m).map((l) => l.msg)).toEqual([`${m} a`, `${m} b`]);
      expect(readEcho(end)).toBe('reached the end');
    });
  });

  describe.skipIf(!hasCommand('x86_64-w64-mingw32-gcc'))('the proposed fix: .exe launchers (test/windows/launcher, needs mingw-w64)', () => {
    const xcmds = path.join(tmp, 'xcmds');
    let xcmdsWin = '';
    beforeAll(() => {
      const template = path.join(tmp, 'launcher.exe');
      buildLauncher(template);
      const written = writeExeCommandsDir(xcmds, template, NODE_CMD).map((f) => path.basename(f)).sort();
      expect(written).toEqual(['armlog.exe', 'arms.exe', 'armsd.exe']);
      xcmdsWin = w(xcmds);
    });

    it('the legacy START.BAT without CALL runs every line; ERRORLEVEL is the exit code', async () => {
      const m = `${tag}-exe`;
      const el = path.join(tmp, 'exe-el.txt');
      const end = path.join(tmp, 'exe-end.txt');
      const r = await runBat(
        'XSTART.BAT',
        batLines(xcmdsWin, [
          `ARMLOG "${m} a"`,
          `ARMLOG "${m} b" /ARM`,
          `armlog /NOSUCH "${m} never logged"`,
          `>"${w(el)}" echo %ERRORLEVEL%`,
          `>"${w(end)}" echo reached the end`,
        ]),
      );
      expect(r.stderr).toContain('ARMLOG: unknown option "/NOSUCH"');
      expect(readEcho(el), r.stderr).toBe('2');
      expect(readEcho(end)).toBe('reached the end');
      expect(r.code).toBe(2); // echo leaves ERRORLEVEL alone: the script ends with the last exit code
      expect(armlogLines('cluster', m).map((l) => [l.msg, l.level, !!l.alert])).toEqual([
        [`${m} a`, LEVEL.INFO, false],
        [`${m} b`, LEVEL.WARN, true],
      ]);
      expect(armlogLines('alert', m).map((l) => l.msg)).toEqual([`${m} b`]);
      // Unlike CALL ARMLOG.cmd (ppid: the script's cmd.exe), node's parent is now each line's own
      // launcher. If ppid must name the script, the launcher has to pass its own parent on.
      const [a, b] = armlogLines('cluster', m);
      expect(a.ppid).not.toBe(b.ppid);
    });

    it('passes its command line on untouched (quotes, %, ^, &, |, <, >)', async () => {
      const m = `${tag}-chars`;
      // In a .bat, %% is one %; inside quotes ^ & | < > are plain characters.
      const r = await runBat('XCHARS.BAT', batLines(xcmdsWin, [`ARMLOG "${m} 50%% done, a^b & c|d <e> 'f'"`, `ARMLOG ${m}   unquoted   words`]));
      expect(r.code, r.stderr).toBe(0);
      expect(armlogLines('cluster', m).map((l) => l.msg)).toEqual([`${m} 50% done, a^b & c|d <e> 'f'`, `${m} unquoted words`]);
    });

    it('killing the launcher (TerminateProcess, child.kill()) ends its node.exe too (job object)', async () => {
      const end = path.join(tmp, 'follow-end.txt');
      const file = path.join(tmp, 'FOLLOW.BAT');
      writeBat(file, batLines(xcmdsWin, ['arms log -f', `>"${w(end)}" echo the script went on`]));
      const run = startWinenode(['cmd', '/c', w(file)]);
      try {
        // Under Wine each Windows process is a Linux process; its command line is the Windows one.
        const find = () => {
          const ps = wineProcesses();
          return {
            launcher: ps.find((p) => p.cmdline === 'arms log -f'),
            node: ps.find((p) => /node\.exe .*arms\.js log -f$/.test(p.cmdline)),
          };
        };
        let found = find();
        for (const deadline = Date.now() + 60_000; !(found.launcher && found.node) && Date.now() < deadline; await sleep(200)) found = find();
        expect(found.launcher, 'arms.exe (arms log -f) did not start').toBeDefined();
        expect(found.node, 'node.exe arms.js log -f did not start').toBeDefined();
        process.kill(found.launcher!.pid, 'SIGKILL');
        const nodePid = found.node!.pid;
        let alive = true;
        for (const deadline = Date.now() + 30_000; alive && Date.now() < deadline; await sleep(200)) alive = wineProcesses().some((p) => p.pid === nodePid);
        expect(alive, 'node.exe outlived its launcher').toBe(false);
        await run.done;
        expect(readEcho(end)).toBe('the script went on');
      } finally {
        run.kill();
      }
    });

    it('"arms service start" through arms.exe leaves armsd running after the launcher and the script end', async () => {
      const home2 = path.join(tmp, 'home2');
      fs.mkdirSync(home2);
      const home2Win = w(home2);
      const el = path.join(tmp, 'svc-start-el.txt');
      const r = await runBat('SVCSTART.BAT', ['@echo off', `set "PATH=${xcmdsWin};%PATH%"`, `set "ARMS_HOME=${home2Win}"`, 'arms service start', `>"${w(el)}" echo %ERRORLEVEL%`]);
      expect(readEcho(el), r.stderr).toBe('0');
      expect(r.stdout).toMatch(/^armsd started \(pid \d+\) on \\\\\.\\pipe\\arms-[0-9a-f]{16}, /m);
      const st = await winenode(['node', bin('arms'), 'service', 'status', '--json'], { ARMS_HOME: home2Win });
      expect(st.code, st.stderr).toBe(0);
      const info = JSON.parse(st.stdout.trim()) as Status;
      expect(info).toMatchObject({ running: true, home: home2Win });
      expect(info.pipe).toMatch(PIPE_NAME);
      expect(info.pipe).not.toBe(started!.pipe);
      const stop = await winenode(['node', bin('arms'), 'service', 'stop', '--timeout', '60'], { ARMS_HOME: home2Win });
      expect(stop.code, stop.stderr).toBe(0);
      expect(stop.stdout).toContain(`armsd stopped (pid ${info.pid})`);
      expect(fs.readFileSync(path.join(home2, 'log', 'armsd.out'), 'utf8')).toMatch(/^armsd: stopped \(stop requested by pid \d+\)$/m);
    });

    it('a missing node is reported as one line with exit code 1, and the script goes on', async () => {
      const el = path.join(tmp, 'exe-nonode-el.txt');
      const r = await runBat('XNONODE.BAT', ['@echo off', `set "PATH=${xcmdsWin}"`, `set "ARMS_HOME=${homeWin}"`, `ARMLOG "${tag} no node"`, `>"${w(el)}" echo %ERRORLEVEL%`]);
      expect(r.stderr).toContain('armlog: cannot find node on PATH');
      expect(readEcho(el), r.stderr).toBe('1');
    });
  });

  it('WINE ONLY: Wine has no eventcreate.exe; alerts still reach the alert log and the cluster log says why', () => {
    // On Windows eventcreate.exe exists (not seen here). It registers the source "arms" under HKLM the
    // first time, which needs an elevated or service account: an armsd started by a plain user would
    // most likely log a similar line ("eventcreate exited 1: ERROR: Access is denied").
    const why = readLog('cluster').filter((l) => l.src === 'armsd' && /alerts are not reaching the system log/.test(l.msg));
    expect(why.map((l) => [l.level, l.msg])).toEqual([[LEVEL.WARN, 'alerts are not reaching the system log: eventcreate: spawn eventcreate ENOENT']]);
    expect(readLog('alert').length).toBeGreaterThan(0);
  });

  it('armsd stops cleanly on "arms service stop" run by the Windows node', async () => {
    const r = await winenode(['node', bin('arms'), 'service', 'stop', '--timeout', '60'], armsEnv());
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`armsd stopped (pid ${started!.pid})`);

    // The foreground service has ended with 0; winenode hands over its stdout now.
    const out = await Promise.race([service!.done, sleep(60_000).then(() => null)]);
    expect(out, 'armsd did not end within 60 s of the stop').not.toBeNull();
    expect(out!.code, out!.stderr).toBe(0);
    const said = out!.stdout.trim().split(/\r?\n/);
    expect(said[0]).toBe(`armsd: listening on ${started!.pipe} (server ${started!.server}, home ${homeWin}, pid ${started!.pid})`);
    expect(said[said.length - 1]).toMatch(/^armsd: stopped \(stop requested by pid \d+\)$/);

    const last = readLog('cluster').filter((l) => l.src === 'armsd').pop();
    expect(last?.msg).toBe('armsd stopped');
    expect(fs.existsSync(path.join(home, 'state', 'armsd.lock'))).toBe(false);

    // Nothing answers on the pipe any more.
    const after = await status();
    expect(after.code).toBe(3);
    expect(after.status).toMatchObject({ running: false, pipe: started!.pipe });
  });

  it('leaves no wine process behind (wineserver -k on its own prefix)', async () => {
    const left = await killWine();
    expect(left, `still running in ${WINEPREFIX}`).toEqual([]);
  });
});
