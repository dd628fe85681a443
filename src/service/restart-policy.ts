// What a watch does when its program ends (commands.md §1), as a pure function of its policy, its
// counters and the time, so that every rule can be tested with a fake clock.
//
// The /H rule: the count returns to zero `hours` after the first counted end of the current window.
// The window opens at the first counted end after a reset (or after the start) and is fixed: ends
// inside it do not move it. Without /H the count never returns to zero.

export type FinalAction = 'failover' | 'shutdown';

export interface RestartPolicy {
  /** /R n: restarts allowed; 0 with /M (monitor only) or without /R (no restart) */
  restarts: number;
  /** /H h in milliseconds, or null: the count never resets */
  windowMs: number | null;
  /** /M: straight to the final action on the first end */
  monitorOnly: boolean;
  /** /FOV or /SHUT (with /M and neither: failover) */
  final: FinalAction | null;
}

export interface RestartCounters {
  /** restarts used in the current window */
  used: number;
  /** when the current window opened (ms), or null: no counted end since the last reset */
  windowStart: number | null;
  /** ends in a row without a good run in between (restart pacing); absent in older state files */
  streak?: number;
}

export type Decision =
  | { action: 'restart'; counters: RestartCounters }
  /** restarts exhausted (or /M): take the final action, once */
  | { action: 'final'; final: FinalAction; counters: RestartCounters }
  /** exhausted with no final action: log it and stop monitoring */
  | { action: 'give-up'; counters: RestartCounters }
  /** not monitored for restarts at all (no /R, no /M) */
  | { action: 'none'; counters: RestartCounters };

export function decide(policy: RestartPolicy, counters: RestartCounters, now: number): Decision {
  let { used, windowStart } = counters;
  if (policy.windowMs !== null && windowStart !== null && now - windowStart >= policy.windowMs) {
    used = 0;
    windowStart = null;
  }
  // The pacing's streak (when there is one) goes through untouched: it is not part of the budget.
  const keep = counters.streak === undefined ? {} : { streak: counters.streak };
  if (policy.monitorOnly) return { action: 'final', final: policy.final ?? 'failover', counters: { used, windowStart, ...keep } };
  if (policy.restarts === 0) return { action: 'none', counters: { used, windowStart, ...keep } };
  if (used < policy.restarts) return { action: 'restart', counters: { used: used + 1, windowStart: windowStart ?? now, ...keep } };
  if (policy.final) return { action: 'final', final: policy.final, counters: { used, windowStart, ...keep } };
  return { action: 'give-up', counters: { used, windowStart, ...keep } };
}

/** When the count returns to zero (ms), or null when it will not. */
export function resetsAt(policy: RestartPolicy, counters: RestartCounters): number | null {
  if (policy.windowMs === null || counters.windowStart === null) return null;
  return counters.windowStart + policy.windowMs;
}

// Restart pacing (config: restartDelay, restartBackoff, restartDelayMax, resetAfter). A program
// that keeps dying is restarted after a delay that grows with each end in a row (its streak): the
// first restart after a good run waits `delayMs` (0 by default: as fast as ever), each next one
// `backoff` times longer (from at least MIN_STEP_MS), never longer than `maxDelayMs`. A run of at
// least `resetAfterMs` is a good run: the streak starts again, and the restart budget is given back.
// Without resetAfter the budget follows /R and /H alone (ARMLOAD's own meaning) and the streak
// starts again after a run of GOOD_RUN_MS.

export interface Pacing {
  delayMs: number;
  backoff: number;
  maxDelayMs: number;
  /** a run this long gives the budget back; null: only /H does */
  resetAfterMs: number | null;
}

export const DEFAULT_PACING: Pacing = { delayMs: 0, backoff: 2, maxDelayMs: 30_000, resetAfterMs: null };

/** The smallest step a growing delay starts from when restartDelay is 0. */
export const MIN_STEP_MS = 100;

/** Without resetAfter, a run this long ends a streak (but gives no budget back). */
export const GOOD_RUN_MS = 60_000;

/** The wait before the restart that ends a streak of `streak` ends in a row (1: the first). */
export function restartDelay(p: Pacing, streak: number): number {
  if (streak <= 1) return p.delayMs;
  const grown = Math.max(p.delayMs, MIN_STEP_MS) * p.backoff ** (streak - 1);
  return Math.min(grown, Math.max(p.maxDelayMs, p.delayMs));
}

/** The counters once a run of `ranMs` has ended: a good run ends the streak (and gives the budget back with resetAfter). */
export function afterRun(p: Pacing, counters: RestartCounters, ranMs: number): RestartCounters {
  const good = ranMs >= (p.resetAfterMs ?? GOOD_RUN_MS);
  if (!good) return counters;
  if (p.resetAfterMs !== null) return { used: 0, windowStart: null, streak: 0 };
  return { ...counters, streak: 0 };
}

/**
 * The shortest run after which an end of the program is restarted at once by this policy and
 * pacing, whatever the exit (but a usage error): what the native spawner may do without asking
 * (approve). null when no run length guarantees it: then the service decides each end. Only ever
 * says yes where decide() and restartDelay() would say "restart, now" (a window reset by /H only
 * gives restarts back).
 */
export function immediateRestartAfter(policy: RestartPolicy, p: Pacing, counters: RestartCounters): number | null {
  if (policy.monitorOnly || policy.restarts === 0 || p.delayMs > 0) return null;
  // any run: the first end of a streak is restarted at once while a restart is left
  if ((counters.streak ?? 0) === 0 && counters.used < policy.restarts) return 0;
  // a good run ends the streak (with resetAfter it gives the budget back too)
  if (counters.used < policy.restarts || p.resetAfterMs !== null) return p.resetAfterMs ?? GOOD_RUN_MS;
  return null;
}
