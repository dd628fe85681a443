// The restart rules of ARMLOAD as a pure function over a fake clock: a crash loop at any period
// stops after exactly n restarts, /H returns the count to zero, the final action comes once.
import { describe, expect, it } from 'vitest';
import { afterRun, decide, immediateRestartAfter, Pacing, restartDelay, RestartCounters, RestartPolicy } from '../src/service/restart-policy';

const HOUR = 3_600_000;

/** Ends every `periodMs`, from t=0, until the policy stops restarting; counts the restarts. */
function crashLoop(policy: RestartPolicy, periodMs: number, maxEnds = 10_000) {
  let counters: RestartCounters = { used: 0, windowStart: null };
  let restarts = 0;
  for (let i = 1; i <= maxEnds; i++) {
    const d = decide(policy, counters, i * periodMs);
    counters = d.counters;
    if (d.action !== 'restart') return { restarts, last: d.action, at: i * periodMs };
    restarts++;
  }
  return { restarts, last: 'restart' as const, at: maxEnds * periodMs };
}

describe('restart policy', () => {
  const periods = [1, 10, 250, 1000, 60_000, 10 * 60_000, HOUR - 1];
  for (const n of [1, 3, 9, 50]) {
    for (const period of periods) {
      it(`/R ${n} without /H: a crash every ${period} ms gets exactly ${n} restarts`, () => {
        expect(crashLoop({ restarts: n, windowMs: null, monitorOnly: false, final: null }, period)).toMatchObject({ restarts: n, last: 'give-up' });
        expect(crashLoop({ restarts: n, windowMs: null, monitorOnly: false, final: 'failover' }, period)).toMatchObject({ restarts: n, last: 'final' });
      });
    }
  }

  it('/R n /H h: a loop faster than the window stops after exactly n restarts', () => {
    for (const period of [1, 1000, 60_000, HOUR / 10 - 1]) {
      expect(crashLoop({ restarts: 9, windowMs: HOUR, monitorOnly: false, final: 'failover' }, period)).toMatchObject({ restarts: 9, last: 'final' });
    }
  });

  it('/R n /H h: the count returns to zero h after the first counted end of the window', () => {
    const policy: RestartPolicy = { restarts: 2, windowMs: HOUR, monitorOnly: false, final: 'shutdown' };
    let c: RestartCounters = { used: 0, windowStart: null };
    const at = (t: number) => {
      const d = decide(policy, c, t);
      c = d.counters;
      return d.action;
    };
    expect(at(1000)).toBe('restart'); // the window opens at 1000
    expect(at(2000)).toBe('restart');
    expect(at(HOUR + 999)).toBe('final'); // still inside [1000, 1000 + h)
    expect(c).toEqual({ used: 2, windowStart: 1000 });
    c = { used: 2, windowStart: 1000 };
    expect(at(HOUR + 1000)).toBe('restart'); // reset exactly h after the window opened
    expect(c).toEqual({ used: 1, windowStart: HOUR + 1000 });
  });

  it('a crash loop slower than the window restarts forever, one restart per window', () => {
    expect(crashLoop({ restarts: 1, windowMs: HOUR, monitorOnly: false, final: 'failover' }, HOUR, 500)).toMatchObject({ restarts: 500, last: 'restart' });
  });

  it('/M goes to the final action at the first end (failover unless /SHUT)', () => {
    expect(decide({ restarts: 0, windowMs: null, monitorOnly: true, final: null }, { used: 0, windowStart: null }, 5)).toMatchObject({ action: 'final', final: 'failover' });
    expect(decide({ restarts: 0, windowMs: null, monitorOnly: true, final: 'shutdown' }, { used: 0, windowStart: null }, 5)).toMatchObject({ action: 'final', final: 'shutdown' });
  });

  it('without /R or /M nothing is restarted', () => {
    expect(decide({ restarts: 0, windowMs: null, monitorOnly: false, final: null }, { used: 0, windowStart: null }, 5).action).toBe('none');
  });
});

describe('the restarts the spawner may make without asking (immediateRestartAfter)', () => {
  // For random policies, pacings, counters and run lengths: whenever an approve covers a run
  // (run >= the answer), decide() and restartDelay() say "restart, now" for its end; and the answer
  // is the shortest such run among those tried (nothing the policy would restart at once is left to
  // the slow path needlessly, for the two run lengths that matter: at once and after a good run).
  it('approves exactly the ends that the policy restarts at once', () => {
    let seed = 7;
    const rnd = (n: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return (seed >>> 16) % n;
    };
    let approved = 0;
    for (let i = 0; i < 20_000; i++) {
      const policy: RestartPolicy = { restarts: rnd(4), windowMs: rnd(2) ? null : 1000 * (1 + rnd(5)), monitorOnly: rnd(8) === 0, final: rnd(2) ? 'failover' : null };
      const p: Pacing = { delayMs: rnd(3) === 0 ? 100 * rnd(3) : 0, backoff: 2, maxDelayMs: 30_000, resetAfterMs: rnd(2) ? null : 50 * (1 + rnd(4)) };
      const counters: RestartCounters = { used: rnd(5), windowStart: rnd(2) ? null : 0, streak: rnd(3) };
      const now = rnd(2) ? 10 : 100_000;
      const after = immediateRestartAfter(policy, p, counters);
      for (const ran of [0, 10, 49, 50, 200, 59_999, 60_000, 120_000]) {
        const before = afterRun(p, counters, ran);
        const d = decide(policy, { ...before, streak: (before.streak ?? 0) + 1 }, now);
        const atOnce = d.action === 'restart' && restartDelay(p, d.counters.streak ?? 1) === 0;
        if (after !== null && ran >= after) {
          approved++;
          expect(atOnce, JSON.stringify({ policy, p, counters, ran, after })).toBe(true);
        }
        // a first end with a restart left is never left to the slow path
        if (ran === 0 && atOnce && (counters.windowStart === null || policy.windowMs === null)) expect(after).toBe(0);
      }
    }
    expect(approved).toBeGreaterThan(1000);
  });
});
