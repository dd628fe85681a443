// The persisted state checked before the service trusts any of it: every field of every group and
// watch has the type the service relies on. A state.json from before the journal is checked as a
// whole (checkState: a copy that fails anywhere is refused like a torn one, and the previous good
// copy is tried); a journal record by itself (checkRecord: a record that fails is skipped like a
// torn line). Either way with the path of the first wrong field.
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

const watchRequestFields = {
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
};

const watchFields = {
  req: shape(watchRequestFields),
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
};
const watch = shape(watchFields);
/** in the journal, a watch names its environment (an env:<id> record) instead of holding it */
const { env: _env, ...requestWithoutEnv } = watchRequestFields;
const watchRecord = shape({ ...watchFields, req: shape(requestWithoutEnv), env: str });

const group = shape({
  state: oneOf('offline', 'starting', 'online', 'stopping', 'error'),
  since: str,
  startedAs: oneOf(null, 'START', 'FAILOVER', 'RECOVER'),
  disk: oneOf(null, 'SUCCESS', 'FAILURE'),
});

const metaFields = {
  version: oneOf(1),
  cleanStop: bool,
  reboots: count,
  failovers: optional(record(list(num))),
  values: optional(record(int)),
  suspendedMonitors: optional(list(str)),
};
const whole = shape({ ...metaFields, groups: optional(record(group)), watches: optional(list(watch)) });

/** The journal's records, by the start of their key: meta, group:<NAME>, watch:<ID>, env:<id>. */
const records: [string, Check][] = [
  ['meta', shape(metaFields)],
  ['group:', group],
  ['watch:', watchRecord],
  ['env:', record(str)],
];

/** Why the journal record `key` = `value` cannot be trusted, or null. */
export function checkRecord(key: string, value: unknown): string | null {
  const found = records.find(([k]) => (k.endsWith(':') ? key.startsWith(k) && key.length > k.length : key === k));
  if (!found) return 'not a record this version knows';
  try {
    found[1](value, key);
    return null;
  } catch (e) {
    if (e instanceof Wrong) return e.message;
    throw e;
  }
}

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
