// What the page and the API show: one snapshot of the service (the pipe's status, the servers, the
// last alerts), and the server-sent-event stream that pushes a new one to each open page when
// something changed. Changes come from the service (groups, watches: changed()) and, while a page
// is open, from a look every POLL_MS at what does not announce itself (monitor results, alerts).
import * as fs from 'node:fs';
import type { ServerResponse } from 'node:http';
import type { GroupStatus } from '../service/groups';
import type { MonitorResult } from '../service/monitors';
import type { ClusterStatus } from '../cluster/cluster';
import type { ServiceInfo } from '../service/ops/index';
import type { WatchStatus } from '../service/watches';

/** One log line as the API gives it: the JSON record as written (time, level, server, group, src, msg, ...). */
export type LogRecord = Record<string, unknown>;

export interface ServerView {
  name: string;
  /** the server answering this request */
  self: boolean;
  /** down: out of the cluster (stopped, lost, cut off) as etcd shows it */
  state: 'up' | 'down';
  /** in a cluster: since when the server is up or down (etcd's record), else null */
  since: string | null;
  /** the groups it owns (in a cluster; alone, those not offline here) */
  groups: string[];
  /** pid, version, uptime and HTTP address: known of this server only (null for the others) */
  pid: number | null;
  version: string | null;
  uptime: number | null;
  http: string | null;
}

/** A group as the API shows it: this server's own record, with the cluster's view when there is one. */
export type GroupView = GroupStatus & {
  /** where the group runs; null when no server owns it (offline in the cluster). Alone: this server. */
  owner: string | null;
  /** this server's own state of the group (in a cluster `state` is the cluster-wide one) */
  here: GroupStatus['state'];
  /** the owner's fencing token (in a cluster) */
  fence?: string | null;
};

export interface Snapshot {
  at: string;
  server: string;
  service: { pid: number; version: string; startedAt: string; uptime: number };
  /** every server of the cluster; until there is one, this server */
  servers: ServerView[];
  /** the cluster as this server sees it; null without a cluster: section */
  cluster: { name: string; state: ClusterStatus['state']; problem: string | null; readAt: string | null } | null;
  reboots: { count: number; max: number };
  groups: GroupView[];
  watches: WatchStatus[];
  monitors: MonitorResult[];
  /** monitors suspended by an operator (upper case), reported or not */
  suspendedMonitors: string[];
  /** the newest alerts, oldest first */
  alerts: LogRecord[];
}

export type PipeStatus = Omit<Snapshot, 'at' | 'servers' | 'alerts' | 'groups' | 'cluster' | 'suspendedMonitors'> & {
  groups: GroupStatus[];
  cluster?: ClusterStatus;
  suspendedMonitors?: string[];
};

/**
 * The servers and the groups' owners: from the cluster's view when the server is in one (etcd
 * keeps owners in upper case: shown by the configured names), else this server alone.
 */
export function placeGroups(s: PipeStatus, info: ServiceInfo): { servers: ServerView[]; groups: GroupView[] } {
  const self = { pid: s.service.pid, version: s.service.version, uptime: s.service.uptime, http: info.http ?? null };
  const c = s.cluster;
  if (!c) {
    return {
      servers: [{ name: s.server, self: true, state: 'up', since: s.service.startedAt, groups: s.groups.filter((g) => g.state !== 'offline').map((g) => g.name), ...self }],
      groups: s.groups.map((g) => ({ ...g, owner: s.server, here: g.state })),
    };
  }
  const named = new Map(c.servers.map((v) => [v.name.toUpperCase(), v.name]));
  const byName = new Map(c.groups.map((g) => [g.name.toUpperCase(), g]));
  const isSelf = (n: string) => n.toUpperCase() === s.server.toUpperCase();
  return {
    servers: c.servers.map((v) => ({
      name: v.name,
      self: isSelf(v.name),
      // This server answers, so it is up, whatever etcd last said of it (connecting, fenced: see cluster)
      state: v.up || isSelf(v.name) ? 'up' : 'down',
      since: v.since,
      groups: v.groups,
      ...(isSelf(v.name) ? self : { pid: null, version: null, uptime: null, http: null }),
    })),
    groups: s.groups.map((g) => {
      const cg = byName.get(g.name.toUpperCase());
      if (!cg) return { ...g, owner: null, here: g.state };
      return { ...g, state: cg.state, owner: cg.owner === null ? null : (named.get(cg.owner.toUpperCase()) ?? cg.owner), fence: cg.fence, here: g.state };
    }),
  };
}

