// Restart pacing (issue 16; one mechanism with issue 12's restart storm): a crash loop is
// restarted on the configured schedule (the times each run started are recorded by the program
// itself and compared with restartDelay × restartBackoff^n, capped by restartDelayMax), the
// budget is given back after a good run (resetAfter), the first restart stays immediate by
// default, and a usage error (exit 2) within the first second fails the watch without restarts.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { call } from '../src/client/client';
import { readLog, run, Service, startService, stopAll, tempDir, until } from './helpers';
import { DEFAULT_PACING, restartDelay } from '../src/service/restart-policy';

afterAll(stopAll);

interface W {
  id: string;
  state: string;
  restartsUsed: number;
}
const watch = async (svc: Service, id: string) => ((await call(svc.pipe, 'status')) as { watches: W[] }).watches.find((w) => w.id === id);

/** A program that appends "start end" times (ms) of each run to `file`, then exits 1 after `ms`. */
function crasher(file: string, ms: number | string): string[] {
  return ['sh', '-c', `s=$(date +%s%3N); sleep ${ms}; echo "$s $(date +%s%3N)" >> ${file}; exit 1`];
}

function runsOf(file: string): Array<[number, number]> {
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split(' ').map(Number) as [number, number]);
}

/** The wait before each restart: from the end of one run to the start of the next. */
const gaps = (runs: Array<[number, number]>) => runs.slice(1).map(([start], i) => start - runs[i][1]);

describe('restart pacing', () => {
  it('a crash loop follows restartDelay × restartBackoff^n, capped by restartDelayMax, until /R is spent', async () => {
    const config = 'syslog: false\nwatchDefaults:\n  restartDelay: 300ms\n  restartBackoff: 2\n  restartDelayMax: 1.2s\n';
    const svc = await startService({ config });
    const file = path.join(svc.home, 'runs');
    expect((await run('ARMLOAD', ['LOOP', '/R', '5', ...crasher(file, 0)], svc.env)).code).toBe(0);
    const w = await until(() => watch(svc, 'LOOP'), (x) => x?.state === 'exhausted', 30_000);
    expect(w?.state).toBe('exhausted');
    const runs = runsOf(file);
    expect(runs).toHaveLength(6); // the start and 5 restarts
    const schedule = [300, 600, 1200, 1200, 1200];
    gaps(runs).forEach((gap, i) => {
      // Never sooner than the schedule; later only by what starting a process costs on a busy machine.
      expect(gap, `restart ${i + 1}`).toBeGreaterThanOrEqual(schedule[i] - 20);
      expect(gap, `restart ${i + 1}`).toBeLessThan(schedule[i] + 1500);
    });
    await svc.stop();
  }, 60_000);

  it('by default the first restart is immediate, the next ones grow; a watch ID of the config has its own settings', async () => {
    const config = 'syslog: false\nwatches:\n  SLOW:\n    restartDelay: 1s\n    restartBackoff: 1\n';
    const svc = await startService({ config });
    const fast = path.join(svc.home, 'fast');
    const slow = path.join(svc.home, 'slow');
    expect((await run('ARMLOAD', ['FAST', '/R', '3', ...crasher(fast, 0)], svc.env)).code).toBe(0);
    expect((await run('ARMLOAD', ['slow', '/R', '2', ...crasher(slow, 0)], svc.env)).code).toBe(0);
    await until(async () => [await watch(svc, 'FAST'), await watch(svc, 'slow')], (ws) => ws.every((x) => x?.state === 'exhausted'), 30_000);
    const f = gaps(runsOf(fast));
    expect(f).toHaveLength(3);
    const expected = [1, 2, 3].map((n) => restartDelay(DEFAULT_PACING, n)); // 0, 200, 400
    expect(expected[0]).toBe(0);
    f.forEach((gap, i) => {
      expect(gap).toBeGreaterThanOrEqual(expected[i] - 20);
      expect(gap).toBeLessThan(expected[i] + 1500);
    });
    for (const gap of gaps(runsOf(slow))) expect(gap).toBeGreaterThanOrEqual(980);
    await svc.stop();
  }, 60_000);

  it('resetAfter: a run that long gives the budget back; without it, /R is spent for good', async () => {
    // Two quick crashes, one good run (1.5 s), two quick crashes: 4 restarts on a budget of 2.
    const script = (file: string) => [
      'sh',
      '-c',
      `n=$(cat ${file} 2>/dev/null | wc -l); echo run >> ${file}; if [ "$n" = 2 ]; then sleep 1.5; fi; exit 1`,
    ];
    const config = 'syslog: false\nwatchDefaults:\n  restartDelay: 0\n  restartBackoff: 1\nwatches:\n  BACK:\n    resetAfter: 1s\n';
    const svc = await startService({ config });
    const back = path.join(svc.home, 'back');
    const spent = path.join(svc.home, 'spent');
    expect((await run('ARMLOAD', ['BACK', '/R', '2', ...script(back)], svc.env)).code).toBe(0);
    expect((await run('ARMLOAD', ['SPENT', '/R', '2', ...script(spent)], svc.env)).code).toBe(0);
    const done = await until(async () => [await watch(svc, 'BACK'), await watch(svc, 'SPENT')], (ws) => ws.every((x) => x?.state === 'exhausted'), 30_000);
    expect(done.map((w) => w?.state)).toEqual(['exhausted', 'exhausted']);
    expect(fs.readFileSync(spent, 'utf8').trim().split('\n')).toHaveLength(3); // start + 2
    expect(fs.readFileSync(back, 'utf8').trim().split('\n')).toHaveLength(5); // start, 2 restarts (the second the good run), then 2 more
    await svc.stop();
  }, 60_000);

  it('a usage error (exit 2) within the first second: not restarted, the watch fails with an alert', async () => {
    const svc = await startService({ config: 'syslog: false\n' });
    const file = path.join(svc.home, 'usage');
    expect((await run('ARMLOAD', ['USAGE', '/R', '9', '/FOV', 'sh', '-c', `echo run >> ${file}; exit 2`], svc.env)).code).toBe(0);
    const w = await until(() => watch(svc, 'USAGE'), (x) => x?.state === 'failed');
    expect(w).toMatchObject({ state: 'failed', restartsUsed: 0 });
    expect(fs.readFileSync(file, 'utf8').trim().split('\n')).toHaveLength(1);
    expect(readLog(svc.home, 'alert').some((r) => r.watch === 'USAGE' && /exited with a usage error \(exit code 2\).*not restarted/.test(r.msg))).toBe(true);
    // Not an escalation: no failover was asked for.
    expect(readLog(svc.home, 'cluster').some((r) => /failing the group over/.test(r.msg))).toBe(false);
    const shown = await run('arms', ['status'], svc.env);
    expect(shown.stdout).toMatch(/USAGE .* failed/);
    expect((await run('ARMKILL', ['USAGE'], svc.env)).code).toBe(0);
    await svc.stop();
  });
});

