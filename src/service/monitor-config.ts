// The monitors: section of arms.yaml (docs/config.md "Monitors and recovery"): monitors the service
// runs itself (http, tcp, cmd, process, usage), and for any monitor by name (those, an ARMRSP under
// its watch ID, the OS stall monitor armsd-os) what is done when it fails: the X series' recovery
// target, re-activation count, final action, wait, and a script run first.
import * as path from 'node:path';
import { isMap, isScalar, Node } from 'yaml';
import type { Reader } from './config-reader';
import { OS_MONITOR_NAME } from './os-monitor';

export type FinalMonitorAction = 'none' | 'stop-group' | 'failover' | 'shutdown' | 'reboot';
export const FINAL_MONITOR_ACTIONS: readonly FinalMonitorAction[] = ['none', 'stop-group', 'failover', 'shutdown', 'reboot'];

export type RecoveryTarget = { kind: 'group' } | { kind: 'server' } | { kind: 'watch'; id: string };

export interface RecoveryConfig {
  target: RecoveryTarget;
  /** re-activations (restarts) of the target before the final action */
  restarts: number;
  finalAction: FinalMonitorAction;
  /** seconds to wait before acting: a check that passes meanwhile calls the recovery off */
  wait: number;
  /** run before each action, with CLP_ACTION, CLP_MONITORNAME, CLP_RECOVERYCOUNT, CLP_GROUPNAME; absolute */
  script: string | null;
  scriptTimeout: number;
  /** seconds without a failure after which the counts return to zero */
  resetAfter: number;
}

/** What a monitor the service runs checks. */
export type MonitorCheck =
  | { kind: 'http'; url: string; expect?: string }
  | { kind: 'tcp'; address: string }
  | { kind: 'cmd'; command: string }
  | { kind: 'process'; name?: string; commandLine?: string; min: number; max: number }
  | { kind: 'usage'; watch: string; cpu?: number; memory?: number; threads?: number; files?: number; window: number };

export interface MonitorConfig {
  /** as configured; compared case-insensitively */
  name: string;
  /** checked only while this group is online; its name for the recovery and the script */
  group: string | null;
  /** null: only a recovery for a monitor that runs elsewhere (ARMRSP, armsd-os) */
  check: MonitorCheck | null;
  /** seconds */
  interval: number;
  timeout: number;
  /** failed checks in a row that make the monitor fail */
  failures: number;
  /** null: a failure is only reported (an ARMRSP then ends as it always did) */
  recovery: RecoveryConfig | null;
  line: number;
}

export function recoveryDefaults(): RecoveryConfig {
  return { target: { kind: 'group' }, restarts: 0, finalAction: 'none', wait: 0, script: null, scriptTimeout: 60, resetAfter: 3600 };
}

const CHECK_KINDS = ['http', 'tcp', 'cmd', 'process', 'usage'] as const;

export function readMonitors(r: Reader, node: Node | null, home: string): MonitorConfig[] {
  return r.named(node, 'monitors', 'monitor names to their settings', (name, v, line) => readMonitor(r, name, v, home, line));
}

