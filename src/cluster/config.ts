// The cluster: and servers: sections of arms.yaml (docs/cluster.md). Read here, checked against the
// groups' policies by checkClusterConfig; no etcd client is loaded for this (arms check uses it).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Node } from 'yaml';
import type { Reader } from '../service/config-reader';
import type { GroupConfig } from '../service/group-config';

export interface ClusterConfig {
  name: string;
  /** etcd client URLs */
  etcd: string[];
  /** the lease TTL in seconds: a server silent this long is down */
  heartbeatTimeout: number;
  /** client certificates for an etcd that requires TLS (files, absolute) */
  tls: { ca: string; cert?: string; key?: string } | null;
  /** where the section is, for messages */
  line: number;
}

export const DEFAULT_HEARTBEAT_TIMEOUT = 10;
/** etcd grants no lease shorter than 2 s with its default election timeout (platform.md §3.2) */
const MIN_TTL = 2;

export function readCluster(r: Reader, node: Node | null, home: string): ClusterConfig | null {
  const c: ClusterConfig = { name: '', etcd: [], heartbeatTimeout: DEFAULT_HEARTBEAT_TIMEOUT, tls: null, line: r.line(node) };
  let named = false;
  let endpoints = false;
  const tls: { ca?: string; cert?: string; key?: string } = {};
  let tlsNode: Node | null = null;
  const before = r.problems.length;
  r.map(node, 'cluster', {
    name: (v) => {
      named = true;
      c.name = r.name(v, 'cluster.name') ?? '';
    },
    etcd: (v) => {
      endpoints = true;
      c.etcd = r.list(v, 'cluster.etcd', (n, where) => {
        const url = r.string(n, where, 'an etcd client URL (http://host:2379)');
        if (url === undefined) return undefined;
        if (!/^https?:\/\/[^\s/]+(:\d+)?\/?$/.test(url)) {
          r.problem(n, `${where}: "${url}" is not an etcd client URL (http://host:port or https://host:port)`);
          return undefined;
        }
        return url.replace(/\/$/, '');
      });
    },
    heartbeatTimeout: (v) => {
      const s = r.duration(v, 'cluster.heartbeatTimeout');
      if (s === undefined) return;
      if (s < MIN_TTL || s > 3600 || s !== Math.round(s)) r.problem(v, `cluster.heartbeatTimeout: expected whole seconds from ${MIN_TTL}s to 1h (it is the etcd lease TTL), got ${s} s`);
      else c.heartbeatTimeout = s;
    },
    tls: (v) => {
      tlsNode = v;
      r.map(v, 'cluster.tls', {
        ca: (n) => (tls.ca = file(r, n, 'cluster.tls.ca', home)),
        cert: (n) => (tls.cert = file(r, n, 'cluster.tls.cert', home)),
        key: (n) => (tls.key = file(r, n, 'cluster.tls.key', home)),
      });
    },
  });
  if (r.problems.length > before && !named && !endpoints) return null;
  if (!named) r.problem(node, 'cluster: "name" is required (the cluster\'s name: every server of one cluster uses the same)');
  if (!endpoints) r.problem(node, 'cluster: "etcd" is required (the etcd client URLs, e.g. [http://10.0.0.11:2379])');
  else if (c.etcd.length === 0 && r.problems.length === before) r.problem(node, 'cluster.etcd: at least one etcd client URL is required');
  if (tlsNode !== null) {
    if (!tls.ca) r.problem(tlsNode, 'cluster.tls: "ca" is required (the CA certificate of the etcd servers)');
    else if (!!tls.cert !== !!tls.key) r.problem(tlsNode, 'cluster.tls: "cert" and "key" go together (the client certificate and its key)');
    else c.tls = { ca: tls.ca, cert: tls.cert, key: tls.key };
    if (c.etcd.some((u) => u.startsWith('http://'))) r.problem(tlsNode, 'cluster.tls: the etcd URLs must be https:// when tls is set');
  }
  return c;
}

function file(r: Reader, n: Node | null, where: string, home: string): string | undefined {
  const f = r.string(n, where, 'a file (relative to the home)');
  if (f === undefined) return undefined;
  const abs = path.resolve(home, f);
  try {
    fs.accessSync(abs, fs.constants.R_OK);
  } catch {
    r.problem(n, `${where}: ${abs} is not a readable file`);
  }
  return abs;
}

export function readServers(r: Reader, node: Node | null): { names: string[]; line: number } {
  const seen = new Set<string>();
  const names = r.list(node, 'servers', (n, where) => {
    const name = r.name(n, where);
    if (name === undefined) return undefined;
    if (seen.has(name.toUpperCase())) {
      r.problem(n, `servers: "${name}" is listed twice (server names are case-insensitive)`);
      return undefined;
    }
    seen.add(name.toUpperCase());
    return name;
  });
  return { names, line: r.line(node) };
}

/**
 * The checks that need the whole config: this server and every group's policy are among the
 * servers: list. Problems are reported at `line`s, through `problem`.
 */
export function checkClusterConfig(
  c: { cluster: ClusterConfig | null; servers: string[]; server: string; groups: GroupConfig[]; serversLine: number },
  problem: (line: number, message: string) => void,
): void {
  if (!c.cluster) {
    if (c.servers.length > 0) problem(c.serversLine, 'servers: only used with a cluster: section (several servers coordinated through etcd)');
    for (const g of c.groups) if (g.failback) problem(g.line, `groups.${g.name}.failback: only used with a cluster: section`);
    return;
  }
  if (c.servers.length === 0) {
    problem(c.cluster.line, 'servers: is required with a cluster: section (the names of the cluster\'s servers, e.g. [SERVERA, SERVERB])');
    return;
  }
  const known = new Set(c.servers.map((s) => s.toUpperCase()));
  if (!known.has(c.server.toUpperCase())) problem(c.serversLine, `servers: this server (${c.server}) is not in the list [${c.servers.join(', ')}] (set server: or armsd's --server)`);
  for (const g of c.groups) {
    const unknown = g.policy.filter((s) => !known.has(s.toUpperCase()));
    if (unknown.length > 0) problem(g.line, `groups.${g.name}.policy: ${unknown.join(', ')} ${unknown.length > 1 ? 'are' : 'is'} not in servers: [${c.servers.join(', ')}]`);
    const dup = g.policy.find((s, i) => g.policy.findIndex((t) => t.toUpperCase() === s.toUpperCase()) !== i);
    if (dup) problem(g.line, `groups.${g.name}.policy: ${dup} is listed twice`);
  }
}
