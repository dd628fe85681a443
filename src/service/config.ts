// arms.yaml: read, validated, every mistake reported with file and line. A missing file is an
// empty config (every value has a default). The shape is documented in docs/config.md; the groups:
// section is read by group-config.ts, values by config-reader.ts.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isMap, isScalar, LineCounter, Node, parseDocument } from 'yaml';
import { defaultPowerCommands, PowerAction } from '../platform/power';
import { ServiceDef } from '../platform/services';
import { checkClusterConfig, ClusterConfig, readCluster, readServers } from '../cluster/config';
import { HttpConfig, readHttp } from '../http/config';
import { Reader } from './config-reader';
import { GroupConfig, readGroups } from './group-config';
import { AlertsConfig, alertsDefaults, readAlerts } from './alerts/config';
import { checkMonitorGroups, MonitorConfig, readMonitors } from './monitor-config';
import { checkStartOrder } from './start-order';
import { OS_MONITOR_DEFAULTS, OsMonitorConfig } from './os-monitor';
import { DEFAULT_PACING, Pacing } from './restart-policy';
import { RotationPolicy } from './rotating-file';

export interface Config {
  file: string;
  /** this server's name */
  server: string;
  groups: GroupConfig[];
  /** ARMLOAD /S names (upper case) mapped to a systemd unit or to commands */
  services: Record<string, ServiceDef>;
  /** the commands ARMDOWN runs */
  power: Record<PowerAction, string>;
  /** server shutdowns asked for by monitoring, before an operator must clear the count */
  maxReboots: number;
  /** limits of the control pipe: idle and line timeouts (ms), connections */
  pipe: { idleMs: number; lineMs: number; maxConnections: number };
  log: { cluster: RotationPolicy; alert: RotationPolicy; watch: RotationPolicy };
  /** false: alerts stay out of the system log; a string: the syslog socket `logger` uses */
  syslog: boolean | string;
  /** the service's own stall monitor and the watchdog device (os-monitor.ts) */
  osMonitor: OsMonitorConfig;
  /** keep a warmed-up batch interpreter waiting when a group has a .bat script (batch-spare.ts) */
  warmBatch: boolean;
  /** restart pacing: watchDefaults, and watches.ID overriding them per watch ID (upper case) */
  pacing: { defaults: Pacing; byId: Record<string, Partial<Pacing>> };
  /** several servers coordinated through etcd (docs/cluster.md); null: this server alone */
  cluster: ClusterConfig | null;
  /** the cluster's servers */
  servers: string[];
  /** monitors the service runs, and the recovery of any monitor by name (monitor-config.ts) */
  monitors: MonitorConfig[];
  /** where alert-level events go besides the logs (alerts/config.ts) */
  alerts: AlertsConfig;
  /** the HTTP API, /metrics and the status page (src/http/); null: off (the default) */
  http: HttpConfig | null;
}

export interface ConfigProblem {
  file: string;
  line: number;
  message: string;
}

export class ConfigInvalid extends Error {
  constructor(public problems: ConfigProblem[]) {
    super(problems.map(formatProblem).join('\n'));
  }
}

export function formatProblem(p: ConfigProblem): string {
  return `${p.file}:${p.line}: ${p.message}`;
}

export const CONFIG_NAME = 'arms.yaml';

const DEFAULT_LOG: RotationPolicy = { maxBytes: 10 * 1024 * 1024, keep: 5 };

export function defaultServerName(): string {
  return os.hostname().split('.')[0].toUpperCase();
}

function defaults(file: string, server?: string): Config {
  return {
    file,
    server: server ?? defaultServerName(),
    groups: [],
    services: {},
    power: defaultPowerCommands(),
    maxReboots: 3,
    pipe: { idleMs: 30_000, lineMs: 10_000, maxConnections: 256 },
    log: { cluster: { ...DEFAULT_LOG }, alert: { ...DEFAULT_LOG }, watch: { ...DEFAULT_LOG } },
    syslog: true,
    osMonitor: { ...OS_MONITOR_DEFAULTS },
    warmBatch: true,
    pacing: { defaults: { ...DEFAULT_PACING }, byId: {} },
    cluster: null,
    servers: [],
    monitors: [],
    alerts: alertsDefaults(),
    http: null,
  };
}

