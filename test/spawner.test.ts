// The native spawner (src/platform/spawner.c, spawner.ts): real programs, started as node's
// spawn(file, args, {detached: true, cwd, env, uid, gid, stdio: ['ignore', log, log]}) starts
// them, their PIDs and ends reported back.
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { identify, isSameProcess } from '../src/platform/process';
import { openSpawner, SpawnFailed, SPAWNER_BINARY, Spawner } from '../src/platform/spawner';
import { call } from '../src/client/client';
import { ROOT, run, sleep, startService, stopAll, tempDir, until } from './helpers';

const BINARY = path.join(ROOT, 'dist', 'platform', 'arms-spawner');
const posix = process.platform !== 'win32';
const opened: Spawner[] = [];
const started = new Set<number>();
afterAll(async () => {
  await stopAll();
  for (const pid of started) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  for (const s of opened) s.close();
});

function spawner(): Spawner {
  const s = openSpawner(BINARY);
  opened.push(s);
  return s;
}

const PATH = '/usr/local/bin:/usr/bin:/bin';

/** /proc/PID/stat fields after the command name: [state, ppid, pgrp, session, ...] */
function stat(pid: number): string[] {
  const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  return s.slice(s.lastIndexOf(')') + 2).split(' ');
}
function statusField(pid: number, name: string): string {
  return new RegExp(`^${name}:[ \\t]*(.*)$`, 'm').exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))![1];
}

