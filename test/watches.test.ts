// ARMLOAD and ARMKILL with real processes against a real service.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call } from '../src/client/client';
import { alive, readLog, run, Service, sleep, startService, stopAll, tempDir, until } from './helpers';

afterAll(stopAll);

interface WatchStatus {
  id: string;
  group: string | null;
  pid: number | null;
  state: string;
  restartsUsed: number;
  restartsAllowed: number;
  resetsAt: string | null;
  lastExit: { code: number | null; signal: string | null } | null;
  escalation: { action: string; cause: string } | null;
}
type Status = { watches: WatchStatus[]; groups: any[]; reboots: { count: number; max: number } };

async function status(svc: Service): Promise<Status> {
  return (await call(svc.pipe, 'status')) as Status;
}
async function watch(svc: Service, id: string): Promise<WatchStatus | undefined> {
  return (await status(svc)).watches.find((w) => w.id.toUpperCase() === id.toUpperCase());
}

describe('ARMLOAD and ARMKILL', () => {
  let svc: Service;
  let dir: string;
  let powerLog: string;
  beforeAll(async () => {
    dir = tempDir();
    powerLog = path.join(dir, 'power');
    svc = await startService({ config: `syslog: false\npower: { shutdown: echo shutdown >> ${powerLog} }\n`, env: { ARMS_TIME_SCALE: '3600' } });
  });

  it('starts the program detached, with the caller\'s environment and folder, output to the watch log', async () => {
    const r = await run('ARMLOAD', ['envcheck', '/W', 'sh', '-c', 'echo "$MY_VAR in $(pwd)"; echo oops >&2'], { ...svc.env, MY_VAR: 'mine' }, {});
    expect(r.code).toBe(0);
    const log = fs.readFileSync(path.join(svc.home, 'log', 'watches', 'ENVCHECK.log'), 'utf8');
    expect(log).toContain(`mine in ${process.cwd()}`);
    expect(log).toContain('oops');
  });

  it('/W passes the exit code through: 0, 1, 42, and 128+n for a signal death', async () => {
    for (const [code, script] of [
      [0, 'exit 0'],
      [1, 'exit 1'],
      [42, 'exit 42'],
      [137, 'kill -9 $$'],
      [143, 'kill -15 $$'],
    ] as const) {
      expect((await run('ARMLOAD', ['waiter', '/W', 'sh', '-c', script], svc.env)).code, script).toBe(code);
    }
    // The ID is released at the end: ARMKILL of it is unknown now, and the ID can be used again.
    expect((await run('ARMKILL', ['waiter'], svc.env)).code).toBe(4);
  });

  it('a watch ID in use gives exit 5; a program that does not exist gives exit 6; bad IDs exit 2', async () => {
    expect((await run('ARMLOAD', ['dup', 'sleep', '60'], svc.env)).code).toBe(0);
    const again = await run('armload', ['DUP', 'sleep', '60'], svc.env);
    expect(again.code).toBe(5);
    expect(again.stderr).toBe('ARMLOAD: watch ID "dup" is already in use\n');
    expect((await run('ARMKILL', ['Dup'], svc.env)).code).toBe(0);

    const nf = await run('ARMLOAD', ['nf', 'no-such-program-anywhere'], svc.env);
    expect(nf.code).toBe(6);
    expect(nf.stderr).toBe('ARMLOAD: cannot start "no-such-program-anywhere": not found\n');
    fs.writeFileSync(path.join(dir, 'not-exec'), 'echo hi\n', { mode: 0o644 });
    expect((await run('ARMLOAD', ['ne', path.join(dir, 'not-exec')], svc.env)).code).toBe(6);

    for (const [args, msg] of [
      [['NEC_X', 'sleep', '1'], /reserved/],
      [['bad-id', 'sleep', '1'], /must be 1-255 letters/],
      [['x'], /a target program is required/],
      [['x', '/R', 'many', 'sleep', '1'], /\/R needs a whole number/],
      [['x', '/R', '3', '/M', 'sleep', '1'], /\/M and \/R exclude each other/],
      [['x', '/FOV', '/SHUT', 'sleep', '1'], /exclude each other/],
      [['x', '/W', '/R', '2', 'sleep', '1'], /\/W waits/],
      [['x', '/Q', 'sleep', '1'], /unknown option "\/Q"/],
    ] as const) {
      const r = await run('ARMLOAD', [...args], svc.env);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(msg);
    }
  });

  it('everything after the target goes to it untouched, /R-like words included', async () => {
    const out = path.join(dir, 'args');
    expect((await run('ARMLOAD', ['argv', '/W', 'sh', '-c', `printf '%s|' "$@" > ${out}`, 'sh', '/R', '9', '/FOV', '--help', 'two words'], svc.env)).code).toBe(0);
    expect(fs.readFileSync(out, 'utf8')).toBe('/R|9|/FOV|--help|two words|');
  });

  for (const [name, script] of [
    ['fast (exits at once)', 'exit 3'],
    ['slow (exits after a while)', 'sleep 0.4; exit 0'],
  ]) {
    it(`/R 3 on a ${name} crash loop: exactly 3 restarts, then monitoring stops with an alert`, async () => {
      const id = name.startsWith('fast') ? 'fastloop' : 'slowloop';
      const starts = path.join(dir, `${id}.starts`);
      expect((await run('ARMLOAD', [id, '/R', '3', 'sh', '-c', `echo $$ >> ${starts}; ${script}`], svc.env)).code).toBe(0);
      const w = await until(() => watch(svc, id), (x) => x?.state === 'exhausted');
      expect(w).toMatchObject({ state: 'exhausted', restartsUsed: 3, restartsAllowed: 3, pid: null });
      await sleep(600);
      expect(fs.readFileSync(starts, 'utf8').trim().split('\n')).toHaveLength(4); // the start and 3 restarts
      expect(readLog(svc.home, 'alert').filter((r) => r.watch === id && /restarts are used up/.test(r.msg))).toHaveLength(1);
      expect((await run('ARMKILL', [id], svc.env)).code).toBe(0); // ended: released, exit 0
    });
  }

  it('/H returns the count to zero (the service clock runs 3600x faster here: 1 h = 1 s)', async () => {
    const starts = path.join(dir, 'window.starts');
    // Ends every 0.6 s; /R 2 /H 1 (a 1 s window here): the third end comes after the window, so it
    // resets instead of exhausting (without /H, the third end would stop it), again and again.
    expect((await run('ARMLOAD', ['window', '/R', '2', '/H', '1', 'sh', '-c', `echo x >> ${starts}; sleep 0.6`], svc.env)).code).toBe(0);
    const w = await until(() => watch(svc, 'window'), (x) => x?.state !== 'running' || (fs.existsSync(starts) && fs.readFileSync(starts, 'utf8').split('\n').length > 8), 20_000);
    expect(w!.state).toBe('running');
    expect(w!.resetsAt).not.toBeNull();
    expect(fs.readFileSync(starts, 'utf8').trim().split('\n').length).toBeGreaterThan(6); // more than 2 restarts in all: the count was reset
    expect((await run('ARMKILL', ['window'], svc.env)).code).toBe(0);
  });

  it('/M goes straight to the final action, once, logged with its cause', async () => {
    expect((await run('ARMLOAD', ['mon', '/M', 'sh', '-c', 'sleep 0.2; exit 7'], svc.env)).code).toBe(0);
    const w = await until(() => watch(svc, 'mon'), (x) => x?.state === 'escalated');
    expect(w).toMatchObject({ state: 'escalated', restartsUsed: 0, escalation: { action: 'failover' } });
    expect(w!.escalation!.cause).toMatch(/watch mon ended \(exit code 7\); monitored without restarts \(\/M\)/);
    await sleep(300);
    expect(readLog(svc.home, 'alert').filter((r) => r.watch === 'mon' && r.action === 'failover')).toHaveLength(1);
  });

  it('/R 2 /SHUT: two restarts, then the server shutdown, once, with the watch, count and window in the alert', async () => {
    expect((await run('ARMLOAD', ['shutter', '/R', '2', '/H', '2', '/SHUT', 'sh', '-c', 'exit 1'], svc.env)).code).toBe(0);
    const w = await until(() => watch(svc, 'shutter'), (x) => x?.state === 'escalated');
    expect(w).toMatchObject({ restartsUsed: 2, escalation: { action: 'shutdown' } });
    expect(w!.escalation!.cause).toMatch(/watch shutter ended \(exit code 1\) after 2 of 2 restarts \(window 2 s\)/);
    await until(async () => fs.existsSync(powerLog), (x) => x);
    expect(fs.readFileSync(powerLog, 'utf8')).toBe('shutdown\n');
    expect((await status(svc)).reboots).toEqual({ count: 1, max: 3 });
    const alerts = readLog(svc.home, 'alert').filter((r) => r.watch === 'shutter' && r.action === 'shutdown');
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ restartsUsed: 2, restartsAllowed: 2 });
  });

  it('ARMKILL stops the whole tree: a background grandchild, and one that ignores SIGTERM after /T', async () => {
    const pids = path.join(dir, 'tree');
    const script = `sleep 300 & echo $! > ${pids}.bg; (trap '' TERM; exec sleep 301) & echo $! > ${pids}.stubborn; wait`;
    expect((await run('ARMLOAD', ['tree', '/R', '5', 'sh', '-c', script], svc.env)).code).toBe(0);
    await until(async () => fs.existsSync(`${pids}.stubborn`), (x) => x);
    await sleep(100);
    const bg = Number(fs.readFileSync(`${pids}.bg`, 'utf8'));
    const stubborn = Number(fs.readFileSync(`${pids}.stubborn`, 'utf8'));
    const head = (await watch(svc, 'tree'))!.pid!;
    expect([head, bg, stubborn].every(alive)).toBe(true);
    const r = await run('ARMKILL', ['tree', '/T', '1'], svc.env);
    expect(r).toMatchObject({ code: 0, stdout: 'ARMKILL: watch tree stopped\n' });
    expect([head, bg, stubborn].filter(alive)).toEqual([]);
    expect(await watch(svc, 'tree')).toBeUndefined(); // and not restarted: ARMKILL is not an end that counts
  });

  it('a process that later got the PID a watch once had is never touched', async () => {
    const lastPid = '/proc/sys/kernel/ns_last_pid';
    expect((await run('ARMLOAD', ['once', 'sh', '-c', 'exit 0'], svc.env)).code).toBe(0);
    const w = await until(() => watch(svc, 'once'), (x) => x?.state === 'ended');
    const oldPid = (await call(svc.pipe, 'status') as Status).watches.find((x) => x.id === 'once')!;
    expect(oldPid.state).toBe('ended');
    const logLine = readLog(svc.home).find((r) => r.watch === 'once' && typeof r.pid === 'number')!;
    const pid = logLine.pid as number;
    // Have the kernel hand out the same PID again (root can; other processes may race us, so try a few times).
    let stranger = spawn('sleep', ['60'], { stdio: 'ignore' });
    for (let i = 0; i < 20 && stranger.pid !== pid; i++) {
      stranger.kill();
      try {
        fs.writeFileSync(lastPid, String(pid - 1));
      } catch {
        break; // not allowed here: the test still shows ARMKILL leaves other processes alone
      }
      stranger = spawn('sleep', ['60'], { stdio: 'ignore' });
      await new Promise((r) => stranger.once('spawn', r));
    }
    if (process.getuid?.() === 0) expect(stranger.pid).toBe(pid);
    expect(w!.state).toBe('ended');
    const r = await run('ARMKILL', ['once'], svc.env);
    expect(r).toMatchObject({ code: 0, stdout: 'ARMKILL: watch once released (its program had already ended)\n' });
    expect(alive(stranger.pid!)).toBe(true);
    stranger.kill();
  });

  it('ARMKILL of an unknown ID is exit 4; of a watch of another group, exit 5', async () => {
    expect((await run('ARMKILL', ['never-was'], svc.env)).code).toBe(4);
    expect((await run('ARMLOAD', ['owned', 'sleep', '60'], { ...svc.env, ARMS_GROUPNAME: 'WEB' })).code).toBe(0);
    const r = await run('ARMKILL', ['owned'], { ...svc.env, ARMS_GROUPNAME: 'DB' });
    expect(r.code).toBe(5);
    expect(r.stderr).toBe('ARMKILL: watch "owned" belongs to group WEB, not DB\n');
    expect((await run('ARMKILL', ['owned'], { ...svc.env, ARMS_GROUPNAME: 'WEB' })).code).toBe(0);
  });

  it('arms status shows the watches: ID, group, PID, state, restarts used/allowed, last exit', async () => {
    expect((await run('ARMLOAD', ['shown', '/R', '4', 'sleep', '60'], { ...svc.env, ARMS_GROUPNAME: 'WEB' })).code).toBe(0);
    const r = await run('arms', ['status'], svc.env);
    expect(r.stdout).toMatch(/WATCH\s+GROUP\s+PID\s+STATE\s+RESTARTS\s+RESETS\s+LAST EXIT\s+ESCALATION/);
    expect(r.stdout).toMatch(/shown\s+WEB\s+\d+\s+running\s+0\/4\s+-\s+-\s+-/);
    expect((await run('ARMKILL', ['shown'], { ...svc.env, ARMS_GROUPNAME: 'WEB' })).code).toBe(0);
  });
});

