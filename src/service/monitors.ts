// The monitors the service knows of: the last result of each resource check they reported (ARMRSP,
// the service's own monitors of `monitors:`, the OS stall monitor), for `arms status`; which of them
// an operator suspended (`arms monitor suspend`: kept in the persisted state, so a suspension
// survives the service's end); and the one place every result passes, so that a monitor's failure
// reaches its recovery (recovery.ts).
export interface MonitorResult {
  /** the monitor: its watch ID when it runs under ARMLOAD, its name in `monitors:`, else "pid N" */
  monitor: string;
  group: string | null;
  /** what was checked: a disk path, an address, a NIC, a URL, a command */
  resource: string;
  kind: string;
  ok: boolean;
  /** why it failed, or what it measured */
  detail: string;
  /** consecutive failed checks */
  failures: number;
  at: string;
  /** checking is suspended by an operator (`arms monitor suspend`) */
  suspended: boolean;
}

/** A report: `limit` is the count of failures in a row that make the monitor fail (ARMRSP's /N). */
export type Report = Omit<MonitorResult, 'at' | 'suspended'> & { limit?: number };

export interface Monitors {
  report(r: Report): void;
  list(): MonitorResult[];
  /** a monitor that ended (its watch was stopped) takes its results with it */
  forget(monitor: string): void;
  /** known monitor names: those that reported, and `known` (the configured ones) */
  names(): string[];
  isSuspended(monitor: string): boolean;
  /** the names (in the case given) whose state changed */
  suspend(names: string[]): string[];
  resume(names: string[]): string[];
  /** suspended monitor names, upper case (persisted) */
  suspended(): string[];
}

export interface MonitorsOptions {
  /** suspended names from the persisted state */
  suspended?: string[];
  /** configured monitor names (they may not have reported yet) */
  known?(): string[];
  /** every result, with its limit (recovery.ts) */
  onReport?(r: Report & { suspended: boolean }): void;
  /** the suspended set changed: persist it */
  onSuspendedChange?(names: string[]): void;
}

/** Results kept per monitor and resource; a cap keeps a confused client from growing it forever. */
const MAX_RESULTS = 10_000;

export function openMonitors(opts: MonitorsOptions = {}): Monitors {
  // `at` kept as a number: a thousand monitors report many times a second, status is asked rarely.
  const results = new Map<string, Omit<MonitorResult, 'suspended' | 'at'> & { atMs: number }>();
  const suspended = new Set((opts.suspended ?? []).map((n) => n.toUpperCase()));
  const key = (monitor: string, resource: string) => `${monitor.toUpperCase()}\u0000${resource}`;
  const isSuspended = (m: string) => suspended.has(m.toUpperCase());
  const changeAll = (names: string[], on: boolean) => {
    const changed = names.filter((n) => (on ? !suspended.has(n.toUpperCase()) : suspended.has(n.toUpperCase())));
    for (const n of changed) (on ? suspended.add(n.toUpperCase()) : suspended.delete(n.toUpperCase()));
    if (changed.length > 0) opts.onSuspendedChange?.([...suspended]);
    return changed;
  };
  return {
    report(r) {
      const { limit: _limit, ...rest } = r;
      const k = key(r.monitor, r.resource);
      if (!results.has(k) && results.size >= MAX_RESULTS) results.delete(results.keys().next().value!);
      results.set(k, { ...rest, atMs: Date.now() });
      opts.onReport?.({ ...r, suspended: isSuspended(r.monitor) });
    },
    list: () =>
      [...results.values()].map(({ atMs, ...r }) => ({ ...r, at: new Date(atMs).toISOString(), suspended: isSuspended(r.monitor) })),
    forget(monitor) {
      const prefix = `${monitor.toUpperCase()}\u0000`;
      for (const k of [...results.keys()]) if (k.startsWith(prefix)) results.delete(k);
    },
    names() {
      const byKey = new Map<string, string>();
      for (const n of opts.known?.() ?? []) byKey.set(n.toUpperCase(), n);
      for (const r of results.values()) if (!byKey.has(r.monitor.toUpperCase())) byKey.set(r.monitor.toUpperCase(), r.monitor);
      return [...byKey.values()];
    },
    isSuspended,
    suspend: (names) => changeAll(names, true),
    resume: (names) => changeAll(names, false),
    suspended: () => [...suspended],
  };
}
