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

/** The text format's escapes: a label value's backslash, double quote and newline; HELP's backslash and newline. */
const NEEDS_ESCAPE = /[\\"\n]/;
const escapeLabel = (v: string) => (NEEDS_ESCAPE.test(v) ? v.replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`)) : v);
const escapeHelp = (v: string) => v.replace(/[\\\n]/g, (c) => (c === '\n' ? '\\n' : '\\\\'));
function formatLabels(labels: Record<string, string>): string {
  const parts = Object.keys(labels).map((k) => `${k}="${escapeLabel(labels[k])}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
}
function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (!Number.isFinite(v)) return v > 0 ? '+Inf' : '-Inf';
  return String(v);
}

export interface Metrics {
  registry: client.Registry;
  /**
   * Counts what changed since the previous look: failovers and script runs (called at each change
   * of a group, within the same turn of the event loop, so no step of a failover is missed) and
   * watch restarts (from the page's snapshots while one is open, and at each scrape).
   */
  trackGroups(groups: GroupStatus[]): void;
  trackWatches(watches: WatchStatus[]): void;
  /** the exposition: one status, the counters caught up with it */
  text(): Promise<string>;
  http(route: string, method: string, status: number): void;
}

export function openMetrics(deps: { status(): Promise<Snapshot>; served(): Map<string, number> }): Metrics {
  const registry = new client.Registry();
  // The event loop's delay is measured every second by the service's own stall monitor
  // (os-monitor.ts: arms_eventloop_delay_seconds below); prom-client's histogram samples only
  // every 10 s: at its default (10 ms) it woke the idle service 100 times a second, and even once
  // a second it was a measurable part of what an idle service costs (bench/README.md).
  client.collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 10_000 });
  const r = [registry];

  // One status per scrape, shared by the gauges; the restart counters catch up with it first.
  let scrape: Promise<Snapshot> | null = null;
  const current = () =>
    (scrape ??= deps
      .status()
      .then((s) => {
        trackWatches(s.watches);
        return s;
      })
      .finally(() => setImmediate(() => (scrape = null))));

  /** labels as a set, or already in the text format (the watches' and monitors', formatted once) */
  type Row = { labels: Record<string, string> | string; value: number };
  /**
   * The families read from the status at each scrape (a series per group, watch and monitor) are
   * written here, in the same format, after prom-client's own (the process, the event loop, the
   * counters and histograms). Measured with 1000 watches: prom-client's registry took 5 to 10
   * times as long to format the same 3000 series (client.Gauge, label set by label set, longer
   * still), most of the 20 ms budget of a scrape.
   */
  const families: Array<{ name: string; help: string; type: 'gauge' | 'counter'; rows: (s: Snapshot) => Row[] }> = [];
  const fromStatus = (name: string, help: string, rows: (s: Snapshot) => Row[], type: 'gauge' | 'counter' = 'gauge') => families.push({ name, help, type, rows });
  // A watch's or a monitor's labels are the same from scrape to scrape: formatted once, kept while
  // they are in use (the cache is emptied when it holds far more than there are watches).
  const formatted = new Map<string, string>();
  const labelText = (key: string, labels: () => Record<string, string>) => {
    let text = formatted.get(key);
    if (text === undefined) {
      if (formatted.size > 4096 && formatted.size > 4 * lastRows) formatted.clear();
      formatted.set(key, (text = formatLabels(labels())));
    }
    return text;
  };
  let lastRows = 0;
  const watchLabels = (w: { id: string; group: string | null }) => labelText(`w\u0000${w.id}\u0000${w.group ?? ''}`, () => ({ watch: w.id, group: w.group ?? '' }));
  const monitorLabels = (m: Snapshot['monitors'][number]) =>
    labelText(`m\u0000${m.monitor}\u0000${m.group ?? ''}\u0000${m.kind}\u0000${m.resource}`, () => ({ monitor: m.monitor, group: m.group ?? '', kind: m.kind, resource: m.resource }));

  fromStatus('arms_group_state', 'The group is in this state (1) or not (0); one series per state', (s) =>
    // This server's own state of each group (in a cluster each server reports its own: summed, a group is online once).
    s.groups.flatMap((g) => GROUP_STATES.map((st) => ({ labels: { group: g.name, server: s.server, state: st }, value: g.here === st ? 1 : 0 }))),
  );
  fromStatus('arms_group_failovers_recent', 'Failovers of the group within its failover window', (s) => s.groups.map((g) => ({ labels: { group: g.name }, value: g.failovers.recent })));
  fromStatus('arms_group_failovers_max', 'Failovers allowed within the failover window (maxFailovers)', (s) => s.groups.map((g) => ({ labels: { group: g.name }, value: g.failovers.max })));
  fromStatus('arms_watch_running', 'The watched program runs (1) or not (0)', (s) => s.watches.map((w) => ({ labels: watchLabels(w), value: w.state === 'running' ? 1 : 0 })));
  fromStatus('arms_watch_restarts_used', 'Restarts used in the current window (/H)', (s) => s.watches.map((w) => ({ labels: watchLabels(w), value: w.restartsUsed })));
  fromStatus('arms_watch_restarts_allowed', 'Restarts allowed per window (/R)', (s) => s.watches.map((w) => ({ labels: watchLabels(w), value: w.restartsAllowed })));
  fromStatus('arms_watch_state', 'Watches by state', (s) => WATCH_STATES.map((st) => ({ labels: { state: st }, value: s.watches.filter((w) => w.state === st).length })));
  fromStatus('arms_monitor_up', 'The last check of the resource passed (1) or failed (0)', (s) => s.monitors.map((m) => ({ labels: monitorLabels(m), value: m.ok ? 1 : 0 })));
  fromStatus('arms_monitor_failures', 'Consecutive failed checks of the resource', (s) => s.monitors.map((m) => ({ labels: monitorLabels(m), value: m.failures })));
  fromStatus('arms_monitor_latency_seconds', 'How long the last passed check took, as the monitor measured it', (s) =>
    s.monitors.flatMap((m) => {
      const v = m.ok ? latencyOf(m.detail) : null;
      return v === null ? [] : [{ labels: monitorLabels(m), value: v }];
    }),
  );
  fromStatus('arms_eventloop_delay_seconds', "The event loop's delay as the stall monitor last measured it (every osMonitor.interval)", (s) =>
    s.monitors.flatMap((m) => {
      const d = m.kind === 'os' ? / ?delay ([\d.]+) (ms|s)\b/.exec(m.detail) : null;
      return d ? [{ labels: {}, value: Number(d[1]) / (d[2] === 'ms' ? 1000 : 1) }] : [];
    }),
  );
  fromStatus('arms_reboots', 'Server shutdowns asked for by monitoring since an operator last cleared them', (s) => [{ labels: {}, value: s.reboots.count }]);
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
  // Restarts of every watch, counted here and written with the status's families: prom-client took
  // longer to format these 1000 series than everything else of a scrape.
  const restarts = new Map<string, { watch: { id: string; group: string | null }; n: number }>();
  fromStatus(
    'arms_watch_restarts_total',
    'Restarts of the watched program since the service started',
    () => [...restarts.values()].map((r) => ({ labels: watchLabels(r.watch), value: r.n })),
    'counter',
  );

  // What track() has seen: a group's last event (its begin time, and whether it had ended), a watch's count.
  const seenEvent = new Map<string, { at: string; ended: boolean }>();
  const seenRestarts = new Map<string, number>();
  let firstGroups = true;
  let firstWatches = true;

  function trackWatches(watches: WatchStatus[]): void {
    const ids = new Set<string>();
    for (const w of watches) {
      ids.add(w.id);
      // A watch not seen before starts from 0 (it may have restarted within the coalescing
      // window already); at the service's start, from what it has (adopted after a crash).
      const before = seenRestarts.get(w.id) ?? (firstWatches ? w.restartsUsed : 0);
      if (w.restartsUsed > before) {
        const key = `${w.id}\u0000${w.group ?? ''}`;
        const r = restarts.get(key) ?? { watch: { id: w.id, group: w.group }, n: 0 };
        r.n += w.restartsUsed - before;
        restarts.set(key, r);
      }
      seenRestarts.set(w.id, w.restartsUsed);
    }
    for (const id of seenRestarts.keys()) if (!ids.has(id)) seenRestarts.delete(id);
    firstWatches = false;
  }

  return {
    registry,
    async text() {
      const s = await current();
      let out = await registry.metrics();
      let rows = 0;
      for (const f of families) {
        out += `# HELP ${f.name} ${escapeHelp(f.help)}\n# TYPE ${f.name} ${f.type}\n`;
        for (const row of f.rows(s)) {
          out += `${f.name}${typeof row.labels === 'string' ? row.labels : formatLabels(row.labels)} ${formatValue(row.value)}\n`;
          rows++;
        }
      }
      lastRows = rows;
      return out;
    },
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
    trackWatches,
    http(route, method, status) {
      httpRequests.inc({ route, method, code: String(status) });
    },
  };
}
