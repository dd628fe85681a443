// The check loop of ARMRSP: every check runs on its own every interval, each run bounded by the
// timeout (a check that does not answer in time has failed), and the loop ends when one check has
// failed `maxFailures` times in a row. Checks run concurrently: a slow one never delays the others.

/** What one run of a check found. */
export interface Outcome {
  ok: boolean;
  /** why it failed, or what it measured ("12 ms") */
  detail: string;
}

export interface Check {
  /** disk | ip (ping) | tcp | nic | http | cmd: the kinds of docs/status.md */
  kind: string;
  /** what is checked: a path, an address, a NIC name, a URL, a command line */
  resource: string;
  /**
   * One run. Should settle within timeoutMs and clean up after itself (kill what it started);
   * the loop does not wait longer than the timeout whatever it does.
   */
  run(timeoutMs: number): Promise<Outcome>;
  /** releases what the check holds (a helper process); called once the loop has ended */
  close?(): void;
}

export interface CheckResult {
  check: Check;
  outcome: Outcome;
  /** failed runs in a row, this one included (0 when it passed) */
  failures: number;
}

export interface LoopOptions {
  checks: Check[];
  intervalMs: number;
  timeoutMs: number;
  /** the loop ends after this many failed runs in a row of one check */
  maxFailures: number;
  /** every result, as it comes */
  onResult?(r: CheckResult): void;
  /** while true, no check runs (maintenance: the monitor is suspended); failures start again from 0 */
  paused?(): boolean;
  /** whether the loop still ends at maxFailures (false: the service recovers; failures keep counting) */
  endsAtMax?(): boolean;
}

export interface Loop {
  /** resolves with the result that ended the loop: a check's maxFailures-th failure in a row */
  failed: Promise<CheckResult>;
  /** stops checking (the failed promise then never resolves) */
  stop(): void;
}

export function startLoop(opts: LoopOptions): Loop {
  let stopped = false;
  const timers = new Set<NodeJS.Timeout>();
  let fail!: (r: CheckResult) => void;
  const failed = new Promise<CheckResult>((resolve) => (fail = resolve));

  const wait = (ms: number) =>
    new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        timers.delete(t);
        resolve();
      }, Math.max(0, ms));
      timers.add(t);
    });

  const runOne = async (check: Check): Promise<void> => {
    let failures = 0;
    while (!stopped) {
      const started = Date.now();
      if (opts.paused?.()) {
        failures = 0;
        await wait(opts.intervalMs);
        continue;
      }
      const outcome = await bounded(check, opts.timeoutMs, timers);
      if (stopped) return;
      failures = outcome.ok ? 0 : failures + 1;
      const result = { check, outcome, failures };
      opts.onResult?.(result);
      if (failures >= opts.maxFailures && (opts.endsAtMax?.() ?? true)) {
        stopped = true;
        for (const t of timers) clearTimeout(t);
        fail(result);
        return;
      }
      await wait(started + opts.intervalMs - Date.now());
    }
  };

  for (const check of opts.checks) void runOne(check);
  return {
    failed,
    stop() {
      stopped = true;
      for (const t of timers) clearTimeout(t);
    },
  };
}

/** A check answers at its timeout with its own reason; the loop gives it this much more. */
const GRACE_MS = 250;

/** One run of a check, failed at the timeout if it has not answered by then; never rejects. */
export function bounded(check: Check, timeoutMs: number, timers = new Set<NodeJS.Timeout>()): Promise<Outcome> {
  return new Promise<Outcome>((resolve) => {
    const t = setTimeout(() => {
      timers.delete(t);
      resolve({ ok: false, detail: `no answer within ${seconds(timeoutMs)} (hung)` });
    }, timeoutMs + GRACE_MS);
    timers.add(t);
    let p: Promise<Outcome>;
    try {
      p = check.run(timeoutMs);
    } catch (e) {
      p = Promise.reject(e);
    }
    p.then(
      (o) => o,
      (e: unknown) => ({ ok: false, detail: e instanceof Error ? e.message : String(e) }),
    ).then((o) => {
      clearTimeout(t);
      timers.delete(t);
      resolve(o);
    });
  });
}

/** 1500 → "1.5 s" */
export function seconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(3))} s`;
}

/** Milliseconds since `start`, for details: "3 ms", "1.2 s". */
export function took(start: number): string {
  const ms = Date.now() - start;
  return ms < 1000 ? `${ms} ms` : seconds(ms);
}