describe('watches inside groups', () => {
  it('a watch started by a start script survives it, ARMKILL in the stop script stops it, a forgotten one is stopped with a warning', async () => {
    const home = tempDir();
    const gdir = path.join(home, 'groups', 'APP');
    fs.mkdirSync(gdir, { recursive: true });
    fs.writeFileSync(path.join(gdir, 'start.sh'), 'ARMLOAD APPMAIN /R 3 sleep 300\nARMLOAD HELPER sleep 300\n');
    fs.writeFileSync(path.join(gdir, 'stop.sh'), 'ARMKILL APPMAIN\n');
    const svc = await startService({ home, config: 'syslog: false\ngroups:\n  APP:\n    start: start.sh\n    stop: stop.sh\n' });
    expect((await run('arms', ['group', 'start', 'APP'], svc.env)).code).toBe(0);
    const s = await status(svc);
    const main = s.watches.find((w) => w.id === 'APPMAIN')!;
    const helper = s.watches.find((w) => w.id === 'HELPER')!;
    expect(main).toMatchObject({ group: 'APP', state: 'running' });
    expect([main.pid!, helper.pid!].every(alive)).toBe(true); // the start script has ended, they run on

    expect((await run('arms', ['group', 'stop', 'APP'], svc.env)).code).toBe(0);
    expect([main.pid!, helper.pid!].filter(alive)).toEqual([]);
    expect((await status(svc)).watches).toEqual([]);
    const warnings = readLog(svc.home, 'alert').filter((r) => r.group === 'APP' && /still running after group APP's stop script/.test(r.msg));
    expect(warnings.map((r) => r.watch)).toEqual(['HELPER']);
    await svc.stop();
  });

  it('/SCR restarts the group by its scripts (RESOURCERESTART), counting across the re-run', async () => {
    const home = tempDir();
    const trace = path.join(home, 'trace');
    const gdir = path.join(home, 'groups', 'SCR');
    fs.mkdirSync(gdir, { recursive: true });
    fs.writeFileSync(path.join(gdir, 'start.sh'), `echo "start $ARMS_EVENT" >> ${trace}\nARMLOAD DIES /R 2 /SCR sh -c "sleep 0.3; exit 1"\n`);
    fs.writeFileSync(path.join(gdir, 'stop.sh'), `echo "stop $ARMS_EVENT $CLP_FACTOR" >> ${trace}\nARMKILL DIES\n`);
    const svc = await startService({ home, config: 'syslog: false\ngroups:\n  SCR:\n    start: start.sh\n    stop: stop.sh\n' });
    expect((await run('arms', ['group', 'start', 'SCR'], svc.env)).code).toBe(0);
    const w = await until(() => watch(svc, 'DIES'), (x) => x?.state === 'exhausted', 30_000);
    expect(w).toMatchObject({ restartsUsed: 2, state: 'exhausted' });
    expect(fs.readFileSync(trace, 'utf8')).toBe('start START\nstop START RESOURCERESTART\nstart START\nstop START RESOURCERESTART\nstart START\n');
    await svc.stop();
  });
});

describe('watch logs', () => {
  it('a chatty program\'s log is rotated by size while it runs, keeping the configured number of files', async () => {
    const svc = await startService({ config: 'syslog: false\nlog:\n  watch: { maxSize: 64KB, keep: 2 }\n' });
    // About 40 KB a second, for as long as it runs.
    const chatty = 'while true; do head -c 4000 /dev/zero | tr "\\0" "x"; echo; sleep 0.1; done';
    expect((await run('ARMLOAD', ['chatty', 'sh', '-c', chatty], svc.env)).code).toBe(0);
    const file = path.join(svc.home, 'log', 'watches', 'CHATTY.log');
    await until(async () => fs.existsSync(`${file}.2`), (x) => x, 30_000);
    expect(fs.existsSync(`${file}.2`)).toBe(true);
    expect(fs.existsSync(`${file}.3`)).toBe(false);
    for (const f of [file, `${file}.1`, `${file}.2`]) expect(fs.statSync(f).size).toBeLessThan(64 * 1024 + 5 * 41_000);
    // The program goes on writing into the truncated file.
    const size = fs.statSync(file).size;
    await sleep(500);
    expect(fs.statSync(file).size).toBeGreaterThan(size);
    expect((await run('ARMKILL', ['chatty'], svc.env)).code).toBe(0);
    await svc.stop();
  }, 60_000);
});

describe('ARMLOAD /S: services', () => {
  it('a legacy service name mapped to commands: started, polled every /INT, its end escalates (/M), ARMKILL stops it', async () => {
    const dir = tempDir();
    const pidFile = path.join(dir, 'svc.pid');
    const config = `syslog: false
services:
  W3SVC:
    start: sh -c 'sleep 300 > /dev/null 2>&1 & echo $! > ${pidFile}'
    stop: kill $(cat ${pidFile})
    status: kill -0 $(cat ${pidFile})
  SIMPLE: { start: sleep 301 }
`;
    const svc = await startService({ config });
    const r = await run('ARMLOAD', ['WWWPS', '/S', '/M', '/INT', '1', 'W3SVC'], svc.env);
    expect(r).toMatchObject({ code: 0, stdout: 'ARMLOAD: watch WWWPS started (service W3SVC)\n' });
    const pid = Number(fs.readFileSync(pidFile, 'utf8'));
    expect(alive(pid)).toBe(true);
    expect(await watch(svc, 'WWWPS')).toMatchObject({ state: 'running', pid: null, command: expect.stringContaining('service W3SVC') });
    expect((await run('ARMKILL', ['WWWPS'], svc.env)).code).toBe(0);
    await until(async () => alive(pid), (x) => !x, 5000);
    expect(alive(pid)).toBe(false);

    // Its end, seen by the status poll, goes to the final action (/M: failover).
    expect((await run('ARMLOAD', ['WWWPS', '/S', '/M', '/INT', '1', 'w3svc'], svc.env)).code).toBe(0);
    process.kill(Number(fs.readFileSync(pidFile, 'utf8')));
    const w = await until(() => watch(svc, 'WWWPS'), (x) => x?.state === 'escalated', 10_000);
    expect(w).toMatchObject({ state: 'escalated', escalation: { action: 'failover' } });

    // Without a status command, the started process itself is watched.
    expect((await run('ARMLOAD', ['plain', '/S', '/R', '1', 'SIMPLE'], svc.env)).code).toBe(0);
    const plain = (await watch(svc, 'plain'))!;
    expect(plain.pid).toBeGreaterThan(0);
    expect((await run('ARMKILL', ['plain'], svc.env)).code).toBe(0);
    expect(alive(plain.pid!)).toBe(false);
    await svc.stop();
  });

  it('a service that cannot be started is exit 6; /A without /S and arguments after a service are usage errors', async () => {
    const svc = await startService({ config: 'syslog: false\nservices:\n  BROKEN: { start: exit 3, status: "true" }\n' });
    const r = await run('ARMLOAD', ['b', '/S', 'BROKEN'], svc.env);
    expect(r.code).toBe(6);
    expect(r.stderr).toMatch(/service BROKEN did not start: "exit 3" exited with code 3/);
    expect((await run('ARMLOAD', ['b', '/A', 'sleep', '1'], svc.env)).code).toBe(2);
    expect((await run('ARMLOAD', ['b', '/S', 'BROKEN', 'extra'], svc.env)).code).toBe(2);
    await svc.stop();
  });
});