/** The restart pacing of a watch ID under this config. */
export function pacingFor(config: Config, id: string): Pacing {
  return { ...config.pacing.defaults, ...config.pacing.byId[id.toUpperCase()] };
}

/** `server`: the name armsd was given (--server, the systemd unit); the file's server: must agree. */
export function loadConfig(dir: string, opts: { server?: string } = {}): Config {
  const file = path.join(dir, CONFIG_NAME);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return defaults(file, opts.server);
    throw new ConfigInvalid([{ file, line: 0, message: `cannot read: ${(e as Error).message}` }]);
  }
  return parseConfig(text, file, opts);
}

export function parseConfig(text: string, file: string, opts: { server?: string } = {}): Config {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigInvalid(
      doc.errors.map((e) => ({ file, line: e.linePos?.[0].line ?? 0, message: e.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '') })),
    );
  }
  const config = defaults(file, opts.server);
  const r = new Reader(file, lines);
  const root = doc.contents as Node | null;
  if (root === null || (isScalar(root) && root.value === null)) return config;

  let groupsNode: Node | null = null;
  let serversLine = 1;
  r.map(root, '', {
    server: (v) => {
      const name = r.name(v, 'server');
      if (name !== undefined && opts.server !== undefined && name.toUpperCase() !== opts.server.toUpperCase()) {
        r.problem(v, `server: this file says ${name}, armsd was started with --server ${opts.server}`);
      } else config.server = name ?? config.server;
    },
    groups: (v) => {
      groupsNode = v;
    },
    log: (v) => readLog(r, v, config),
    services: (v) => (config.services = readServices(r, v)),
    power: (v) =>
      r.map(v, 'power', {
        shutdown: (n) => (config.power.shutdown = r.string(n, 'power.shutdown', 'a command') ?? config.power.shutdown),
        reboot: (n) => (config.power.reboot = r.string(n, 'power.reboot', 'a command') ?? config.power.reboot),
        poweroff: (n) => (config.power.poweroff = r.string(n, 'power.poweroff', 'a command') ?? config.power.poweroff),
      }),
    maxReboots: (v) => (config.maxReboots = r.int(v, 'maxReboots', 0, 1000) ?? config.maxReboots),
    pipe: (v) =>
      r.map(v, 'pipe', {
        idleTimeout: (n) => (config.pipe.idleMs = (r.duration(n, 'pipe.idleTimeout') ?? config.pipe.idleMs / 1000) * 1000),
        lineTimeout: (n) => (config.pipe.lineMs = (r.duration(n, 'pipe.lineTimeout') ?? config.pipe.lineMs / 1000) * 1000),
        maxConnections: (n) => (config.pipe.maxConnections = r.int(n, 'pipe.maxConnections', 1, 100_000) ?? config.pipe.maxConnections),
      }),
    syslog: (v) => {
      if (isScalar(v) && typeof v.value === 'boolean') config.syslog = v.value;
      else if (isScalar(v) && typeof v.value === 'string' && v.value.length > 0) config.syslog = v.value;
      else r.problem(v, 'syslog: expected true, false, or the path of a syslog socket');
    },
    osMonitor: (v) => readOsMonitor(r, v, config, path.dirname(file)),
    warmBatch: (v) => (config.warmBatch = r.bool(v, 'warmBatch') ?? config.warmBatch),
    watchDefaults: (v) => Object.assign(config.pacing.defaults, readPacing(r, v, 'watchDefaults')),
    watches: (v) => readWatches(r, v, config),
    cluster: (v) => (config.cluster = readCluster(r, v, path.dirname(file))),
    servers: (v) => ({ names: config.servers, line: serversLine } = readServers(r, v)),
    monitors: (v) => (config.monitors = readMonitors(r, v, path.dirname(file))),
    alerts: (v) => (config.alerts = readAlerts(r, v)),
    http: (v) => (config.http = readHttp(r, v, path.dirname(file))),
  });
  // Groups last: their defaults depend on the server's name.
  if (groupsNode !== null) config.groups = readGroups(r, groupsNode, config.server, path.dirname(file), config.cluster !== null);
  checkClusterConfig({ ...config, serversLine }, (line, message) => r.problems.push({ file, line, message }));
  // Cross-checks against every group declared (one with a mistake of its own is still a group).
  const declared = isMap(groupsNode) ? (groupsNode as { items: Array<{ key: unknown }> }).items.map((p) => String(isScalar(p.key) ? p.key.value : '')) : [];
  checkMonitorGroups(r, config.monitors, declared);
  checkStartOrder(r, config.groups, declared);
  if (r.problems.length > 0) throw new ConfigInvalid(r.problems.sort((a, b) => a.line - b.line));
  return config;
}

