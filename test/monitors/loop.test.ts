// The check loop: own schedule per check, the timeout, exactly N failures in a row.
import { describe, expect, it } from 'vitest';
import { bounded, Check, CheckResult, Outcome, startLoop } from '../../src/monitors/loop';

const fake = (resource: string, answers: (n: number) => Outcome | 'hang'): Check & { runs: number[] } => {
  const runs: number[] = [];
  return {
    kind: 'fake',
    resource,
    runs,
    run() {
      runs.push(Date.now());
      const a = answers(runs.length);
      return a === 'hang' ? new Promise<Outcome>(() => undefined) : Promise.resolve(a);
    },
  };
};
const ok = { ok: true, detail: 'fine' };
const bad = { ok: false, detail: 'broken' };

describe('the check loop', () => {
  it('ends at the Nth failure in a row of one check; a pass in between starts the count again', async () => {
    // pass, fail, fail, pass, fail, fail, fail → ends at the 7th run with 3 failures
    const seq = [ok, bad, bad, ok, bad, bad, bad, bad];
    const c = fake('flaky', (n) => seq[n - 1]);
    const results: CheckResult[] = [];
    const loop = startLoop({ checks: [c], intervalMs: 20, timeoutMs: 1000, maxFailures: 3, onResult: (r) => results.push(r) });
    const end = await loop.failed;
    expect(end).toMatchObject({ failures: 3, outcome: bad, check: c });
    expect(results.map((r) => r.failures)).toEqual([0, 1, 2, 0, 1, 2, 3]);
    await new Promise((r) => setTimeout(r, 100));
    expect(c.runs).toHaveLength(7); // nothing runs after the end
  });

  it('runs every interval, start to start, each check on its own', async () => {
    const a = fake('a', () => ok);
    const b = fake('b', () => ok);
    const loop = startLoop({ checks: [a, b], intervalMs: 100, timeoutMs: 1000, maxFailures: 1 });
    await new Promise((r) => setTimeout(r, 550));
    loop.stop();
    for (const c of [a, b]) {
      expect(c.runs.length).toBeGreaterThanOrEqual(4);
      expect(c.runs.length).toBeLessThanOrEqual(7);
      const gaps = c.runs.slice(1).map((t, i) => t - c.runs[i]);
      for (const g of gaps) expect(g).toBeGreaterThanOrEqual(95);
    }
  });

  it('a check that hangs fails at its timeout, and does not hold up the others', async () => {
    const hung = fake('hung', () => 'hang');
    const quick = fake('quick', () => ok);
    const start = Date.now();
    const results: CheckResult[] = [];
    const loop = startLoop({ checks: [hung, quick], intervalMs: 50, timeoutMs: 300, maxFailures: 2, onResult: (r) => results.push(r) });
    const end = await loop.failed;
    const elapsed = Date.now() - start;
    expect(end.check).toBe(hung);
    expect(end.outcome.detail).toMatch(/no answer within 0.3 s/);
    expect(elapsed).toBeGreaterThanOrEqual(600);
    expect(elapsed).toBeLessThan(1500);
    // meanwhile the quick one ran every 50 ms
    expect(results.filter((r) => r.check === quick).length).toBeGreaterThan(4);
  });

  it('bounded(): a check that throws or rejects is a failure with its message', async () => {
    const throws: Check = { kind: 'x', resource: 'x', run: () => { throw new Error('sync boom'); } };
    const rejects: Check = { kind: 'x', resource: 'x', run: () => Promise.reject(new Error('async boom')) };
    expect(await bounded(throws, 100)).toEqual({ ok: false, detail: 'sync boom' });
    expect(await bounded(rejects, 100)).toEqual({ ok: false, detail: 'async boom' });
  });
});
