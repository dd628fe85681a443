// The service survives itself: after a kill -9 it takes back the watches whose processes still
// run (same PID, same start time, same boot), never starts anything twice, never touches a process
// that got a watched PID later, and its state file is never left broken.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { call, connect } from '../src/client/client';
import { openJournal } from '../src/service/journal';
import { readState } from '../src/service/state';
import { readLog, run, Service, sleep, startService, stopAll, tempDir, until, sleepers } from './helpers';

afterAll(stopAll);

// Programs are told apart by their arguments: numbers of this run's own, since other suites may
// run this file at the same time on the same machine.
const B41 = 100_000 + (process.pid % 4000) * 100;
const S1 = String(B41 + 51);
const S2 = String(B41 + 52);

interface W {
  id: string;
  group: string | null;
  pid: number | null;
  state: string;
  restartsUsed: number;
}

async function watches(svc: Service): Promise<W[]> {
  return ((await call(svc.pipe, 'status')) as { watches: W[] }).watches;
}



async function crash(svc: Service): Promise<void> {
  svc.proc.kill('SIGKILL');
  await svc.exited;
}

describe('re-adoption after a kill -9 of the service', () => {
  it('20 watches in 3 groups: same PIDs and counters after each of 20 crashes; an adopted watch restarts its program; never a duplicate', async () => {
    if (process.platform !== 'linux') return;
    for (let i = 0; i < 20; i++) for (const p of sleepers(String(B41 + i))) process.kill(p, 'SIGKILL'); // a failed earlier run's
    const home = tempDir();
    const groups = { A: 7, B: 7, C: 6 };
    let config = 'syslog: false\ngroups:\n';
    let n = 0;
    for (const [g, count] of Object.entries(groups)) {
      const dir = path.join(home, 'groups', g);
      fs.mkdirSync(dir, { recursive: true });
      let start = '';
      for (let i = 0; i < count; i++, n++) start += `ARMLOAD W${n} /R 100 /INT 1 sleep ${B41 + n}\n`;
      fs.writeFileSync(path.join(dir, 'start.sh'), start);
      fs.writeFileSync(path.join(dir, 'stop.sh'), 'exit 0\n');
      config += `  ${g}:\n    start: start.sh\n    stop: stop.sh\n    autostart: true\n`;
    }
    let svc = await startService({ home, config });
    // Once the groups are online, their start scripts' ARMLOADs have all returned: every watch is on disk.
    await until(async () => ((await call(svc.pipe, 'status')) as { groups: Array<{ state: string }> }).groups, (g) => g.every((x) => x.state === 'online'));
    let before = await until(() => watches(svc), (w) => w.length === 20 && w.every((x) => x.pid !== null));
    expect(before).toHaveLength(20);

    for (let round = 0; round < 20; round++) {
      await crash(svc);
      // The programs outlive the service.
      for (const w of before) expect(sleepers(String(B41 + Number(w.id.slice(1))))).toEqual([w.pid]);
      svc = await startService({ home });
      const after = await watches(svc);
      const view = (ws: W[]) => ws.map((w) => [w.id, w.group, w.pid, w.state, w.restartsUsed]).sort();
      expect(view(after)).toEqual(view(before));

      // One application dies while watched by the adopted watch: restarted, counted, once.
      const victim = after[round % 20];
      process.kill(victim.pid!, 'SIGKILL');
      before = await until(
        () => watches(svc),
        (ws) => {
          const v = ws.find((w) => w.id === victim.id);
          return !!v && v.pid !== null && v.pid !== victim.pid;
        },
      );
      const restarted = before.find((w) => w.id === victim.id)!;
      expect(restarted.restartsUsed).toBe(victim.restartsUsed + 1);
      for (let i = 0; i < 20; i++) expect(sleepers(String(B41 + i)), `W${i} in round ${round}`).toHaveLength(1);
    }
    await svc.stop(); // a clean stop stops the groups, and their watches with them
    for (let i = 0; i < 20; i++) expect(sleepers(String(B41 + i))).toEqual([]);
  }, 240_000);

  it('a PID reused by an unrelated process while the service is down is neither adopted nor killed', async () => {
    if (process.platform !== 'linux') return;
    for (const a of [S1, S2]) for (const p of sleepers(a)) process.kill(p, 'SIGKILL'); // a failed earlier run's
    const home = tempDir();
    let svc = await startService({ home, config: 'syslog: false\n' });
    expect((await run('ARMLOAD', ['victim', '/R', '3', '/INT', '1', 'sleep', S1], svc.env)).code).toBe(0);
    const pid = (await watches(svc))[0].pid!;
    await crash(svc);
    process.kill(pid, 'SIGKILL');
    await until(async () => sleepers(S1), (p) => p.length === 0);
    expect(sleepers(S1)).toEqual([]);

    // A stranger now has the PID the state names. (The victim's own PID cannot be handed out again
    // here: orphans of the killed service stay zombies under this machine's init until it reaps
    // them. So the stranger's PID is written into the saved watch instead: to the service, that is
    // exactly a PID reused while it was down: same number, another start time.)
    const stranger = spawn('sleep', [S2], { stdio: 'ignore' });
    await new Promise((r) => stranger.once('spawn', r));
    const journal = openJournal(path.join(home, 'state', 'state.journal'));
    const [key, saved] = [...journal.initial].find(([k]) => k.startsWith('watch:')) as [string, { pid: number; identity: { pid: number } }];
    saved.pid = stranger.pid!;
    saved.identity.pid = stranger.pid!;
    journal.put(key, saved);
    journal.close();

    svc = await startService({ home });
    const w = await until(() => watches(svc), (ws) => ws[0]?.pid !== null && ws[0]?.pid !== stranger.pid);
    expect(w[0]).toMatchObject({ id: 'victim', state: 'running', restartsUsed: 1 });
    expect(w[0].pid).not.toBe(stranger.pid);
    expect(sleepers(S1)).toEqual([w[0].pid]); // restarted by its policy, once
    await sleep(1500); // a poll interval and more: the stranger is still not taken for ours
    expect(sleepers(S2)).toEqual([stranger.pid]);
    expect((await run('ARMKILL', ['victim'], svc.env)).code).toBe(0);
    expect(sleepers(S2)).toEqual([stranger.pid]);
    stranger.kill();
    await svc.stop();
  });
});

