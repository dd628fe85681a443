// arms.yaml: read, validated, every mistake reported with file and line. A missing file is an
// empty config (every value has a default). The shape is documented in docs/config.md.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isMap, isScalar, isSeq, LineCounter, Node, parseDocument, YAMLMap } from 'yaml';
import { defaultPowerCommands, PowerAction } from '../platform/power';
import { ServiceDef } from '../platform/services';
import { OS_MONITOR_DEFAULTS, OsMonitorConfig } from './os-monitor';
import { RotationPolicy } from './rotating-file';

export interface DiskConfig {
  path: string;
  activate?: string;
  deactivate?: string;
}

export interface GroupConfig {
  name: string;
  /** servers in priority order */
  policy: string[];
  /** the group folder, absolute */
  dir: string;
  /** absolute paths of the scripts */
  start: string;
  stop: string;
  autostart: boolean;
  timeouts: { start: number; stop: number };
  disks: DiskConfig[];
  addresses: string[];
  nics: string[];
  maxFailovers: number;
  failoverWindow: number;
  maxStartRetries: number;
  /** what a watch's /SHUT does to the server */
  finalAction: 'shutdown' | 'reboot';
  /** where the group is declared, for messages */
  line: number;
}

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
const NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,62}$/;

export function defaultServerName(): string {
  return os.hostname().split('.')[0].toUpperCase();
}

function defaults(file: string): Config {
  return {
    file,
    server: defaultServerName(),
    groups: [],
    services: {},
    power: defaultPowerCommands(),
    maxReboots: 3,
    pipe: { idleMs: 30_000, lineMs: 10_000, maxConnections: 256 },
    log: { cluster: { ...DEFAULT_LOG }, alert: { ...DEFAULT_LOG }, watch: { ...DEFAULT_LOG } },
    syslog: true,
    osMonitor: { ...OS_MONITOR_DEFAULTS },
    warmBatch: true,
  };
}

export function loadConfig(dir: string): Config {
  const file = path.join(dir, CONFIG_NAME);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return defaults(file);
    throw new ConfigInvalid([{ file, line: 0, message: `cannot read: ${(e as Error).message}` }]);
  }
  return parseConfig(text, file);
}

/** Walks the YAML tree, collecting every problem with its line rather than stopping at the first. */
class Reader {
  problems: ConfigProblem[] = [];
  constructor(
    public file: string,
    private lines: LineCounter,
  ) {}

  line(node: Node | null | undefined): number {
    return node?.range ? this.lines.linePos(node.range[0]).line : 1;
  }

  problem(node: Node | null | undefined, message: string): void {
    this.problems.push({ file: this.file, line: this.line(node), message });
  }

  /** Calls the handler of each key; an unknown key is a problem naming the known ones. */
  map(node: Node | null, where: string, handlers: Record<string, (value: Node | null) => void>): void {
    if (!isMap(node)) {
      this.problem(node, `${where}: expected a mapping (${Object.keys(handlers).join(':, ')}:)`);
      return;
    }
    for (const pair of (node as YAMLMap).items) {
      const key = pair.key as Node | null;
      const name = isScalar(key) ? String(key.value) : '';
      const handler = Object.prototype.hasOwnProperty.call(handlers, name) ? handlers[name] : undefined;
      if (handler) handler(pair.value as Node | null);
      else this.problem(key, `${where ? where + ': ' : ''}unknown setting "${name}" (expected one of: ${Object.keys(handlers).join(', ')})`);
    }
  }

  string(node: Node | null, where: string, what = 'a string'): string | undefined {
    if (isScalar(node) && (typeof node.value === 'string' || typeof node.value === 'number') && String(node.value).length > 0) return String(node.value);
    this.problem(node, `${where}: expected ${what}`);
    return undefined;
  }

  name(node: Node | null, where: string): string | undefined {
    const s = this.string(node, where, 'a name (letters, digits, "_", "-", ".")');
    if (s !== undefined && !NAME.test(s)) {
      this.problem(node, `${where}: expected a name (letters, digits, "_", "-", "."), got "${s}"`);
      return undefined;
    }
    return s;
  }

  bool(node: Node | null, where: string): boolean | undefined {
    if (isScalar(node) && typeof node.value === 'boolean') return node.value;
    this.problem(node, `${where}: expected true or false`);
    return undefined;
  }

