// The alerts: section of arms.yaml (docs/config.md "Alerts"): named routes, each a command, an HTTP
// webhook or SMTP mail, with a filter (level, groups) and a rate limit.
import { isMap, isScalar, Node } from 'yaml';
import type { Reader } from '../config-reader';

export type RouteTarget =
  | { kind: 'command'; command: string }
  | { kind: 'webhook'; url: string; headers: Record<string, string> }
  | { kind: 'mail'; host: string; port: number; from: string; to: string[]; helo: string | null };

export interface RouteConfig {
  name: string;
  target: RouteTarget;
  /** the lowest level sent: WARN (every alert) or ERR */
  level: 'WARN' | 'ERR';
  /** only alerts of these groups (upper case); null: every alert, with or without a group */
  groups: string[] | null;
  /** at most `count` alerts per `per` seconds; the others are counted and summed up later */
  rateLimit: { count: number; per: number };
  /** seconds one delivery may take */
  timeout: number;
  /** deliveries tried again after a failure, with a growing wait */
  retries: number;
  /** seconds before the first retry, doubled at each next one (at most 60 s) */
  retryDelay: number;
  line: number;
}

export type AlertsConfig = RouteConfig[];

export function alertsDefaults(): AlertsConfig {
  return [];
}

const KINDS = ['command', 'webhook', 'mail'];

export function readAlerts(r: Reader, node: Node | null): AlertsConfig {
  return r.named(node, 'alerts', 'route names to a command:, webhook: or mail: route', (name, v, line) => readRoute(r, name, v, line));
}

function readRoute(r: Reader, name: string, node: Node | null, line: number): RouteConfig | undefined {
  const where = `alerts.${name}`;
  const before = r.problems.length;
  const targets: RouteTarget[] = [];
  const route: Omit<RouteConfig, 'target'> = { name, level: 'WARN', groups: null, rateLimit: { count: 60, per: 3600 }, timeout: 10, retries: 3, retryDelay: 1, line };
  let headersNode: Node | null = null;
  r.map(node, where, {
    command: (v) => {
      const c = r.string(v, `${where}.command`, 'a command line (run with ARMS_ALERT_* in its environment)');
      if (c !== undefined) targets.push({ kind: 'command', command: c });
    },
    webhook: (v) => {
      const u = r.string(v, `${where}.webhook`, 'an http:// or https:// URL');
      if (u === undefined) return;
      let ok = false;
      try {
        ok = ['http:', 'https:'].includes(new URL(u).protocol);
      } catch {
        /* below */
      }
      if (ok) targets.push({ kind: 'webhook', url: u, headers: {} });
      else r.problem(v, `${where}.webhook: expected an http:// or https:// URL, got "${u}"`);
    },
    headers: (v) => (headersNode = v),
    mail: (v) => {
      const m = { host: '', port: 25, from: '', to: [] as string[], helo: null as string | null };
      const given = new Set<string>();
      r.map(v, `${where}.mail`, {
        server: (n) => {
          given.add('server');
          const s = r.string(n, `${where}.mail.server`, 'host or host:port of an SMTP server');
          const hp = s === undefined ? null : /^(\[[0-9A-Fa-f:.]+\]|[^\s:[\]]+)(?::(\d{1,5}))?$/.exec(s);
          if (s !== undefined && (!hp || Number(hp[2] ?? 25) > 65535 || Number(hp[2] ?? 25) < 1)) r.problem(n, `${where}.mail.server: expected host or host:port, got "${s}"`);
          else if (hp) {
            m.host = hp[1].replace(/^\[|\]$/g, '');
            m.port = Number(hp[2] ?? 25);
          }
        },
        from: (n) => {
          given.add('from');
          m.from = address(r, n, `${where}.mail.from`) ?? '';
        },
        to: (n) => {
          given.add('to');
          if (isScalar(n)) {
            const a = address(r, n, `${where}.mail.to`);
            if (a) m.to = [a];
          } else m.to = r.list(n, `${where}.mail.to`, (x, w) => address(r, x, w));
        },
        helo: (n) => (m.helo = r.name(n, `${where}.mail.helo`) ?? null),
      });
      if (!isMap(v)) return;
      if (!given.has('server')) r.problem(v, `${where}.mail: "server" is required`);
      if (!given.has('from')) r.problem(v, `${where}.mail: "from" is required`);
      if (!given.has('to')) r.problem(v, `${where}.mail: "to" (one address or a list) is required`);
      else if (m.to.length === 0) r.problem(v, `${where}.mail.to: at least one address`);
      targets.push({ kind: 'mail', ...m });
    },
    level: (v) => {
      const l = r.string(v, `${where}.level`, 'WARN or ERR');
      if (l === 'WARN' || l === 'ERR') route.level = l;
      else if (l !== undefined) r.problem(v, `${where}.level: expected WARN (every alert) or ERR, got "${l}"`);
    },
    groups: (v) => (route.groups = r.list(v, `${where}.groups`, (n, w) => r.name(n, w)).map((g) => g.toUpperCase())),
    rateLimit: (v) =>
      r.map(v, `${where}.rateLimit`, {
        count: (n) => (route.rateLimit.count = r.int(n, `${where}.rateLimit.count`, 1, 1_000_000) ?? route.rateLimit.count),
        per: (n) => (route.rateLimit.per = r.duration(n, `${where}.rateLimit.per`) ?? route.rateLimit.per),
      }),
    timeout: (v) => (route.timeout = r.duration(v, `${where}.timeout`) ?? route.timeout),
    retries: (v) => (route.retries = r.int(v, `${where}.retries`, 0, 20) ?? route.retries),
    retryDelay: (v) => (route.retryDelay = r.duration(v, `${where}.retryDelay`) ?? route.retryDelay),
  });
  if (!isMap(node)) return undefined;
  if (targets.length === 0) r.problem(node, `${where}: one of ${KINDS.join(':, ')}: is required`);
  if (targets.length > 1) r.problem(node, `${where}: one target per route (${targets.map((t) => t.kind).join(' and ')} given): make two routes`);
  const target = targets[0];
  if (headersNode !== null) {
    if (target?.kind !== 'webhook') r.problem(headersNode, `${where}.headers: applies to a webhook: route only`);
    else if (!isMap(headersNode)) r.problem(headersNode, `${where}.headers: expected a mapping of header names to values`);
    else {
      for (const p of (headersNode as { items: Array<{ key: unknown; value: unknown }> }).items) {
        const k = r.string(p.key as Node | null, `${where}.headers`, 'a header name');
        const val = r.string(p.value as Node | null, `${where}.headers.${k}`, 'a header value');
        if (k === undefined || val === undefined) continue;
        if (!/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(k) || /[\r\n]/.test(val)) r.problem(p.key as Node | null, `${where}.headers: "${k}" is not a valid header`);
        else target.headers[k] = val;
      }
    }
  }
  return r.problems.length === before && target ? { ...route, target } : undefined;
}

function address(r: Reader, n: Node | null, where: string): string | undefined {
  const a = r.string(n, where, 'a mail address');
  if (a !== undefined && !/^[^\s<>@,;]+@[^\s<>@,;]+$/.test(a)) {
    r.problem(n, `${where}: expected a mail address (name@host), got "${a}"`);
    return undefined;
  }
  return a;
}