describe.skipIf(!posix)('the native spawner', () => {
  it('is built, where the service looks for it', () => {
    expect(fs.existsSync(BINARY)).toBe(true);
    expect(path.resolve(ROOT, 'dist', 'platform', path.basename(SPAWNER_BINARY))).toBe(BINARY);
  });

  it('starts a program in a session and process group of its own, with exactly its environment and folder, stdin empty, output appended to its log', async () => {
    const dir = tempDir();
    const log = path.join(dir, 'w.log');
    fs.writeFileSync(log, 'before\n');
    const s = spawner();
    const env = { PATH, ARMS_WATCH_ID: 'W1', ODD: 'a b\nc=d' };
    const p = await s.start({ file: 'sh', args: ['-c', 'echo "out $ARMS_WATCH_ID"; echo err >&2; cat; exec sleep 30'], cwd: dir, env, logFile: log });
    started.add(p.pid);
    await until(async () => fs.readFileSync(log, 'utf8'), (t) => t.includes('err'));
    const [state, ppid, pgrp, session] = stat(p.pid);
    expect(state).not.toBe('Z');
    expect(Number(ppid)).toBe(s.pid()); // the helper's child, not this process's
    expect(Number(pgrp)).toBe(p.pid);
    expect(Number(session)).toBe(p.pid);
    expect(fs.readlinkSync(`/proc/${p.pid}/cwd`)).toBe(fs.realpathSync(dir));
    // (sh adds PWD to what it execs: the environment is checked on a program started directly)
    const direct = await s.start({ file: 'sleep', args: ['30'], cwd: dir, env, logFile: log });
    started.add(direct.pid);
    expect(fs.readFileSync(`/proc/${direct.pid}/environ`, 'utf8').split('\0').filter(Boolean).sort()).toEqual(Object.entries(env).map(([k, v]) => `${k}=${v}`).sort());
    process.kill(direct.pid, 'SIGKILL');
    await direct.exited;
    expect(fs.readlinkSync(`/proc/${p.pid}/fd/0`)).toBe('/dev/null');
    expect(fs.readlinkSync(`/proc/${p.pid}/fd/1`)).toBe(log);
    expect(fs.readFileSync(log, 'utf8')).toBe('before\nout W1\nerr\n');
    // sh execs sleep right after its output: wait for it
    await until(async () => fs.readFileSync(`/proc/${p.pid}/cmdline`, 'utf8'), (c) => c === 'sleep\x0030\x00');
    // only its standard descriptors: nothing of the helper's leaks into it
    expect(fs.readdirSync(`/proc/${p.pid}/fd`).sort()).toEqual(['0', '1', '2']);
    // every signal back to its default, none blocked
    expect(statusField(p.pid, 'SigBlk')).toMatch(/^0+$/);
    expect(statusField(p.pid, 'SigIgn')).toMatch(/^0+$/);
    // its identity (PID, start time, boot) names it; the start time came with its PID
    const id = identify(p.pid)!;
    if (process.platform === 'linux') expect(p.start).toBe(id.start);
    expect(isSameProcess(id)).toBe(true);
    process.kill(-p.pid, 'SIGTERM');
    expect(await p.exited).toEqual({ code: null, signal: 'SIGTERM' });
    expect(isSameProcess(id)).toBe(false);
  });

  it('creates the log 0640 when it is not there', async () => {
    const dir = tempDir();
    const log = path.join(dir, 'new.log');
    const p = await spawner().start({ file: 'true', args: [], cwd: dir, env: { PATH }, logFile: log });
    await p.exited;
    expect(fs.statSync(log).mode & 0o777).toBe(0o640 & ~process.umask());
  });

  it('reports each end once: an exit code, a signal', async () => {
    const s = spawner();
    const dir = tempDir();
    const a = await s.start({ file: 'sh', args: ['-c', 'exit 7'], cwd: dir, env: { PATH }, logFile: path.join(dir, 'l') });
    expect(await a.exited).toEqual({ code: 7, signal: null });
    const b = await s.start({ file: 'sleep', args: ['30'], cwd: dir, env: { PATH }, logFile: path.join(dir, 'l') });
    started.add(b.pid);
    process.kill(b.pid, 'SIGKILL');
    expect(await b.exited).toEqual({ code: null, signal: 'SIGKILL' });
    // reaped by the helper: the PID is free again, no zombie left
    await until(async () => fs.existsSync(`/proc/${b.pid}`), (x) => !x);
  });

  it('looks the program up on the PATH of its own environment, and says why one cannot start', async () => {
    const s = spawner();
    const dir = tempDir();
    const bin = path.join(dir, 'bin');
    fs.mkdirSync(bin);
    fs.writeFileSync(path.join(bin, 'mine'), '#!/bin/sh\nexit 3\n', { mode: 0o755 });
    fs.writeFileSync(path.join(bin, 'plain'), 'not a program\n', { mode: 0o644 });
    const log = path.join(dir, 'l');
    expect(await (await s.start({ file: 'mine', args: [], cwd: dir, env: { PATH: `/nonexistent:${bin}:${PATH}` }, logFile: log })).exited).toEqual({ code: 3, signal: null });
    // relative to the working folder when it holds a slash
    expect(await (await s.start({ file: './bin/mine', args: [], cwd: dir, env: {}, logFile: log })).exited).toEqual({ code: 3, signal: null });
    const failure = (file: string, cwd = dir, logFile = log) => s.start({ file, args: [], cwd, env: { PATH: bin }, logFile }).then(() => null, (e: SpawnFailed) => [e.code, e.message]);
    expect(await failure('nosuchprogram')).toEqual(['ENOENT', 'No such file or directory']);
    expect(await failure('sh')).toEqual(['ENOENT', 'No such file or directory']); // not on this PATH
    if (process.getuid?.() !== 0) expect(await failure('plain')).toEqual(['EACCES', 'Permission denied']);
    else expect((await failure('plain'))![0]).toBe('EACCES'); // root too: no execute bit at all
    expect(await failure('mine', path.join(dir, 'gone'))).toEqual(['ENOENT', `cannot enter the working folder ${path.join(dir, 'gone')}: No such file or directory`]);
    expect((await failure('mine', dir, path.join(dir, 'no', 'such', 'l')))![1]).toMatch(/^cannot open the watch log .*: No such file or directory$/);
    // the helper goes on after failures
    expect(await (await s.start({ file: 'mine', args: [], cwd: dir, env: { PATH: bin }, logFile: log })).exited).toEqual({ code: 3, signal: null });
  });

  it('runs the program as another user when asked (root only)', async () => {
    if (process.getuid?.() !== 0) return;
    const nobody = fs.readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('nobody:'));
    if (!nobody) return;
    const [, , uid, gid] = nobody.split(':').map(String);
    const dir = tempDir();
    fs.chmodSync(dir, 0o777);
    const p = await spawner().start({ file: 'sleep', args: ['30'], cwd: dir, env: { PATH }, logFile: path.join(dir, 'l'), uid: Number(uid), gid: Number(gid) });
    started.add(p.pid);
    expect(statusField(p.pid, 'Uid').split(/\s+/)[0]).toBe(uid);
    expect(statusField(p.pid, 'Gid').split(/\s+/)[0]).toBe(gid);
    expect(statusField(p.pid, 'Groups')).toBe('');
    process.kill(p.pid, 'SIGKILL');
    await p.exited;
  });

  it('starts 300 programs asked for at once, and sees each of them end once', async () => {
    const s = spawner();
    const dir = tempDir();
    const all = await Promise.all(Array.from({ length: 300 }, (_, i) => s.start({ file: 'sh', args: ['-c', `exit ${i % 100}`], cwd: dir, env: { PATH }, logFile: path.join(dir, 'l') })));
    expect(new Set(all.map((p) => p.pid)).size).toBe(300);
    const ends = await Promise.all(all.map((p) => p.exited));
    expect(ends.map((e) => e.code)).toEqual(Array.from({ length: 300 }, (_, i) => i % 100));
  });

  it('programs outlive the helper; when it ends unexpectedly their end is still seen, and the next start gets a new helper', async () => {
    const s = spawner();
    const dir = tempDir();
    const p = await s.start({ file: 'sleep', args: ['30'], cwd: dir, env: { PATH }, logFile: path.join(dir, 'l') });
    started.add(p.pid);
    const helper = s.pid()!;
    process.kill(helper, 'SIGKILL');
    await until(async () => fs.existsSync(`/proc/${helper}`) && stat(helper)[0] !== 'Z', (alive) => !alive);
    await sleep(100);
    expect(stat(p.pid)[0]).not.toBe('Z'); // still running
    let ended = false;
    void p.exited.then(() => (ended = true));
    await sleep(300);
    expect(ended).toBe(false);
    process.kill(p.pid, 'SIGKILL');
    expect(await p.exited).toEqual({ code: null, signal: null }); // no longer its child: seen gone, how it ended unknown
    const q = await s.start({ file: 'sh', args: ['-c', 'exit 4'], cwd: dir, env: { PATH }, logFile: path.join(dir, 'l') });
    expect(s.pid()).not.toBe(helper);
    expect(await q.exited).toEqual({ code: 4, signal: null });
  });

  it('a closed spawner ends, and leaves its programs running', async () => {
    const s = spawner();
    const dir = tempDir();
    const p = await s.start({ file: 'sleep', args: ['30'], cwd: dir, env: { PATH }, logFile: path.join(dir, 'l') });
    started.add(p.pid);
    const helper = s.pid()!;
    s.close();
    await until(async () => fs.existsSync(`/proc/${helper}`) && stat(helper)[0] !== 'Z', (alive) => !alive);
    expect(stat(p.pid)[0]).toBe('S');
    process.kill(p.pid, 'SIGKILL');
  });

  describe('restarts approved in advance (approve, hold)', () => {
    const runScript = (dir: string) => {
      // each run appends its ARMS_WATCH_RUN, then sleeps
      const script = path.join(dir, 'run.sh');
      fs.writeFileSync(script, `#!/bin/sh\necho "run $ARMS_WATCH_RUN" >> ${dir}/runs\nexec sleep 30\n`, { mode: 0o755 });
      return script;
    };
    const startKept = async (s: Spawner, dir: string) => {
      const p = await s.start({ file: runScript(dir), args: [], cwd: dir, env: { PATH, ARMS_WATCH_RUN: '1' }, logFile: path.join(dir, 'log'), keep: true });
      started.add(p.pid);
      await until(async () => (fs.existsSync(`${dir}/runs`) ? fs.readFileSync(`${dir}/runs`, 'utf8') : ''), (t) => t === 'run 1\n');
      return p;
    };
    const runs = (dir: string) => fs.readFileSync(`${dir}/runs`, 'utf8').split('\n').filter(Boolean);

    it('an approved program killed is running again at once, as the same request with the approved variables, once', async () => {
      const dir = tempDir();
      const s = spawner();
      const p = await startKept(s, dir);
      p.approve(0, { ARMS_WATCH_RUN: '2' });
      await sleep(50);
      process.kill(p.pid, 'SIGKILL');
      const end = await p.exited;
      expect(end).toMatchObject({ code: null, signal: 'SIGKILL' });
      expect(end.ranMs).toBeGreaterThanOrEqual(40);
      const next = end.next!;
      expect(next.pid).not.toBe(p.pid);
      started.add(next.pid);
      expect(Number(stat(next.pid)[1])).toBe(s.pid()); // the helper's child again
      expect(Number(stat(next.pid)[2])).toBe(next.pid); // a process group of its own
      await until(async () => runs(dir), (r) => r.length === 2);
      expect(runs(dir)).toEqual(['run 1', 'run 2']);
      // once only: the new program has no approve of its own
      process.kill(next.pid, 'SIGKILL');
      const end2 = await next.exited;
      expect(end2).toEqual({ code: null, signal: 'SIGKILL' });
      await sleep(200);
      expect(runs(dir)).toEqual(['run 1', 'run 2']);
    });

    it('is not restarted without an approve, after a hold, before its minimum run, or on a usage error in its first second', async () => {
      const dir = tempDir();
      const s = spawner();
      // no approve
      const a = await startKept(s, dir);
      process.kill(a.pid, 'SIGKILL');
      expect(await a.exited).toEqual({ code: null, signal: 'SIGKILL' });
      // approve, then hold: the hold answers, the end is plain
      fs.rmSync(`${dir}/runs`);
      const b = await startKept(s, dir);
      b.approve(0, {});
      await b.hold();
      process.kill(b.pid, 'SIGKILL');
      expect(await b.exited).toEqual({ code: null, signal: 'SIGKILL' });
      // a run shorter than the approve's minimum
      fs.rmSync(`${dir}/runs`);
      const c = await startKept(s, dir);
      c.approve(60_000, {});
      process.kill(c.pid, 'SIGKILL');
      expect(await c.exited).toEqual({ code: null, signal: 'SIGKILL' });
      // exit code 2 at once: a usage error, the service's to judge
      const d = await s.start({ file: 'sh', args: ['-c', 'read x; exit 2'], cwd: dir, env: { PATH }, logFile: path.join(dir, 'log'), keep: true });
      d.approve(0, {});
      expect(await d.exited).toEqual({ code: 2, signal: null });
      // whereas exit code 3 is restarted
      const e = await s.start({ file: 'sh', args: ['-c', 'sleep 0.2; exit 3'], cwd: dir, env: { PATH }, logFile: path.join(dir, 'log'), keep: true });
      e.approve(0, {});
      const endE = await e.exited;
      expect(endE).toMatchObject({ code: 3, signal: null });
      await endE.next!.hold();
      expect((await endE.next!.exited).code).toBe(3);
      await sleep(300);
      expect(runs(dir)).toEqual(['run 1']);
    });

    it('a restart whose program cannot start any more is told as the plain end', async () => {
      const dir = tempDir();
      const s = spawner();
      const p = await startKept(s, dir);
      p.approve(0, {});
      fs.rmSync(path.join(dir, 'run.sh'));
      process.kill(p.pid, 'SIGKILL');
      expect(await p.exited).toEqual({ code: null, signal: 'SIGKILL' });
    });

    it('300 approved programs killed at once (restarted side by side, in chunks): each runs again once, with its variables; those that cannot start are told as plain ends', async () => {
      const dir = tempDir();
      const s = spawner();
      fs.writeFileSync(path.join(dir, 'run.sh'), '#!/bin/sh\nexec sleep 60\n', { mode: 0o755 });
      fs.writeFileSync(path.join(dir, 'gone.sh'), '#!/bin/sh\nexec sleep 60\n', { mode: 0o755 });
      // one in ten cannot start again: its file is removed before the kills
      const programs = await Promise.all(
        Array.from({ length: 300 }, (_, i) =>
          s.start({ file: path.join(dir, i % 10 === 3 ? 'gone.sh' : 'run.sh'), args: [], cwd: dir, env: { PATH, N: String(i) }, logFile: path.join(dir, 'log'), keep: true }),
        ),
      );
      for (const p of programs) started.add(p.pid);
      programs.forEach((p, i) => p.approve(0, { ARMS_WATCH_RUN: `2-${i}` }));
      await sleep(100);
      fs.rmSync(path.join(dir, 'gone.sh'));
      for (const p of programs) process.kill(p.pid, 'SIGKILL');
      const ends = await Promise.all(programs.map((p) => p.exited));
      ends.forEach((e) => e.next && started.add(e.next.pid));
      ends.forEach((e, i) => {
        expect(e).toMatchObject({ code: null, signal: 'SIGKILL' });
        expect(!!e.next, `program ${i}`).toBe(i % 10 !== 3);
      });
      const next = ends.filter((e) => e.next).map((e) => e.next!);
      expect(new Set(next.map((n) => n.pid)).size).toBe(270);
      for (const [i, e] of ends.entries()) {
        if (!e.next) continue;
        const environ = fs.readFileSync(`/proc/${e.next.pid}/environ`, 'utf8').split('\0');
        expect(environ).toEqual(expect.arrayContaining([`N=${i}`, `ARMS_WATCH_RUN=2-${i}`]));
        expect(Number(stat(e.next.pid)[1])).toBe(s.pid());
        expect(e.next.start).toBe(Number(stat(e.next.pid)[19])); // the start time it told
      }
      // once each: killed again, none comes back
      for (const n of next) process.kill(n.pid, 'SIGKILL');
      expect((await Promise.all(next.map((n) => n.exited))).every((e) => !e.next && e.signal === 'SIGKILL')).toBe(true);
    });

    it('a hold that comes while the restart is under way is answered after it: the new run is told first', async () => {
      const dir = tempDir();
      const s = spawner();
      const p = await startKept(s, dir);
      p.approve(0, {});
      let endSeen = false;
      void p.exited.then(() => (endSeen = true));
      process.kill(p.pid, 'SIGKILL');
      // the kill and the hold race; whichever the helper sees first, the hold never resolves before a restart is told
      await sleep(5);
      await p.hold();
      const end = await p.exited;
      if (end.next) {
        expect(endSeen).toBe(true);
        started.add(end.next.pid);
      }
    });
  });

  it('a malformed request is answered, not fatal', async () => {
    const h = spawn(BINARY, [], { stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    h.stdout.on('data', (d) => (out += d));
    const frame = (text: string) => {
      const b = Buffer.from(text, 'utf8');
      const head = Buffer.alloc(4);
      head.writeUInt32LE(b.length);
      return Buffer.concat([head, b]);
    };
    h.stdin.write(frame('nonsense\0'));
    h.stdin.write(frame('spawn\x001\0')); // too few fields
    h.stdin.write(frame(`spawn\x002\0true\0/\0/dev/null\0\0\x000\x000\x001\0PATH=${PATH}\0`));
    await until(async () => out, (o) => /^P 2 \d+ -?\d+$/m.test(o));
    expect(out.split('\n').filter((l) => l.startsWith('E'))).toEqual(['E ? EINVAL a request the spawner could not read', 'E ? EINVAL a request the spawner could not read']);
    h.stdin.end();
    expect(await new Promise((r) => h.once('exit', (code) => r(code)))).toBe(0);
  });

  it('compiles without warnings', () => {
    const r = spawnSync(process.env.CC || 'cc', ['-O2', '-Wall', '-Wextra', '-Werror', '-fsyntax-only', path.join(ROOT, 'src', 'platform', 'spawner.c')], { encoding: 'utf8' });
    if (r.error) return; // no compiler: the build said so
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});

describe.skipIf(!posix)('the watches on the native spawner', () => {
  const pidOf = async (pipe: string, id: string) =>
    ((await call(pipe, 'status')) as { watches: Array<{ id: string; pid: number | null; restartsUsed: number }> }).watches.find((w) => w.id === id)!;

  for (const how of ['native', 'node'] as const) {
    it(`${how === 'native' ? 'by default the helper starts and restarts them' : "ARMS_SPAWNER=node: armsd's own spawn does"}, with the same result`, async () => {
      const svc = await startService({ config: 'syslog: false\n', env: how === 'node' ? { ARMS_SPAWNER: 'node' } : {} });
      expect((await run('ARMLOAD', ['SP', '/R', '3', 'sh', '-c', 'echo "in $PWD as $ARMS_WATCH_ID"; exec sleep 300'], svc.env)).code).toBe(0);
      const first = await pidOf(svc.pipe, 'SP');
      started.add(first.pid!);
      const parent = Number(stat(first.pid!)[1]);
      if (how === 'native') {
        expect(parent).not.toBe(svc.proc.pid);
        expect(Number(stat(parent)[1])).toBe(svc.proc.pid); // the helper, armsd's child
        expect(fs.readFileSync(`/proc/${parent}/comm`, 'utf8')).toBe('arms-spawner\n');
      } else {
        expect(parent).toBe(svc.proc.pid);
      }
      expect(Number(stat(first.pid!)[3])).toBe(first.pid); // a session of its own
      process.kill(first.pid!, 'SIGKILL');
      const again = await until(() => pidOf(svc.pipe, 'SP'), (w) => w.pid !== null && w.pid !== first.pid);
      started.add(again.pid!);
      expect(again.restartsUsed).toBe(1);
      // (the new run writes its line just after its start)
      const log = await until(async () => fs.readFileSync(path.join(svc.home, 'log', 'watches', 'SP.log'), 'utf8'), (t) => t.trim().split('\n').length >= 2);
      expect(log.trim().split('\n')).toEqual([`in ${process.cwd()} as SP`, `in ${process.cwd()} as SP`]);
      expect((await run('ARMKILL', ['SP'], svc.env)).code).toBe(0);
      await until(async () => fs.existsSync(`/proc/${again.pid}`) && stat(again.pid!)[0] !== 'Z', (alive) => !alive);
      await svc.stop();
    });
  }
});