/** osMonitor: false, or { enabled, stallThreshold, interval, watchdog } */
function readOsMonitor(r: Reader, node: Node | null, config: Config, home: string): void {
  const m = config.osMonitor;
  if (isScalar(node) && typeof node.value === 'boolean') {
    m.enabled = node.value;
    return;
  }
  r.map(node, 'osMonitor', {
    enabled: (v) => (m.enabled = r.bool(v, 'osMonitor.enabled') ?? m.enabled),
    stallThreshold: (v) => (m.stallThreshold = r.duration(v, 'osMonitor.stallThreshold') ?? m.stallThreshold),
    interval: (v) => (m.interval = r.duration(v, 'osMonitor.interval') ?? m.interval),
    watchdog: (v) => {
      if (isScalar(v) && v.value === false) m.watchdog = null;
      else {
        const p = r.string(v, 'osMonitor.watchdog', 'the path of the watchdog device (/dev/watchdog), or false');
        if (p !== undefined) m.watchdog = path.resolve(home, p);
      }
    },
  });
}

/** restartDelay, restartBackoff, restartDelayMax, resetAfter: of watchDefaults or of one watch ID */
function readPacing(r: Reader, node: Node | null, where: string): Partial<Pacing> {
  const p: Partial<Pacing> = {};
  r.map(node, where, {
    restartDelay: (v) => {
      const s = r.durationOrZero(v, `${where}.restartDelay`);
      if (s !== undefined) p.delayMs = s * 1000;
    },
    restartBackoff: (v) => {
      if (isScalar(v) && typeof v.value === 'number' && v.value >= 1 && v.value <= 100) p.backoff = v.value;
      else r.problem(v, `${where}.restartBackoff: expected a factor from 1 (no growth) to 100, such as 2`);
    },
    restartDelayMax: (v) => {
      const s = r.duration(v, `${where}.restartDelayMax`);
      if (s !== undefined) p.maxDelayMs = s * 1000;
    },
    resetAfter: (v) => {
      if (isScalar(v) && (v.value === false || v.value === 'none')) p.resetAfterMs = null;
      else {
        const s = r.duration(v, `${where}.resetAfter`);
        if (s !== undefined) p.resetAfterMs = s * 1000;
      }
    },
  });
  if (p.delayMs !== undefined && p.maxDelayMs !== undefined && p.maxDelayMs < p.delayMs) {
    r.problem(node, `${where}: restartDelayMax (${p.maxDelayMs / 1000} s) is shorter than restartDelay (${p.delayMs / 1000} s)`);
  }
  return p;
}