describe('programs the crashed service started but never wrote down', () => {
  it('are stopped at the next start, with an alert; a known watch, a program of a known watch in its own session, and another home\'s are left alone', async () => {
    if (process.platform !== 'linux') return;
    for (const a of ['43001', '43002', '43003', '43004']) for (const p of sleepers(a)) process.kill(p, 'SIGKILL'); // a failed earlier run's
    const home = tempDir();
    let svc = await startService({ home, config: 'syslog: false\n' });
    expect((await run('ARMLOAD', ['KNOWN', '/R', '3', 'sleep', '43001'], svc.env)).code).toBe(0);
    const known = (await watches(svc))[0].pid!;
    const logDir = path.join(home, 'log', 'watches');
    expect((await watches(svc))[0]).toMatchObject({ id: 'KNOWN', log: path.join(logDir, 'KNOWN.log') });
    await crash(svc);

    // What the service's spawn leaves when it ends before writing the watch down: a program leading
    // its own process group, marked with the watch's ID and log file in its environment.
    const marked = (arg: string, id: string, dir: string) => {
      const child = spawn('sleep', [arg], { detached: true, stdio: 'ignore', env: { ...process.env, ARMS_WATCH_ID: id, ARMS_WATCH_LOG: path.join(dir, `${id}.log`) } });
      child.unref();
      return child;
    };
    const ghost = marked('43002', 'GHOST', logDir);
    const knownsDaemon = marked('43003', 'KNOWN', logDir);
    const otherHome = marked('43004', 'GHOST', path.join(tempDir(), 'log', 'watches'));
    await until(async () => [sleepers('43002'), sleepers('43003'), sleepers('43004')], (s) => s.every((p) => p.length === 1));

    svc = await startService({ home });
    await until(async () => sleepers('43002'), (p) => p.length === 0, 10_000);
    expect(sleepers('43002')).toEqual([]);
    const alerts = await until(async () => readLog(home, 'alert').map((x) => x.msg), (a) => a.some((m) => m.startsWith('the service did not stop cleanly')));
    expect(alerts).toContainEqual(`program ${ghost.pid} (sleep 43002) was started for watch GHOST just before the service ended, which never wrote it down (its ARMLOAD got no answer): stopped`);
    expect(alerts).toContainEqual(expect.stringMatching(/^the service did not stop cleanly last time: 1 watch\(es\) taken back, 0 ended meanwhile, 1 program\(s\) it had not written down stopped;/));
    expect((await watches(svc))[0]).toMatchObject({ id: 'KNOWN', state: 'running', pid: known });
    expect(sleepers('43001')).toEqual([known]);
    expect(sleepers('43003')).toEqual([knownsDaemon.pid]);
    expect(sleepers('43004')).toEqual([otherHome.pid]);
    knownsDaemon.kill();
    otherHome.kill();
    expect((await run('ARMKILL', ['KNOWN'], svc.env)).code).toBe(0);
    await svc.stop();
  });
});

