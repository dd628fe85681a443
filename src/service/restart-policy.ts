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
  if (policy.monitorOnly) return { action: 'final', final: policy.final ?? 'failover', counters: { used, windowStart } };
  if (policy.restarts === 0) return { action: 'none', counters: { used, windowStart } };
  if (used < policy.restarts) return { action: 'restart', counters: { used: used + 1, windowStart: windowStart ?? now } };
  if (policy.final) return { action: 'final', final: policy.final, counters: { used, windowStart } };
  return { action: 'give-up', counters: { used, windowStart } };
}

/** When the count returns to zero (ms), or null when it will not. */
export function resetsAt(policy: RestartPolicy, counters: RestartCounters): number | null {
  if (policy.windowMs === null || counters.windowStart === null) return null;
  return counters.windowStart + policy.windowMs;
}