  int(node: Node | null, where: string, min: number, max: number): number | undefined {
    if (isScalar(node) && Number.isInteger(node.value) && (node.value as number) >= min && (node.value as number) <= max) return node.value as number;
    this.problem(node, `${where}: expected a whole number from ${min} to ${max}`);
    return undefined;
  }

  size(node: Node | null, where: string): number | undefined {
    const n = isScalar(node) ? parseSize(String(node.value)) : null;
    if (n === null) this.problem(node, `${where}: expected a size such as 10MB, 512KB or 1048576 (at least 1KB)`);
    return n ?? undefined;
  }

  /** seconds */
  duration(node: Node | null, where: string): number | undefined {
    const n = isScalar(node) ? parseDuration(String(node.value)) : null;
    if (n === null) this.problem(node, `${where}: expected a duration such as 300s, 5m, 1h (a bare number is seconds)`);
    return n ?? undefined;
  }

  list<T>(node: Node | null, where: string, item: (n: Node | null, where: string) => T | undefined): T[] {
    if (!isSeq(node)) {
      this.problem(node, `${where}: expected a list`);
      return [];
    }
    const out: T[] = [];
    node.items.forEach((n, i) => {
      const v = item(n as Node | null, `${where}[${i}]`);
      if (v !== undefined) out.push(v);
    });
    return out;
  }
}

