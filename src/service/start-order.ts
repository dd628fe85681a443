// Start order: `after: [GROUP…]` between groups (a group starts once those are online, and is
// stopped before them), and `ready:` between the watches of a group (the check that must pass
// before the ARMLOAD of that watch returns, so the script's next ARMLOAD starts after it).
import { isMap, Node } from 'yaml';
import { bounded, Check } from '../monitors/loop';
import type { Reader } from './config-reader';
import type { GroupConfig } from './group-config';
import { checkFor } from './monitor-runner';
import type { MonitorCheck } from './monitor-config';

export interface ReadyConfig {
  check: Extract<MonitorCheck, { kind: 'http' | 'tcp' | 'cmd' }>;
  /** seconds the ARMLOAD waits at most */
  timeout: number;
  /** seconds between tries */
  interval: number;
}

/** ready: { WATCHID: { http|tcp|cmd: …, expect, timeout, interval } } */
export function readReady(r: Reader, node: Node | null, where: string): Record<string, ReadyConfig> {
  const out: Record<string, ReadyConfig> = {};
  if (!isMap(node)) {
    r.problem(node, `${where}: expected a mapping of watch IDs to a check (http:, tcp: or cmd:)`);
    return out;
  }
  for (const pair of node.items) {
    const id = r.string(pair.key as Node | null, `${where}: watch ID`, 'a watch ID');
    if (id === undefined) continue;
    if (!/^[A-Za-z0-9_]{1,255}$/.test(id)) {
      r.problem(pair.key as Node | null, `${where}: "${id}" is not a watch ID (1-255 letters, digits or "_")`);
      continue;
    }
    const w = `${where}.${id}`;
    const v = pair.value as Node | null;
    const c: { check?: ReadyConfig['check']; expect?: string; timeout: number; interval: number } = { timeout: 60, interval: 1 };
    const kinds: string[] = [];
    r.map(v, w, {
      http: (n) => {
        kinds.push('http');
        const url = r.string(n, `${w}.http`, 'an http:// or https:// URL');
        let ok = false;
        try {
          ok = url !== undefined && ['http:', 'https:'].includes(new URL(url).protocol);
        } catch {
          /* below */
        }
        if (ok) c.check = { kind: 'http', url: url! };
        else if (url !== undefined) r.problem(n, `${w}.http: expected an http:// or https:// URL, got "${url}"`);
      },
      expect: (n) => (c.expect = r.string(n, `${w}.expect`, 'a text the answer must contain')),
      tcp: (n) => {
        kinds.push('tcp');
        const a = r.string(n, `${w}.tcp`, 'host:port');
        if (a !== undefined && /^(\[[0-9A-Fa-f:.]+\]|[^\s:[\]]+):\d{1,5}$/.test(a) && Number(a.slice(a.lastIndexOf(':') + 1)) <= 65535) c.check = { kind: 'tcp', address: a };
        else if (a !== undefined) r.problem(n, `${w}.tcp: expected host:port ([v6]:port for IPv6), got "${a}"`);
      },
      cmd: (n) => {
        kinds.push('cmd');
        const command = r.string(n, `${w}.cmd`, 'a command line (exit 0: ready)');
        if (command !== undefined) c.check = { kind: 'cmd', command };
      },
      timeout: (n) => (c.timeout = r.duration(n, `${w}.timeout`) ?? c.timeout),
      interval: (n) => (c.interval = r.duration(n, `${w}.interval`) ?? c.interval),
    });
    if (!isMap(v)) continue;
    if (kinds.length === 0) r.problem(v, `${w}: one of http:, tcp:, cmd: is required`);
    else if (kinds.length > 1) r.problem(v, `${w}: one check per watch (${kinds.join(' and ')} given)`);
    if (c.expect !== undefined) {
      if (c.check?.kind === 'http') c.check.expect = c.expect;
      else r.problem(v, `${w}.expect: applies to an http: check only`);
    }
    if (c.check && kinds.length === 1) out[id.toUpperCase()] = { check: c.check, timeout: c.timeout, interval: c.interval };
  }
  return out;
}

/** Cross-checks of after: once every group is read: known groups, no group after itself, no cycle. */
export function checkStartOrder(r: Reader, groups: GroupConfig[], declared: string[]): void {
  const byName = new Map(groups.map((g) => [g.name.toUpperCase(), g]));
  const known = new Set(declared.map((d) => d.toUpperCase()));
  for (const g of groups) {
    for (const dep of g.after) {
      if (dep.toUpperCase() === g.name.toUpperCase()) r.problems.push({ file: r.file, line: g.afterLine, message: `groups.${g.name}.after: a group cannot start after itself` });
      else if (!known.has(dep.toUpperCase())) r.problems.push({ file: r.file, line: g.afterLine, message: `groups.${g.name}.after: no group "${dep}" in groups:` });
    }
  }
  // A cycle: follow after: from each group; meeting the group again is one.
  const reported = new Set<string>();
  for (const g of groups) {
    const path: string[] = [];
    const visit = (n: GroupConfig): boolean => {
      if (path.includes(n.name)) return n.name === g.name;
      path.push(n.name);
      for (const d of n.after) {
        const dep = byName.get(d.toUpperCase());
        if (dep && dep.name !== n.name && visit(dep)) return true;
      }
      path.pop();
      return false;
    };
    if (visit(g) && !reported.has(g.name.toUpperCase())) {
      for (const n of path) reported.add(n.toUpperCase());
      r.problems.push({ file: r.file, line: g.afterLine, message: `groups.${g.name}.after: a cycle (${[...path, g.name].join(' → ')}): no group of it could ever start` });
    }
  }
}

/** The groups in an order where each comes after those it starts after. */
export function startOrder<T extends { config: GroupConfig }>(groups: T[]): T[] {
  const byName = new Map(groups.map((g) => [g.config.name.toUpperCase(), g]));
  const out: T[] = [];
  const seen = new Set<T>();
  const visit = (g: T, depth: number) => {
    if (seen.has(g) || depth > groups.length) return;
    for (const d of g.config.after) {
      const dep = byName.get(d.toUpperCase());
      if (dep) visit(dep, depth + 1);
    }
    if (!seen.has(g)) {
      seen.add(g);
      out.push(g);
    }
  };
  for (const g of groups) visit(g, 0);
  return out;
}

/**
 * ARMLOAD with a ready: check: tries it every interval until it passes, the program ends
 * (`running()` false) or the timeout passes. Resolves with null when ready, else why not.
 */
export async function waitReady(ready: ReadyConfig, running: () => boolean): Promise<string | null> {
  const check: Check = checkFor({ name: 'ready', group: null, check: ready.check, interval: ready.interval, timeout: ready.timeout, failures: 1, recovery: null, line: 0 }, { watchPid: () => null })!;
  const deadline = Date.now() + ready.timeout * 1000;
  let last = '';
  for (;;) {
    const left = deadline - Date.now();
    if (left <= 0) return `not ready within ${ready.timeout} s (${check.kind} ${check.resource}: ${last || 'not tried'})`;
    const began = Date.now();
    const o = await bounded(check, Math.max(100, Math.min(left, 10_000)));
    if (o.ok) return null;
    last = o.detail;
    if (!running()) return `its program ended before it was ready (${check.kind} ${check.resource}: ${last})`;
    await new Promise((r) => setTimeout(r, Math.max(0, Math.min(deadline - Date.now(), began + ready.interval * 1000 - Date.now()))));
  }
}