export const ALERTS_SHOWN = 20;
const POLL_MS = 5000;
const COALESCE_MS = 100;
const MIN_INTERVAL_MS = 1000;
const REFRESH_MS = 30_000;
const HEARTBEAT_MS = 25_000;
export const MAX_STREAMS = 32;

/**
 * The newest `count` lines of a JSON-lines log (reaching into rotated files when the current one is
 * short), oldest first; `keep` filters. Reads backwards in blocks: a 10 MB log costs what the lines do.
 */
export function tailLog(file: string, count: number, keep: (r: LogRecord) => boolean = () => true): LogRecord[] {
  const out: LogRecord[] = [];
  for (let i = 0; i <= 100 && out.length < count; i++) {
    const f = i === 0 ? file : `${file}.${i}`;
    let fd: number;
    try {
      fd = fs.openSync(f, 'r');
    } catch {
      if (i === 0) continue;
      break;
    }
    try {
      let pos = fs.fstatSync(fd).size;
      let rest = '';
      const found: LogRecord[] = [];
      while (pos > 0 && out.length + found.length < count) {
        const n = Math.min(64 * 1024, pos);
        pos -= n;
        const buf = Buffer.alloc(n);
        fs.readSync(fd, buf, 0, n, pos);
        const lines = (buf.toString('utf8') + rest).split('\n');
        rest = pos > 0 ? lines.shift()! : '';
        for (let j = lines.length - 1; j >= 0 && out.length + found.length < count; j--) {
          const r = parse(lines[j]);
          if (r && keep(r)) found.push(r);
        }
      }
      if (rest && out.length + found.length < count) {
        const r = parse(rest);
        if (r && keep(r)) found.push(r);
      }
      out.push(...found);
    } finally {
      fs.closeSync(fd);
    }
  }
  return out.slice(0, count).reverse();
}

function parse(line: string): LogRecord | null {
  if (!line.trim()) return null;
  try {
    const r = JSON.parse(line);
    return r && typeof r === 'object' && !Array.isArray(r) ? r : { msg: line };
  } catch {
    return { msg: line, unreadable: true };
  }
}

export interface Live {
  snapshot(): Promise<Snapshot>;
  /** something changed in the service: a new snapshot soon (coalesced) */
  changed(): void;
  /** a page's event stream; false when too many are open */
  subscribe(res: ServerResponse): boolean;
  streams(): number;
  close(): void;
}

