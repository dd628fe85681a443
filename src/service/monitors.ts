// The last result of each resource check that a monitor (ARMRSP) reported, for `arms status`.
export interface MonitorResult {
  /** the monitor: its watch ID when it runs under ARMLOAD, else "pid N" */
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
}

export interface Monitors {
  report(r: Omit<MonitorResult, 'at'>): void;
  list(): MonitorResult[];
  /** a monitor that ended (its watch was stopped) takes its results with it */
  forget(monitor: string): void;
}

/** Results kept per monitor and resource; a cap keeps a confused client from growing it forever. */
const MAX_RESULTS = 10_000;

export function openMonitors(): Monitors {
  const results = new Map<string, MonitorResult>();
  const key = (monitor: string, resource: string) => `${monitor.toUpperCase()}\u0000${resource}`;
  return {
    report(r) {
      const k = key(r.monitor, r.resource);
      if (!results.has(k) && results.size >= MAX_RESULTS) results.delete(results.keys().next().value!);
      results.set(k, { ...r, at: new Date().toISOString() });
    },
    list: () => [...results.values()],
    forget(monitor) {
      const prefix = `${monitor.toUpperCase()}\u0000`;
      for (const k of [...results.keys()]) if (k.startsWith(prefix)) results.delete(k);
    },
  };
}