export function parseConfig(text: string, file: string): Config {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigInvalid(
      doc.errors.map((e) => ({ file, line: e.linePos?.[0].line ?? 0, message: e.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '') })),
    );
  }
  const config = defaults(file);
  const r = new Reader(file, lines);
  const root = doc.contents as Node | null;
  if (root === null || (isScalar(root) && root.value === null)) return config;

  let groupsNode: Node | null = null;
  r.map(root, '', {
    server: (v) => {
      config.server = r.name(v, 'server') ?? config.server;
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
  });
  // Groups last: their defaults depend on the server's name.
  if (groupsNode !== null) config.groups = readGroups(r, groupsNode, config.server, path.dirname(file));
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

function readGroups(r: Reader, node: Node, server: string, home: string): GroupConfig[] {
  const groups: GroupConfig[] = [];
  const seen = new Map<string, string>();
  if (!isMap(node)) {
    r.problem(node, 'groups: expected a mapping of group names to their settings');
    return groups;
  }
  for (const pair of node.items) {
    const keyNode = pair.key as Node | null;
    const name = r.name(keyNode, 'groups: group name');
    if (name === undefined) continue;
    if (seen.has(name.toUpperCase())) {
      r.problem(keyNode, `groups: "${name}" is declared twice (group names are case-insensitive: "${seen.get(name.toUpperCase())}")`);
      continue;
    }
    seen.set(name.toUpperCase(), name);
    const g = readGroup(r, name, pair.value as Node | null, server, home, r.line(keyNode));
    if (g) groups.push(g);
  }
  return groups;
}

/** A group as configured with nothing but its name: scripts still to be set. */
export function groupDefaults(name: string, server: string, dir: string): GroupConfig {
  return {
    name,
    policy: [server],
    dir,
    start: '',
    stop: '',
    autostart: false,
    timeouts: { start: 300, stop: 300 },
    disks: [],
    addresses: [],
    nics: [],
    maxFailovers: 3,
    failoverWindow: 3600,
    maxStartRetries: 0,
    finalAction: 'shutdown',
    line: 0,
  };
}

function readGroup(r: Reader, name: string, node: Node | null, server: string, home: string, line: number): GroupConfig | undefined {
  const where = `groups.${name}`;
  const before = r.problems.length;
  const g = groupDefaults(name, server, path.join(home, 'groups', name));
  g.line = line;
  let startNode: Node | null = null;
  let stopNode: Node | null = null;
  let policyNode: Node | null = null;
  r.map(node, where, {
    policy: (v) => {
      policyNode = v;
      const p = r.list(v, `${where}.policy`, (n, w) => r.name(n, w));
      if (p.length > 0) g.policy = p;
    },
    start: (v) => (startNode = v),
    stop: (v) => (stopNode = v),
    dir: (v) => {
      const d = r.string(v, `${where}.dir`, 'a folder (relative to the home)');
      if (d) g.dir = path.resolve(home, d);
    },
    autostart: (v) => (g.autostart = r.bool(v, `${where}.autostart`) ?? g.autostart),
    timeouts: (v) =>
      r.map(v, `${where}.timeouts`, {
        start: (t) => (g.timeouts.start = r.duration(t, `${where}.timeouts.start`) ?? g.timeouts.start),
        stop: (t) => (g.timeouts.stop = r.duration(t, `${where}.timeouts.stop`) ?? g.timeouts.stop),
      }),
    disks: (v) => {
      g.disks = r.list(v, `${where}.disks`, (n, w) => {
        const d: Partial<DiskConfig> = {};
        r.map(n, w, {
          path: (p) => (d.path = r.string(p, `${w}.path`, 'the path of the disk (a folder)')),
          activate: (c) => (d.activate = r.string(c, `${w}.activate`, 'a command')),
          deactivate: (c) => (d.deactivate = r.string(c, `${w}.deactivate`, 'a command')),
        });
        if (d.path === undefined) {
          if (isMap(n)) r.problem(n, `${w}: "path" is required`);
          return undefined;
        }
        return d as DiskConfig;
      });
    },
    addresses: (v) => (g.addresses = r.list(v, `${where}.addresses`, (n, w) => r.string(n, w, 'an address'))),
    nics: (v) => (g.nics = r.list(v, `${where}.nics`, (n, w) => r.string(n, w, 'a network interface name'))),
    maxFailovers: (v) => (g.maxFailovers = r.int(v, `${where}.maxFailovers`, 0, 1000) ?? g.maxFailovers),
    failoverWindow: (v) => (g.failoverWindow = r.duration(v, `${where}.failoverWindow`) ?? g.failoverWindow),
    maxStartRetries: (v) => (g.maxStartRetries = r.int(v, `${where}.maxStartRetries`, 0, 100) ?? g.maxStartRetries),
    finalAction: (v) => {
      const a = r.string(v, `${where}.finalAction`, 'shutdown or reboot');
      if (a === 'shutdown' || a === 'reboot') g.finalAction = a;
      else if (a !== undefined) r.problem(v, `${where}.finalAction: expected shutdown or reboot, got "${a}"`);
    },
  });
  if (!isMap(node)) return undefined;

  for (const [which, n] of [
    ['start', startNode],
    ['stop', stopNode],
  ] as const) {
    if (n === null) {
      r.problem(node, `${where}: "${which}" is required (the ${which} script, relative to the group folder)`);
      continue;
    }
    const s = r.string(n, `${where}.${which}`, 'a script file');
    if (s === undefined) continue;
    const file = path.resolve(g.dir, s);
    g[which] = file;
    if (!isReadableFile(file)) r.problem(n, `${where}.${which}: ${file} is not a readable file`);
  }
  if (!g.policy.some((s) => s.toUpperCase() === server.toUpperCase())) {
    r.problem(policyNode ?? node, `${where}.policy: this server (${server}) is not in the policy [${g.policy.join(', ')}]`);
  }
  return r.problems.length === before ? g : undefined;
}

function isReadableFile(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.R_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

const SIZE_UNITS: Record<string, number> = { '': 1, B: 1, K: 1024, KB: 1024, KIB: 1024, M: 1024 ** 2, MB: 1024 ** 2, MIB: 1024 ** 2, G: 1024 ** 3, GB: 1024 ** 3, GIB: 1024 ** 3 };

export function parseSize(text: string): number | null {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*$/.exec(text);
  if (!m) return null;
  const unit = SIZE_UNITS[m[2].toUpperCase()];
  if (unit === undefined) return null;
  const n = Math.round(Number(m[1]) * unit);
  return n >= 1024 ? n : null;
}

const DURATION_UNITS: Record<string, number> = { '': 1, MS: 0.001, S: 1, SEC: 1, M: 60, MIN: 60, H: 3600, D: 86400 };

/** seconds */
export function parseDuration(text: string): number | null {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*$/.exec(text);
  if (!m) return null;
  const unit = DURATION_UNITS[m[2].toUpperCase()];
  if (unit === undefined) return null;
  const n = Number(m[1]) * unit;
  return n > 0 ? n : null;
}