describe('the state file', () => {
  it('is intact after the service is killed at random moments during 200 rapid state changes', async () => {
    const home = tempDir();
    let svc = await startService({ home, config: 'syslog: false\n' });
    let rng = 12345;
    const random = () => ((rng = (rng * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    let acknowledged = 0;
    let sent = 0;
    for (let round = 0; round < 10; round++) {
      const conn = await connect(svc.pipe);
      const killAt = sent + 5 + Math.floor(random() * 30);
      const pending: Promise<unknown>[] = [];
      while (sent < Math.min(killAt, 200)) {
        const value = ++sent;
        pending.push(conn.request('value.set', { name: 'COUNTER', value }).then(() => (acknowledged = Math.max(acknowledged, value))));
        if (random() < 0.3) await sleep(1);
      }
      // Killed while requests are in flight and the state is being written.
      svc.proc.kill('SIGKILL');
      await Promise.allSettled(pending);
      await svc.exited;
      conn.destroy();
      const { state, from } = readState(path.join(home, 'state'));
      expect(from).toBe('current');
      expect(state).not.toBeNull();
      const v = state!.values.COUNTER ?? 0; // none yet: nothing was acknowledged either
      // A state that was reached: at least what was acknowledged, at most what was sent.
      expect(v).toBeGreaterThanOrEqual(acknowledged);
      expect(v).toBeLessThanOrEqual(sent);
      expect(fs.readdirSync(path.join(home, 'state')).filter((f) => f.endsWith('.tmp')).length).toBeLessThanOrEqual(1);
      svc = await startService({ home });
      expect((await run('ARMGETCD', ['counter'], svc.env)).code).toBe(v & 0xff);
      if (sent >= 200) break;
    }
    await svc.stop();
  }, 120_000);

  it('a state journal that was damaged as a whole is replaced by its previous good copy (the journal as at the last start), with an alert', async () => {
    const home = tempDir();
    let svc = await startService({ home, config: 'syslog: false\n' });
    expect((await run('ARMSETCD', ['kept', '5'], svc.env)).code).toBe(0);
    expect((await run('ARMSETCD', ['kept', '6'], svc.env)).code).toBe(0);
    await svc.stop();
    svc = await startService({ home }); // this start keeps the journal as it is as the previous copy
    expect((await run('ARMSETCD', ['later', '7'], svc.env)).code).toBe(0);
    await svc.stop();
    fs.writeFileSync(path.join(home, 'state', 'state.journal'), '{"version":1,"clean');
    svc = await startService({ home });
    expect((await run('ARMGETCD', ['kept'], svc.env)).code).toBe(6);
    expect((await run('ARMGETCD', ['later'], svc.env)).code).toBe(0); // set after that start: not in the copy
    expect(readLog(home, 'alert').some((x) => /the state file was unreadable \(state\.journal: no usable meta record .*\): using its previous good copy/.test(x.msg))).toBe(true);
    expect(fs.readFileSync(path.join(home, 'state', 'state.journal.damaged'), 'utf8')).toBe('{"version":1,"clean');
    await svc.stop();
  });

  it('a write cut short at the end of the journal is skipped, with an alert; everything before it is kept', async () => {
    const home = tempDir();
    let svc = await startService({ home, config: 'syslog: false\n' });
    expect((await run('ARMSETCD', ['kept', '5'], svc.env)).code).toBe(0);
    expect((await run('ARMSETCD', ['kept', '6'], svc.env)).code).toBe(0);
    await svc.stop();
    // What a crash in the middle of a write leaves: the start of a record.
    fs.appendFileSync(path.join(home, 'state', 'state.journal'), '\n0badc0de {"n":99999,"k":"meta","v":{"version":1,"clea');
    svc = await startService({ home });
    expect((await run('ARMGETCD', ['kept'], svc.env)).code).toBe(6);
    expect(readLog(home, 'alert').some((x) => /the state journal ended in 1 unreadable line\(s\) \(\d+ bytes from byte \d+: a write cut short by a crash, never acknowledged\): skipped/.test(x.msg))).toBe(true);
    await svc.stop();
  });

  it('a state.json from before the journal is taken over, then removed', async () => {
    const home = tempDir();
    fs.mkdirSync(path.join(home, 'state'));
    fs.writeFileSync(path.join(home, 'state', 'state.json'), JSON.stringify({ version: 1, cleanStop: true, reboots: 0, failovers: {}, values: { OLD: 9 }, groups: {}, watches: [] }));
    const svc = await startService({ home, config: 'syslog: false\n' });
    expect((await run('ARMGETCD', ['old'], svc.env)).code).toBe(9);
    expect(fs.existsSync(path.join(home, 'state', 'state.json'))).toBe(false);
    await svc.stop();
  });
});

describe('a full disk', () => {
  it('a state write the disk refuses leaves the old state whole; ARMSETCD is refused (exit 1, the reason) and not kept; the service goes on', async () => {
    if (process.platform !== 'linux' || process.getuid?.() !== 0) return;
    const home = tempDir();
    const stateDir = path.join(home, 'state');
    fs.mkdirSync(stateDir);
    const { execFileSync } = await import('node:child_process');
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', stateDir]);
    } catch {
      return; // cannot mount here: nothing to show
    }
    try {
      const svc = await startService({ home, config: 'syslog: false\n' });
      expect((await run('ARMSETCD', ['before', '1'], svc.env)).code).toBe(0);
      // Fill the disk.
      try {
        fs.writeFileSync(path.join(stateDir, 'filler'), Buffer.alloc(64 * 1024));
      } catch {
        /* full */
      }
      // The journal's last block may still take a few records (each acknowledged: it is on disk):
      // values are set until a write is refused.
      let n = 0;
      let refused = await run('ARMSETCD', [`after${++n}`, '2'], svc.env);
      while (refused.code === 0 && n < 300) refused = await run('ARMSETCD', [`after${++n}`, '2'], svc.env);
      expect(refused.code).toBe(1); // refused: a value that is not on disk would vanish with the service
      expect(refused.stderr).toMatch(new RegExp(`AFTER${n} was not set: the service could not save it \\(.*ENOSPC`));
      // What is on disk reads, holds every value acknowledged, and not the refused one.
      const onDisk = readState(stateDir).state!.values;
      expect(onDisk.BEFORE).toBe(1);
      for (let i = 1; i < n; i++) expect(onDisk[`AFTER${i}`]).toBe(2);
      expect(onDisk[`AFTER${n}`]).toBeUndefined();
      expect((await run('ARMGETCD', [`after${n}`], svc.env)).code).toBe(0); // not set: 0
      fs.rmSync(path.join(stateDir, 'filler'));
      expect((await run('ARMSETCD', ['later', '3'], svc.env)).code).toBe(0); // room again: kept
      expect((await run('ARMGETCD', ['later'], svc.env)).code).toBe(3);
      const now = readState(stateDir).state!.values;
      expect(now[`AFTER${n}`]).toBeUndefined(); // the refused value did not come back with the next write
      expect(now.LATER).toBe(3);
      await svc.stop();
    } finally {
      execFileSync('umount', ['-l', stateDir]);
    }
  });
});
