// Alerts that reach a person: every alert-level event (what goes to the alert log: a watch ending,
// a restart budget spent, a monitor failing, a failover, a self-fence) is offered to each route of
// `alerts:` (a command, an HTTP webhook, SMTP mail) that its filter lets through and its rate limit
// allows. notify() only queues: deliveries run in the background, one at a time per route, each
// bounded by the route's timeout and retried with a growing wait; a queue past its bound drops its
// oldest. Nothing here ever waits in the caller's turn, so a hung receiver cannot delay a restart.
// Problems of a route go to the cluster log only (never back into the alerts).
import type { Fields, Level, Logs } from '../log';
import type { AlertsConfig, RouteConfig } from './config';
import { AlertEvent, deliver } from './deliver';

export type { AlertEvent } from './deliver';

/** A route's counts in `arms status --json` (`alerts`). */
export interface RouteStatus {
  route: string;
  kind: string;
  sent: number;
  failed: number;
  /** held back by the rate limit */
  suppressed: number;
  /** dropped from a full queue */
  dropped: number;
  queued: number;
  lastError: { at: string; message: string } | null;
}

export interface Alerts {
  /** the one entry point: offer an event to every route (returns at once) */
  notify(e: Omit<AlertEvent, 'server' | 'time'> & { time?: string }): void;
  /** what logs.alert sends: the same, from a log line's level, fields and message */
  fromLog(level: Level, fields: Fields, msg: string): void;
  /** `arms alert test`: one test alert through each route (or the one named), past filters and limits; resolves with each outcome */
  test(route?: string): Promise<Array<{ route: string; ok: boolean; detail: string }>>;
  /** routes of a reloaded config (queues of routes that stay are kept) */
  configure(routes: AlertsConfig): void;
  status(): RouteStatus[];
  /** pending deliveries are abandoned */
  close(): void;
}

export interface AlertsContext {
  server: string;
  logs: Pick<Logs, 'write'>;
  env: NodeJS.ProcessEnv;
}

/** The most deliveries waiting per route. */
const MAX_QUEUE = 200;
const MAX_RETRY_WAIT_MS = 60_000;

interface Route {
  config: RouteConfig;
  queue: AlertEvent[];
  busy: boolean;
  /** times of the alerts sent within the rate window */
  sentTimes: number[];
  heldBack: number;
  status: RouteStatus;
}

const RANK = { INFO: 0, WARN: 1, ERR: 2 } as const;

