// /metrics in the Prometheus text format (prom-client, its own registry). Gauges are read from the
// status at each scrape; counters and the script-duration histogram are kept from the changes
// the service reports (trackGroups(), trackWatches()): what happened between two scrapes is not lost.
import * as client from 'prom-client';
import type { GroupStatus } from '../service/groups';
import type { WatchStatus } from '../service/watches';
import type { Snapshot } from './live';

const GROUP_STATES = ['offline', 'starting', 'online', 'stopping', 'error'] as const;
const WATCH_STATES = ['running', 'ended', 'exhausted', 'escalated', 'stopping'] as const;

/** "reply in 0.412 ms", "connected in 3 ms", "200 OK in 1.2 s": the check's own figure, in seconds */
export function latencyOf(detail: string): number | null {
  const m = / in ([\d.]+) (ms|s)\b/.exec(detail);
  if (!m) return null;
  const n = Number(m[1]);
  return Number.isFinite(n) ? (m[2] === 'ms' ? n / 1000 : n) : null;
}

export interface Metrics {
  registry: client.Registry;
  /**
   * Counts what changed since the previous look: failovers and script runs (called at each change
   * of a group, within the same turn of the event loop, so no step of a failover is missed) and
   * watch restarts (from the coalesced snapshots).
   */
  trackGroups(groups: GroupStatus[]): void;
  trackWatches(watches: WatchStatus[]): void;
  http(route: string, method: string, status: number): void;
}