function readMonitor(r: Reader, name: string, node: Node | null, home: string, line: number): MonitorConfig | undefined {
  const where = `monitors.${name}`;
  const before = r.problems.length;
  const m: MonitorConfig = { name, group: null, check: null, interval: 10, timeout: 10, failures: 3, recovery: null, line };
  const checks: Array<{ kind: string; node: Node | null }> = [];
  let expectNode: Node | null = null;
  const timing: string[] = [];
  const check = (kind: string) => (v: Node | null) => checks.push({ kind, node: v });
  r.map(node, where, {
    group: (v) => (m.group = r.name(v, `${where}.group`) ?? null),
    http: check('http'),
    expect: (v) => (expectNode = v),
    tcp: check('tcp'),
    cmd: check('cmd'),
    process: check('process'),
    usage: check('usage'),
    interval: (v) => (timing.push('interval'), (m.interval = r.duration(v, `${where}.interval`) ?? m.interval)),
    timeout: (v) => (timing.push('timeout'), (m.timeout = r.duration(v, `${where}.timeout`) ?? m.timeout)),
    failures: (v) => (timing.push('failures'), (m.failures = r.int(v, `${where}.failures`, 1, 1000) ?? m.failures)),
    recovery: (v) => (m.recovery = readRecovery(r, v, `${where}.recovery`, home) ?? null),
  });
  if (!isMap(node)) return undefined;
  if (checks.length > 1) r.problem(checks[1].node, `${where}: one check per monitor (${CHECK_KINDS.join(', ')}); found ${checks.map((c) => c.kind).join(' and ')}`);
  const c = checks[0];
  if (c) m.check = readCheck(r, c.kind, c.node, where);
  else if (timing.length > 0) {
    // Without a check the results come from elsewhere, on their own schedule: said, not ignored.
    const from = name.toUpperCase() === OS_MONITOR_NAME.toUpperCase() ? 'the stall monitor (its schedule: osMonitor:)' : `ARMRSP (its schedule: ARMRSP's /INT, /TIMEOUT and /N)`;
    r.problem(node, `${where}: ${timing.join(', ')}: only for a check the service runs (${CHECK_KINDS.join(', ')}); this monitor has none: its results come from ${from}`);
  }
  if (expectNode !== null) {
    const text = r.string(expectNode, `${where}.expect`, 'a text the HTTP answer must contain');
    if (m.check?.kind === 'http') m.check.expect = text;
    else r.problem(expectNode, `${where}.expect: applies to an http: check only`);
  }
  const rec = m.recovery;
  if (rec) {
    if (rec.target.kind === 'server' && rec.restarts > 0) r.problem(node, `${where}.recovery: the server cannot be re-activated: restarts must be 0 with target: server`);
    // An ARMRSP reports its group; the service's own monitors and its stall monitor report none.
    const own = m.check !== null || name.toUpperCase() === OS_MONITOR_NAME.toUpperCase();
    if ((rec.finalAction === 'stop-group' || rec.finalAction === 'failover' || rec.target.kind === 'group') && own && m.group === null && rec.target.kind !== 'watch') {
      const which = m.check !== null ? 'on a monitor the service runs' : `on ${OS_MONITOR_NAME} (the service's stall monitor belongs to no group)`;
      r.problem(node, `${where}: a recovery that acts on a group (target: group, finalAction: ${rec.finalAction}) needs "group:" ${which}`);
    }
  }
  return r.problems.length === before ? m : undefined;
}

function readCheck(r: Reader, kind: string, v: Node | null, where: string): MonitorCheck | null {
  const w = `${where}.${kind}`;
  switch (kind) {
    case 'http': {
      const url = r.string(v, w, 'an http:// or https:// URL');
      if (url === undefined) return null;
      try {
        const u = new URL(url);
        if (u.protocol === 'http:' || u.protocol === 'https:') return { kind: 'http', url };
      } catch {
        /* below */
      }
      r.problem(v, `${w}: expected an http:// or https:// URL, got "${url}"`);
      return null;
    }
    case 'tcp': {
      const a = r.string(v, w, 'host:port ([v6]:port for IPv6)');
      if (a === undefined) return null;
      if (!/^(\[[0-9A-Fa-f:.]+\]|[^\s:[\]]+):\d{1,5}$/.test(a) || Number(a.slice(a.lastIndexOf(':') + 1)) > 65535) {
        r.problem(v, `${w}: expected host:port ([v6]:port for IPv6), got "${a}"`);
        return null;
      }
      return { kind: 'tcp', address: a };
    }
    case 'cmd': {
      const command = r.string(v, w, 'a command line (exit 0 is healthy)');
      return command === undefined ? null : { kind: 'cmd', command };
    }
    case 'process': {
      const p: { kind: 'process'; name?: string; commandLine?: string; min: number; max: number } = { kind: 'process', min: 1, max: 1_000_000 };
      r.map(v, w, {
        name: (n) => (p.name = r.string(n, `${w}.name`, 'a process name (as ps -e shows it)')),
        commandLine: (n) => {
          const re = r.string(n, `${w}.commandLine`, 'a regular expression over the command line');
          if (re === undefined) return;
          try {
            new RegExp(re);
            p.commandLine = re;
          } catch (e) {
            r.problem(n, `${w}.commandLine: not a regular expression: ${(e as Error).message}`);
          }
        },
        min: (n) => (p.min = r.int(n, `${w}.min`, 0, 1_000_000) ?? p.min),
        max: (n) => (p.max = r.int(n, `${w}.max`, 0, 1_000_000) ?? p.max),
      });
      if (!isMap(v)) return null;
      if (p.name === undefined && p.commandLine === undefined) r.problem(v, `${w}: "name" or "commandLine" is required`);
      if (p.min > p.max) r.problem(v, `${w}: min (${p.min}) is more than max (${p.max})`);
      return p;
    }
    case 'usage': {
      const u: { kind: 'usage'; watch: string; cpu?: number; memory?: number; threads?: number; files?: number; window: number } = { kind: 'usage', watch: '', window: 60 };
      r.map(v, w, {
        watch: (n) => (u.watch = r.string(n, `${w}.watch`, 'the ID of a watch (ARMLOAD)') ?? ''),
        cpu: (n) => {
          const m = isScalar(n) ? /^\s*(\d+(?:\.\d+)?)\s*%?\s*$/.exec(String(n.value)) : null;
          if (m && Number(m[1]) > 0 && Number(m[1]) <= 100_000) u.cpu = Number(m[1]);
          else r.problem(n, `${w}.cpu: expected a percentage of one CPU such as 90% (200% = two CPUs busy)`);
        },
        memory: (n) => (u.memory = r.size(n, `${w}.memory`)),
        threads: (n) => (u.threads = r.int(n, `${w}.threads`, 1, 10_000_000)),
        files: (n) => (u.files = r.int(n, `${w}.files`, 1, 100_000_000)),
        window: (n) => {
          if (isScalar(n) && (n.value === 0 || n.value === '0')) u.window = 0;
          else u.window = r.duration(n, `${w}.window`) ?? u.window;
        },
      });
      if (!isMap(v)) return null;
      if (!u.watch) r.problem(v, `${w}: "watch" (the watch ID whose process is measured) is required`);
      if (u.cpu === undefined && u.memory === undefined && u.threads === undefined && u.files === undefined) r.problem(v, `${w}: at least one threshold: cpu, memory, threads or files`);
      return u;
    }
  }
  return null;
}