/** watches: { ID: { restartDelay, ... } } */
function readWatches(r: Reader, node: Node | null, config: Config): void {
  if (!isMap(node)) {
    r.problem(node, 'watches: expected a mapping of watch IDs (as given to ARMLOAD) to their restart settings');
    return;
  }
  for (const pair of node.items) {
    const key = pair.key as Node | null;
    const id = isScalar(key) ? String(key.value) : '';
    if (!/^[A-Za-z0-9_]{1,255}$/.test(id)) {
      r.problem(key, `watches: "${id}" is not a watch ID (1-255 letters, digits or "_")`);
      continue;
    }
    if (config.pacing.byId[id.toUpperCase()]) r.problem(key, `watches: ${id} is given twice (IDs compare case-insensitively)`);
    config.pacing.byId[id.toUpperCase()] = readPacing(r, pair.value as Node | null, `watches.${id}`);
  }
}

function readLog(r: Reader, node: Node | null, config: Config): void {
  // maxSize/keep directly under log: apply to every log; the cluster:/alert:/watch: sections override them.
  const shared: Partial<RotationPolicy> = {};
  const own = { cluster: {} as Partial<RotationPolicy>, alert: {} as Partial<RotationPolicy>, watch: {} as Partial<RotationPolicy> };
  const policy = (target: Partial<RotationPolicy>, where: string) => ({
    maxSize: (v: Node | null) => (target.maxBytes = r.size(v, `${where}.maxSize`)),
    keep: (v: Node | null) => (target.keep = r.int(v, `${where}.keep`, 0, 100)),
  });
  r.map(node, 'log', {
    ...policy(shared, 'log'),
    cluster: (v) => r.map(v, 'log.cluster', policy(own.cluster, 'log.cluster')),
    alert: (v) => r.map(v, 'log.alert', policy(own.alert, 'log.alert')),
    watch: (v) => r.map(v, 'log.watch', policy(own.watch, 'log.watch')),
  });
  for (const name of ['cluster', 'alert', 'watch'] as const) {
    for (const layer of [shared, own[name]]) {
      if (layer.maxBytes !== undefined) config.log[name].maxBytes = layer.maxBytes;
      if (layer.keep !== undefined) config.log[name].keep = layer.keep;
    }
  }
}

/** services: { W3SVC: nginx } (a systemd unit), or { start: ..., stop: ..., status: ... } */
function readServices(r: Reader, node: Node | null): Record<string, ServiceDef> {
  const out: Record<string, ServiceDef> = {};
  if (!isMap(node)) {
    r.problem(node, 'services: expected a mapping of service names to a systemd unit or to { start, stop, status } commands');
    return out;
  }
  for (const pair of node.items) {
    const name = r.string(pair.key as Node | null, 'services: service name');
    if (name === undefined) continue;
    const v = pair.value as Node | null;
    const where = `services.${name}`;
    if (isScalar(v)) {
      const unit = r.string(v, where, 'a systemd unit name, or { start, stop, status }');
      if (unit) out[name.toUpperCase()] = { kind: 'unit', unit };
      continue;
    }
    const def: { unit?: string; start?: string; stop?: string; status?: string } = {};
    r.map(v, where, {
      unit: (n) => (def.unit = r.string(n, `${where}.unit`, 'a systemd unit name')),
      start: (n) => (def.start = r.string(n, `${where}.start`, 'a command')),
      stop: (n) => (def.stop = r.string(n, `${where}.stop`, 'a command')),
      status: (n) => (def.status = r.string(n, `${where}.status`, 'a command (exit 0 while the service runs)')),
    });
    if (!isMap(v)) continue;
    if (def.unit && (def.start || def.stop || def.status)) r.problem(v, `${where}: a unit or commands, not both`);
    else if (def.unit) out[name.toUpperCase()] = { kind: 'unit', unit: def.unit };
    else if (def.start) out[name.toUpperCase()] = { kind: 'commands', start: def.start, stop: def.stop, status: def.status };
    else r.problem(v, `${where}: "start" (a command) or "unit" is required`);
  }
  return out;
}