export function openMetrics(deps: { status(): Promise<Snapshot>; served(): Map<string, number> }): Metrics {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 20 });
  const r = [registry];

  // One status per scrape, shared by the gauges' collect().
  let scrape: Promise<Snapshot> | null = null;
  const current = () => (scrape ??= deps.status().finally(() => setImmediate(() => (scrape = null))));

  new client.Gauge({
    name: 'arms_group_state',
    help: 'The group is in this state (1) or not (0); one series per state',
    labelNames: ['group', 'server', 'state'],
    registers: r,
    async collect() {
      const s = await current();
      this.reset();
      for (const g of s.groups) for (const st of GROUP_STATES) this.set({ group: g.name, server: g.owner, state: st }, g.state === st ? 1 : 0);
    },
  });
  new client.Gauge({
    name: 'arms_group_failovers_recent',
    help: 'Failovers of the group within its failover window',
    labelNames: ['group'],
    registers: r,
    async collect() {
      const s = await current();
      this.reset();
      for (const g of s.groups) this.set({ group: g.name }, g.failovers.recent);
    },
  });
  new client.Gauge({
    name: 'arms_group_failovers_max',
    help: 'Failovers allowed within the failover window (maxFailovers)',
    labelNames: ['group'],
    registers: r,
    async collect() {
      const s = await current();
      this.reset();
      for (const g of s.groups) this.set({ group: g.name }, g.failovers.max);
    },
  });
  const watchGauge = (name: string, help: string, value: (w: Snapshot['watches'][number]) => number) =>
    new client.Gauge({
      name,
      help,
      labelNames: ['watch', 'group'],
      registers: r,
      async collect() {
        const s = await current();
        this.reset();
        for (const w of s.watches) this.set({ watch: w.id, group: w.group ?? '' }, value(w));
      },
    });
  watchGauge('arms_watch_running', 'The watched program runs (1) or not (0)', (w) => (w.state === 'running' ? 1 : 0));
  watchGauge('arms_watch_restarts_used', 'Restarts used in the current window (/H)', (w) => w.restartsUsed);
  watchGauge('arms_watch_restarts_allowed', 'Restarts allowed per window (/R)', (w) => w.restartsAllowed);
  new client.Gauge({
    name: 'arms_watch_state',
    help: 'Watches by state',
    labelNames: ['state'],
    registers: r,
    async collect() {
      const s = await current();
      for (const st of WATCH_STATES) this.set({ state: st }, s.watches.filter((w) => w.state === st).length);
    },
  });
  const monitorGauge = (name: string, help: string, value: (m: Snapshot['monitors'][number]) => number | null) =>
    new client.Gauge({
      name,
      help,
      labelNames: ['monitor', 'group', 'kind', 'resource'],
      registers: r,
      async collect() {
        const s = await current();
        this.reset();
        for (const m of s.monitors) {
          const v = value(m);
          if (v !== null) this.set({ monitor: m.monitor, group: m.group ?? '', kind: m.kind, resource: m.resource }, v);
        }
      },
    });
  monitorGauge('arms_monitor_up', 'The last check of the resource passed (1) or failed (0)', (m) => (m.ok ? 1 : 0));
  monitorGauge('arms_monitor_failures', 'Consecutive failed checks of the resource', (m) => m.failures);
  monitorGauge('arms_monitor_latency_seconds', 'How long the last passed check took, as the monitor measured it', (m) => (m.ok ? latencyOf(m.detail) : null));
  new client.Gauge({
    name: 'arms_reboots',
    help: 'Server shutdowns asked for by monitoring since an operator last cleared them',
    registers: r,
    async collect() {
      this.set((await current()).reboots.count);
    },
  });
  new client.Counter({
    name: 'arms_operations_total',
    help: 'Requests the service answered (pipe and HTTP actions), by operation and answer (ok or the error code)',
    labelNames: ['op', 'answer'],
    registers: r,
    collect() {
      this.reset();
      for (const [key, n] of deps.served()) {
        const [op, answer] = key.split('\u0000');
        this.inc({ op, answer }, n);
      }
    },
  });
  const httpRequests = new client.Counter({
    name: 'arms_http_requests_total',
    help: 'HTTP requests answered, by route and status code',
    labelNames: ['route', 'method', 'code'],
    registers: r,
  });
  const failovers = new client.Counter({
    name: 'arms_failovers_total',
    help: 'Failovers of the group (its start with FAILOVER) since the service started',
    labelNames: ['group'],
    registers: r,
  });
  const scripts = new client.Histogram({
    name: 'arms_group_script_seconds',
    help: "How long a group's start or stop took (disks and script), by outcome",
    labelNames: ['group', 'action', 'result'],
    buckets: [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600],
    registers: r,
  });
  const restarts = new client.Counter({
    name: 'arms_watch_restarts_total',
    help: 'Restarts of the watched program since the service started',
    labelNames: ['watch', 'group'],
    registers: r,
  });

  // What track() has seen: a group's last event (its begin time, and whether it had ended), a watch's count.
  const seenEvent = new Map<string, { at: string; ended: boolean }>();
  const seenRestarts = new Map<string, number>();
  let firstGroups = true;
  let firstWatches = true;

  return {
    registry,
    trackGroups(groups) {
      for (const g of groups) {
        const e = g.lastEvent;
        if (!e) continue;
        const before = seenEvent.get(g.name);
        const isNew = !before || before.at !== e.at;
        const ended = e.result !== 'running';
        // The first look is the service's start: what happened before it is not counted.
        if (!firstGroups && isNew && e.action === 'start' && e.event === 'FAILOVER') failovers.inc({ group: g.name });
        if (!firstGroups && ended && (isNew || !before!.ended)) {
          const seconds = (Date.parse(g.since) - Date.parse(e.at)) / 1000;
          if (seconds >= 0) scripts.observe({ group: g.name, action: e.action, result: e.result }, seconds);
        }
        seenEvent.set(g.name, { at: e.at, ended });
      }
      firstGroups = false;
    },
    trackWatches(watches) {
      const ids = new Set<string>();
      for (const w of watches) {
        ids.add(w.id);
        // A watch not seen before starts from 0 (it may have restarted within the coalescing
        // window already); at the service's start, from what it has (adopted after a crash).
        const before = seenRestarts.get(w.id) ?? (firstWatches ? w.restartsUsed : 0);
        if (w.restartsUsed > before) restarts.inc({ watch: w.id, group: w.group ?? '' }, w.restartsUsed - before);
        seenRestarts.set(w.id, w.restartsUsed);
      }
      for (const id of seenRestarts.keys()) if (!ids.has(id)) seenRestarts.delete(id);
      firstWatches = false;
    },
    http(route, method, status) {
      httpRequests.inc({ route, method, code: String(status) });
    },
  };
}