export function openLive(deps: {
  status(): Promise<PipeStatus>;
  /** the monitors' last results, read cheaply by the look every POLL_MS */
  monitors(): MonitorResult[];
  info: ServiceInfo;
  alertFile: string;
  onSnapshot(s: Snapshot): void;
}): Live {
  let alerts: { key: string; records: LogRecord[] } = { key: '', records: [] };
  const alertsKey = () => {
    try {
      const st = fs.statSync(deps.alertFile);
      return `${st.ino}:${st.size}:${st.mtimeMs}`;
    } catch {
      return 'none'; // no alert yet
    }
  };
  const lastAlerts = () => {
    const key = alertsKey();
    if (key !== alerts.key) alerts = { key, records: key === 'none' ? [] : tailLog(deps.alertFile, ALERTS_SHOWN) };
    return alerts.records;
  };
  /** what a reader must see at once: a monitor passing or failing, a new alert */
  const significant = () => `${alertsKey()}|${deps.monitors().map((m) => `${m.monitor}\u0000${m.resource}\u0000${m.ok}\u0000${m.failures}\u0000${m.suspended}`).join('|')}`;

  // In a cluster, what other servers do (a group moved, a server lost) is announced nowhere here:
  // while a page is open it is read again every POLL_MS (one etcd read, sent only if it changed).
  let clustered = false;
  const snapshot = async (): Promise<Snapshot> => {
    const s = await deps.status();
    clustered = !!s.cluster;
    const { servers, groups } = placeGroups(s, deps.info);
    return {
      at: new Date().toISOString(),
      server: s.server,
      service: s.service,
      servers,
      cluster: s.cluster ? { name: s.cluster.name, state: s.cluster.state, problem: s.cluster.problem, readAt: s.cluster.readAt } : null,
      reboots: s.reboots,
      groups,
      watches: s.watches,
      monitors: s.monitors,
      suspendedMonitors: s.suspendedMonitors ?? [],
      alerts: lastAlerts(),
    };
  };

  const clients = new Set<ServerResponse>();
  let lastSent = '';
  let lastSentAt = 0;
  let lastSignificant = '';
  let lastMonitors = '';
  let pending: NodeJS.Timeout | null = null;
  let lastRefresh = 0;
  let poll: NodeJS.Timeout | null = null;
  let heartbeat: NodeJS.Timeout | null = null;
  let closed = false;

  const send = (res: ServerResponse, data: string) => res.write(`event: status\ndata: ${data}\n\n`);
  const refresh = async () => {
    pending = null;
    // Without a page open nothing is built: /metrics reads the status when it is scraped.
    if (closed || clients.size === 0) return;
    const s = await snapshot().catch(() => null);
    if (!s) return;
    lastRefresh = Date.now();
    deps.onSnapshot(s);
    if (clients.size === 0) return;
    const data = JSON.stringify(s);
    // What changes every time (at, the uptimes) comes before "reboots" (snapshot() builds it in
    // that order): the rest, and the servers' states, are what a reader would see change. One
    // stringify of 1000 watches: ~3 ms.
    const seen = JSON.stringify([s.servers.map((v) => [v.name, v.state, v.since, v.groups]), s.cluster?.state, s.cluster?.problem]) + data.slice(data.indexOf(',"reboots":'));
    lastSignificant = significant();
    if (seen === lastSent) return;
    lastSent = seen;
    lastSentAt = Date.now();
    lastMonitors = JSON.stringify(s.monitors);
    for (const res of clients) send(res, data);
  };
  // Monitors report every few seconds (the service's own stall monitor every second): a page gets
  // a pass turning into a failure, or a new alert, at once (a whole snapshot); the monitors' new
  // figures and times every REFRESH_MS, alone (a few hundred bytes, not the 1000 watches), so an
  // open page costs the idle service next to nothing.
  const look = () => {
    if (clustered || significant() !== lastSignificant) return changed();
    if (Date.now() - lastSentAt < REFRESH_MS) return;
    const data = JSON.stringify(deps.monitors());
    lastSentAt = Date.now();
    if (data === lastMonitors) return;
    lastMonitors = data;
    for (const res of clients) res.write(`event: monitors\ndata: ${data}\n\n`);
  };
  const changed = () => {
    if (pending || closed) return;
    // A burst of changes (a crash loop, a group's start) is one refresh, and refreshes are at
    // least MIN_INTERVAL_MS apart: with 1000 watches one costs a few ms, never a stream of them.
    pending = setTimeout(() => void refresh(), Math.max(COALESCE_MS, lastRefresh + MIN_INTERVAL_MS - Date.now()));
  };
  const timers = (on: boolean) => {
    if (on && !poll) {
      poll = setInterval(look, POLL_MS);
      heartbeat = setInterval(() => clients.forEach((res) => res.write(': keep-alive\n\n')), HEARTBEAT_MS);
    } else if (!on && poll) {
      clearInterval(poll);
      clearInterval(heartbeat!);
      poll = heartbeat = null;
    }
  };

  return {
    snapshot,
    changed,
    subscribe(res) {
      if (clients.size >= MAX_STREAMS) return false;
      res.writeHead(200, {
        'Content-Type': 'text/event-stream; charset=utf-8',
        'Cache-Control': 'no-store',
        'X-Accel-Buffering': 'no',
        Connection: 'keep-alive',
      });
      res.write('retry: 3000\n\n');
      clients.add(res);
      timers(true);
      res.on('close', () => {
        clients.delete(res);
        if (clients.size === 0) timers(false);
      });
      // The new page gets the current snapshot at once.
      void snapshot().then(
        (s) => clients.has(res) && send(res, JSON.stringify(s)),
        () => undefined,
      );
      return true;
    },
    streams: () => clients.size,
    close() {
      closed = true;
      if (pending) clearTimeout(pending);
      timers(false);
      for (const res of clients) res.end();
      clients.clear();
    },
  };
}
