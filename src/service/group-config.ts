// The groups: section of arms.yaml (docs/config.md): each group's policy, folder, scripts, timeouts,
// disks, monitored resources and failover limits, with defaults for what is left out.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isMap, Node } from 'yaml';
import type { Reader } from './config-reader';
import { readReady, ReadyConfig } from './start-order';

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
  /** cluster: move back to a higher-priority server of the policy when it comes back */
  failback: boolean;
  /** what a watch's /SHUT does to the server */
  finalAction: 'shutdown' | 'reboot';
  /** start after these groups (and stop before them): start-order.ts */
  after: string[];
  /** per watch ID (upper case): the check that must pass before its ARMLOAD returns */
  ready: Record<string, ReadyConfig>;
  /** where the group is declared, for messages; where its after: is */
  line: number;
  afterLine: number;
}

/** `clustered`: the group may run on other servers only (its definition is the same on every server). */
export function readGroups(r: Reader, node: Node, server: string, home: string, clustered = false): GroupConfig[] {
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
    const g = readGroup(r, name, pair.value as Node | null, server, home, r.line(keyNode), clustered);
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
    failback: false,
    after: [],
    ready: {},
    line: 0,
    afterLine: 0,
  };
}

function readGroup(r: Reader, name: string, node: Node | null, server: string, home: string, line: number, clustered: boolean): GroupConfig | undefined {
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
    failback: (v) => (g.failback = r.bool(v, `${where}.failback`) ?? g.failback),
    after: (v) => {
      g.afterLine = r.line(v);
      g.after = r.list(v, `${where}.after`, (n, w) => r.name(n, w));
    },
    ready: (v) => (g.ready = readReady(r, v, `${where}.ready`)),
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
  if (!clustered && !g.policy.some((s) => s.toUpperCase() === server.toUpperCase())) {
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
