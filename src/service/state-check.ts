// The persisted state checked as a whole before the service trusts any of it: every field of every
// group and watch has the type the service relies on. A copy that fails anywhere is refused like a
// torn one (state.ts then tries the previous good copy), with the path of the first wrong field.
import type { PersistedState } from './state';

type Check = (v: unknown, at: string) => void;

class Wrong extends Error {}

const fail = (at: string, what: string): never => {
  throw new Wrong(`${at}: expected ${what}`);
};

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

const str: Check = (v, at) => void (typeof v !== 'string' && fail(at, 'a string'));
const bool: Check = (v, at) => void (typeof v !== 'boolean' && fail(at, 'true or false'));
const num: Check = (v, at) => void ((typeof v !== 'number' || !Number.isFinite(v)) && fail(at, 'a number'));
const int: Check = (v, at) => void (!Number.isSafeInteger(v) && fail(at, 'a whole number'));
const count: Check = (v, at) => void ((!Number.isSafeInteger(v) || (v as number) < 0) && fail(at, 'a count (0 or more)'));
const nullable =
  (c: Check): Check =>
  (v, at) =>
    v === null ? undefined : c(v, at);
const optional =
  (c: Check): Check =>
  (v, at) =>
    v === undefined ? undefined : c(v, at);
const oneOf =
  (...allowed: unknown[]): Check =>
  (v, at) =>
    void (!allowed.includes(v) && fail(at, `one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}`));
const list =
  (c: Check): Check =>
  (v, at) => {
    if (!Array.isArray(v)) fail(at, 'a list');
    (v as unknown[]).forEach((x, i) => c(x, `${at}[${i}]`));
  };
const record =
  (c: Check): Check =>
  (v, at) => {
    if (!isObj(v)) fail(at, 'a mapping');
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) c(x, `${at}.${k}`);
  };
const shape =
  (fields: Record<string, Check>): Check =>
  (v, at) => {
    if (!isObj(v)) fail(at, 'a mapping');
    for (const [k, c] of Object.entries(fields)) c((v as Record<string, unknown>)[k], `${at}.${k}`);
  };

const identity = shape({ pid: count, start: nullable(num), boot: nullable(str) });

const watchRequest = shape({
  id: str,
  group: nullable(str),
  file: str,
  args: list(str),
  cwd: str,
  env: record(str),
  wait: bool,
  policy: shape({ restarts: count, windowMs: nullable(num), monitorOnly: bool, final: oneOf(null, 'failover', 'shutdown') }),
  scriptRestart: bool,
  graceMs: num,
  user: optional(shape({ name: str, uid: count, gid: count })),
  service: optional(shape({ noWait: bool })),
  intervalMs: num,
  pacing: optional(shape({ delayMs: num, backoff: num, maxDelayMs: num, resetAfterMs: nullable(num) })),
});

const watch = shape({
  req: watchRequest,
  pid: nullable(count),
  identity: nullable(identity),
  state: oneOf('running', 'ended', 'exhausted', 'escalated', 'stopping', 'failed'),
  since: num,
  startedAt: num,
  counters: shape({ used: count, windowStart: nullable(num), streak: optional(count) }),
  lastExit: nullable(shape({ code: nullable(int), signal: nullable(str), at: str })),
  escalation: nullable(shape({ action: oneOf('failover', 'shutdown'), at: str, cause: str })),
  run: optional(count),
  sessions: optional(list(identity)),
  suspended: optional(bool),
  held: optional(bool),
  orphan: optional(nullable(shape({ cmdline: str }))),
});

const group = shape({
  state: oneOf('offline', 'starting', 'online', 'stopping', 'error'),
  since: str,
  startedAs: oneOf(null, 'START', 'FAILOVER', 'RECOVER'),
  disk: oneOf(null, 'SUCCESS', 'FAILURE'),
});

const whole = shape({
  version: oneOf(1),
  cleanStop: bool,
  reboots: count,
  failovers: optional(record(list(num))),
  values: optional(record(int)),
  groups: optional(record(group)),
  watches: optional(list(watch)),
  suspendedMonitors: optional(list(str)),
});

/** The state in `text`, or why it cannot be trusted. */
export function checkState(text: string): PersistedState | string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    return `not JSON (${(e as Error).message})`;
  }
  try {
    whole(parsed, 'state');
  } catch (e) {
    if (e instanceof Wrong) return e.message;
    throw e;
  }
  const s = parsed as Partial<PersistedState>;
  return { version: 1, cleanStop: s.cleanStop!, reboots: s.reboots!, failovers: s.failovers ?? {}, values: s.values ?? {}, groups: s.groups ?? {}, watches: s.watches ?? [], suspendedMonitors: s.suspendedMonitors ?? [] };
}