function readRecovery(r: Reader, v: Node | null, where: string, home: string): RecoveryConfig | undefined {
  const rec = recoveryDefaults();
  const before = r.problems.length;
  r.map(v, where, {
    target: (n) => {
      const t = r.string(n, `${where}.target`, 'group, server, or watch:ID');
      if (t === undefined) return;
      const m = /^watch:\s*([A-Za-z0-9_]{1,255})$/i.exec(t);
      if (t === 'group' || t === 'server') rec.target = { kind: t };
      else if (m) rec.target = { kind: 'watch', id: m[1] };
      else r.problem(n, `${where}.target: expected group, server, or watch:ID, got "${t}"`);
    },
    restarts: (n) => (rec.restarts = r.int(n, `${where}.restarts`, 0, 1000) ?? rec.restarts),
    finalAction: (n) => {
      const a = r.string(n, `${where}.finalAction`, FINAL_MONITOR_ACTIONS.join(', '));
      if (a === undefined) return;
      if ((FINAL_MONITOR_ACTIONS as readonly string[]).includes(a)) rec.finalAction = a as FinalMonitorAction;
      else r.problem(n, `${where}.finalAction: expected one of ${FINAL_MONITOR_ACTIONS.join(', ')}, got "${a}"`);
    },
    wait: (n) => {
      if (isScalar(n) && (n.value === 0 || n.value === '0')) rec.wait = 0;
      else rec.wait = r.duration(n, `${where}.wait`) ?? rec.wait;
    },
    script: (n) => {
      const s = r.string(n, `${where}.script`, 'a script file (relative to the home)');
      if (s !== undefined) rec.script = path.resolve(home, s);
    },
    scriptTimeout: (n) => (rec.scriptTimeout = r.duration(n, `${where}.scriptTimeout`) ?? rec.scriptTimeout),
    resetAfter: (n) => (rec.resetAfter = r.duration(n, `${where}.resetAfter`) ?? rec.resetAfter),
  });
  return isMap(v) && r.problems.length === before ? rec : undefined;
}

/** Cross-checks once the groups are known: a monitor's group must be configured. */
export function checkMonitorGroups(r: Reader, monitors: MonitorConfig[], groups: string[]): void {
  const known = new Set(groups.map((g) => g.toUpperCase()));
  for (const m of monitors) {
    if (m.group !== null && !known.has(m.group.toUpperCase())) {
      r.problems.push({ file: r.file, line: m.line, message: `monitors.${m.name}.group: no group "${m.group}" in groups:` });
    }
  }
}