export function openAlerts(routes: AlertsConfig, ctx: AlertsContext): Alerts {
  const byName = new Map<string, Route>();
  let closed = false;
  const timers = new Set<NodeJS.Timeout>();
  const note = (r: Route, level: 'INFO' | 'WARN', msg: string) => ctx.logs.write(level, { src: 'alerts', route: r.config.name }, msg);

  const sleep = (ms: number) =>
    new Promise<void>((res) => {
      const t = setTimeout(() => {
        timers.delete(t);
        res();
      }, ms);
      timers.add(t);
    });

  /** One event through one route, with its retries; resolves with the outcome. */
  const attempt = async (r: Route, e: AlertEvent): Promise<{ ok: boolean; detail: string }> => {
    let last = '';
    for (let n = 0; n <= r.config.retries && !closed; n++) {
      if (n > 0) await sleep(Math.min(MAX_RETRY_WAIT_MS, r.config.retryDelay * 1000 * 2 ** (n - 1)));
      try {
        const detail = await deliver(r.config, e, ctx.env, (line) => ctx.logs.write('INFO', { src: 'alerts', route: r.config.name }, line));
        r.status.sent++;
        return { ok: true, detail: n > 0 ? `${detail} (try ${n + 1})` : detail };
      } catch (err) {
        last = (err as Error).message;
        note(r, 'WARN', `alert route ${r.config.name}: delivery failed (try ${n + 1} of ${r.config.retries + 1}): ${last}`);
      }
    }
    r.status.failed++;
    r.status.lastError = { at: new Date().toISOString(), message: last };
    return { ok: false, detail: last };
  };

  const pump = async (r: Route) => {
    if (r.busy) return;
    r.busy = true;
    while (r.queue.length > 0 && !closed) {
      const e = r.queue.shift()!;
      r.status.queued = r.queue.length;
      await attempt(r, e);
    }
    r.busy = false;
  };

  const passes = (r: Route, e: AlertEvent) =>
    RANK[e.level] >= RANK[r.config.level] && (r.config.groups === null || (e.group !== null && r.config.groups.includes(e.group.toUpperCase())));

  const offer = (r: Route, e: AlertEvent) => {
    if (!passes(r, e)) return;
    const now = Date.now();
    const windowMs = r.config.rateLimit.per * 1000;
    r.sentTimes = r.sentTimes.filter((t) => now - t < windowMs);
    if (r.sentTimes.length >= r.config.rateLimit.count) {
      if (r.heldBack === 0) note(r, 'WARN', `alert route ${r.config.name}: rate limit reached (${r.config.rateLimit.count} per ${r.config.rateLimit.per} s); alerts are held back and counted`);
      r.heldBack++;
      r.status.suppressed++;
      return;
    }
    r.sentTimes.push(now);
    const ev = r.heldBack > 0 ? { ...e, suppressed: r.heldBack } : e;
    r.heldBack = 0;
    if (r.queue.length >= MAX_QUEUE) {
      r.queue.shift();
      r.status.dropped++;
      note(r, 'WARN', `alert route ${r.config.name}: ${MAX_QUEUE} deliveries waiting: the oldest is dropped`);
    }
    r.queue.push(ev);
    r.status.queued = r.queue.length;
    void pump(r);
  };

  const api: Alerts = {
    notify(e) {
      if (closed || byName.size === 0) return;
      const ev: AlertEvent = { ...e, server: ctx.server, time: e.time ?? new Date().toISOString() };
      for (const r of byName.values()) offer(r, ev);
    },
    fromLog(level, fields, msg) {
      if (level === 'INFO') return;
      const str = (v: unknown) => (typeof v === 'string' && v ? v : undefined);
      api.notify({
        level,
        message: msg,
        group: str(fields.group) ?? null,
        source: fields.src,
        event: str(fields.event) ?? fields.src,
        watch: str(fields.watch),
        monitor: str(fields.monitor),
      });
    },
    async test(name) {
      const list = name === undefined ? [...byName.values()] : [byName.get(name.toUpperCase())].filter((r): r is Route => r !== undefined);
      const e: AlertEvent = {
        level: 'WARN',
        message: `test alert from armsd on ${ctx.server} (arms alert test): this route works`,
        group: null,
        source: 'arms',
        event: 'test',
        server: ctx.server,
        time: new Date().toISOString(),
      };
      return Promise.all(list.map(async (r) => ({ route: r.config.name, ...(await attempt(r, e)) })));
    },
    configure(configs) {
      const next = new Map<string, Route>();
      for (const c of configs) {
        const old = byName.get(c.name.toUpperCase());
        if (old && JSON.stringify(old.config.target) === JSON.stringify(c.target)) {
          old.config = c;
          old.status.route = c.name;
          next.set(c.name.toUpperCase(), old);
        } else {
          next.set(c.name.toUpperCase(), {
            config: c,
            queue: [],
            busy: false,
            sentTimes: [],
            heldBack: 0,
            status: { route: c.name, kind: c.target.kind, sent: 0, failed: 0, suppressed: 0, dropped: 0, queued: 0, lastError: null },
          });
        }
      }
      for (const [k, r] of byName) if (!next.has(k)) r.queue.length = 0;
      byName.clear();
      for (const [k, r] of next) byName.set(k, r);
    },
    status: () => [...byName.values()].map((r) => ({ ...r.status, queued: r.queue.length, lastError: r.status.lastError && { ...r.status.lastError } })),
    close() {
      closed = true;
      for (const t of timers) clearTimeout(t);
      for (const r of byName.values()) r.queue.length = 0;
    },
  };
  api.configure(routes);
  return api;
}
