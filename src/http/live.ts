// What the page and the API show: one snapshot of the service (the pipe's status, the servers, the
// last alerts), and the server-sent-event stream that pushes a new one to each open page when
// something changed. Changes come from the service (groups, watches: changed()) and, while a page
// is open, from a look every POLL_MS at what does not announce itself (monitor reports, alerts).
import * as fs from 'node:fs';
import type { ServerResponse } from 'node:http';
import type { GroupStatus } from '../service/groups';
import type { MonitorResult } from '../service/monitors';
import type { ServiceInfo } from '../service/ops/index';
import type { WatchStatus } from '../service/watches';

/** One log line as the API gives it: the JSON record as written (time, level, server, group, src, msg, ...). */
export type LogRecord = Record<string, unknown>;

export interface ServerView {
  name: string;
  /** the server answering this request */
  self: boolean;
  state: 'up';
  pid: number;
  version: string;
  uptime: number;
  http: string | null;
}

export interface Snapshot {
  at: string;
  server: string;
  service: { pid: number; version: string; startedAt: string; uptime: number };
  /** every server of the cluster; until there is one, this server */
  servers: ServerView[];
  reboots: { count: number; max: number };
  /** owner: the server the group runs on (until there is a cluster, this one) */
  groups: Array<GroupStatus & { owner: string }>;
  watches: WatchStatus[];
  monitors: MonitorResult[];
  /** the newest alerts, oldest first */
  alerts: LogRecord[];
}

export type PipeStatus = Omit<Snapshot, 'at' | 'servers' | 'alerts' | 'groups'> & { groups: Array<GroupStatus & { owner?: string }> };

export const ALERTS_SHOWN = 20;
const POLL_MS = 2000;
const COALESCE_MS = 100;
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

export function openLive(deps: { status(): Promise<PipeStatus>; info: ServiceInfo; alertFile: string; onSnapshot(s: Snapshot): void }): Live {
  let alerts: { key: string; records: LogRecord[] } = { key: '', records: [] };
  const lastAlerts = () => {
    let key = 'none';
    try {
      const st = fs.statSync(deps.alertFile);
      key = `${st.ino}:${st.size}:${st.mtimeMs}`;
    } catch {
      /* no alert yet */
    }
    if (key !== alerts.key) alerts = { key, records: key === 'none' ? [] : tailLog(deps.alertFile, ALERTS_SHOWN) };
    return alerts.records;
  };

  const snapshot = async (): Promise<Snapshot> => {
    const s = await deps.status();
    return {
      at: new Date().toISOString(),
      server: s.server,
      service: s.service,
      servers: [
        { name: s.server, self: true, state: 'up', pid: s.service.pid, version: s.service.version, uptime: s.service.uptime, http: deps.info.http ?? null },
      ],
      reboots: s.reboots,
      groups: s.groups.map((g) => ({ ...g, owner: g.owner ?? s.server })),
      watches: s.watches,
      monitors: s.monitors,
      alerts: lastAlerts(),
    };
  };

  const clients = new Set<ServerResponse>();
  let lastSent = '';
  let pending: NodeJS.Timeout | null = null;
  let poll: NodeJS.Timeout | null = null;
  let heartbeat: NodeJS.Timeout | null = null;
  let closed = false;

  const send = (res: ServerResponse, data: string) => res.write(`event: status\ndata: ${data}\n\n`);
  const refresh = async () => {
    pending = null;
    if (closed) return;
    const s = await snapshot().catch(() => null);
    if (!s) return;
    deps.onSnapshot(s);
    if (clients.size === 0) return;
    // `at` and uptimes change every time: compare what a reader would see change.
    const data = JSON.stringify(s);
    const seen = JSON.stringify({ ...s, at: '', service: { ...s.service, uptime: 0 }, servers: s.servers.map((x) => ({ ...x, uptime: 0 })) });
    if (seen === lastSent) return;
    lastSent = seen;
    for (const res of clients) send(res, data);
  };
  const changed = () => {
    if (!pending && !closed) pending = setTimeout(() => void refresh(), COALESCE_MS);
  };
  const timers = (on: boolean) => {
    if (on && !poll) {
      poll = setInterval(changed, POLL_MS);
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