describe('arms check: the pacing keys', () => {
  it('every bad value is reported with file:line; good ones pass', async () => {
    const home = tempDir();
    fs.writeFileSync(
      path.join(home, 'arms.yaml'),
      [
        'syslog: false',
        'watchDefaults:',
        '  restartDelay: -1s',
        '  restartBackoff: 0.5',
        '  restartDelayMax: never',
        '  resetAfter: soon',
        '  restartJitter: 1',
        'watches:',
        '  bad-id:',
        '    restartDelay: 1s',
        '  OK:',
        '    restartDelay: 10s',
        '    restartDelayMax: 5s',
        '',
      ].join('\n'),
    );
    const r = await run('arms', ['check'], { ...process.env, ARMS_HOME: home });
    expect(r.code).toBe(1);
    const out = r.stdout + r.stderr;
    const file = path.join(home, 'arms.yaml');
    expect(out).toContain(`${file}:3: watchDefaults.restartDelay: expected a duration`);
    expect(out).toContain(`${file}:4: watchDefaults.restartBackoff: expected a factor from 1`);
    expect(out).toContain(`${file}:5: watchDefaults.restartDelayMax: expected a duration`);
    expect(out).toContain(`${file}:6: watchDefaults.resetAfter: expected a duration`);
    expect(out).toContain(`${file}:7: watchDefaults: unknown setting "restartJitter"`);
    expect(out).toContain(`${file}:9: watches: "bad-id" is not a watch ID`);
    expect(out).toContain(`${file}:12: watches.OK: restartDelayMax (5 s) is shorter than restartDelay (10 s)`);
    fs.writeFileSync(
      path.join(home, 'arms.yaml'),
      'syslog: false\nwatchDefaults:\n  restartDelay: 0\n  restartBackoff: 1.5\n  restartDelayMax: 1m\n  resetAfter: none\nwatches:\n  APP:\n    resetAfter: 10m\n',
    );
    const ok = await run('arms', ['check'], { ...process.env, ARMS_HOME: home });
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
  });
});
