// Cluster tests: a real three-member etcd on loopback (free ports), real armsd processes with
// separate homes and server names, each in a process group of its own, real scripts appending to
// one journal. "Server loss" = SIGKILL to the server's process group and to every process that
// carries its home in its environment (what its scripts started, in sessions of their own).
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { call } from '../../src/client/client';
import { resolveHome } from '../../src/platform/home';
import { envFor, readLog, ROOT, sleep, tempDir } from '../helpers';

// eslint-disable-next-line @typescript-eslint/no-var-requires
const etcdCluster = require('../../scripts/etcd-cluster.js') as {
  startEtcd(opts?: { dir?: string }): Promise<Etcd>;
  etcdBinary(): string | null;
  INSTALL: string;
};

export interface Etcd {
  dir: string;
  endpoints: string[];
  members: Array<{ name: string; client: string }>;
  kill(i: number): Promise<void>;
  start(i: number, wait?: boolean): Promise<void>;
  ready(ms?: number): Promise<void>;
  stop(): Promise<void>;
}

export const haveEtcd = etcdCluster.etcdBinary() !== null;
export const startEtcd = () => etcdCluster.startEtcd();

export interface GroupSpec {
  policy: string[];
  /** files of the group folder (default: the journal's start.sh and stop.sh) */
  files?: Record<string, string>;
  start?: string;
  stop?: string;
  /** more settings, YAML lines under the group */
  settings?: string;
}

export interface ClusterSpec {
  name: string;
  servers: string[];
  ttl: number;
  groups: Record<string, GroupSpec>;
  journal: string;
  /** a folder the scripts look into: a file "fail.<SERVER>.<GROUP>" makes that start fail */
  control: string;
}

/** start.sh/stop.sh that append to the journal: time (ns), server, what, group, event or factor, fence. */
export const JOURNAL_START = `echo "$(date +%s%N) $SRV_NAME start $ARMS_GROUPNAME $ARMS_EVENT fence=$ARMS_FENCE server=$ARMS_SERVER prev=$CLP_SERVER_PREV" >> "$JOURNAL"
if [ -f "$CONTROL/fail.$SRV_NAME.$ARMS_GROUPNAME" ]; then echo "$(date +%s%N) $SRV_NAME failed $ARMS_GROUPNAME $ARMS_EVENT fence=$ARMS_FENCE" >> "$JOURNAL"; exit 1; fi
if [ "$ARMS_EVENT" != RECOVER ]; then echo "$(date +%s%N) $SRV_NAME online $ARMS_GROUPNAME $ARMS_EVENT fence=$ARMS_FENCE" >> "$JOURNAL"; fi
`;
export const JOURNAL_STOP = `echo "$(date +%s%N) $SRV_NAME stop $ARMS_GROUPNAME $CLP_FACTOR fence=$ARMS_FENCE" >> "$JOURNAL"
echo "$(date +%s%N) $SRV_NAME offline $ARMS_GROUPNAME $CLP_FACTOR fence=$ARMS_FENCE" >> "$JOURNAL"
`;

export function clusterSpec(servers: string[], groups: Record<string, GroupSpec>, ttl = 2): ClusterSpec {
  const dir = tempDir('arms-cluster-');
  const control = path.join(dir, 'control');
  fs.mkdirSync(control);
  return { name: `t${process.pid}${Math.random().toString(36).slice(2, 8)}`, servers, ttl, groups, journal: path.join(dir, 'journal'), control };
}

export interface Server {
  name: string;
  home: string;
  env: NodeJS.ProcessEnv;
  pipe: string;
  proc: ChildProcess | null;
  output(): string;
}

const started = new Set<Server>();

/** Writes the server's home: arms.yaml and the group folders. `endpoints`: the etcd URLs it uses (a proxy's, for partitions). */
export function makeHome(spec: ClusterSpec, name: string, endpoints: string[], extra = ''): string {
  const home = tempDir(`arms-${name}-`);
  let y = `server: ${name}\nsyslog: false\n${extra}cluster:\n  name: ${spec.name}\n  etcd: [${endpoints.join(', ')}]\n  heartbeatTimeout: ${spec.ttl}s\nservers: [${spec.servers.join(', ')}]\ngroups:\n`;
  for (const [g, s] of Object.entries(spec.groups)) {
    const dir = path.join(home, 'groups', g);
    fs.mkdirSync(dir, { recursive: true });
    const files = s.files ?? { 'start.sh': JOURNAL_START, 'stop.sh': JOURNAL_STOP };
    for (const [f, body] of Object.entries(files)) {
      fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
      fs.writeFileSync(path.join(dir, f), body);
    }
    y += `  ${g}:\n    policy: [${s.policy.join(', ')}]\n    start: ${s.start ?? 'start.sh'}\n    stop: ${s.stop ?? 'stop.sh'}\n    timeouts: { start: 20s, stop: 20s }\n${(s.settings ?? '').replace(/^(?=.)/gm, '    ')}`;
  }
  fs.writeFileSync(path.join(home, 'arms.yaml'), y);
  return home;
}

/** Starts armsd for `name` in `home` in a process group of its own; resolves once its pipe answers. */
export async function startServer(spec: ClusterSpec, name: string, home: string, extraEnv: NodeJS.ProcessEnv = {}): Promise<Server> {
  const env = envFor(home, { SRV_NAME: name, JOURNAL: spec.journal, CONTROL: spec.control, ...extraEnv });
  const proc = spawn(process.execPath, [path.join(ROOT, 'bin', 'armsd.js')], { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  const s: Server = { name, home, env, pipe: resolveHome(env).pipe, proc, output: () => out };
  started.add(s);
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`armsd ${name} exited: ${out}`);
    try {
      await call(s.pipe, 'ping', {}, 2000);
      return s;
    } catch {
      if (Date.now() > deadline) throw new Error(`armsd ${name} did not answer: ${out}`);
      await sleep(25);
    }
  }
}

function processesOf(home: string): number[] {
  const pids: number[] = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const env = fs.readFileSync(`/proc/${d}/environ`, 'utf8').split('\0');
      if (env.includes(`ARMS_HOME=${home}`)) pids.push(Number(d));
    } catch {
      /* gone, or not ours */
    }
  }
  return pids;
}

/** Server loss: armsd and everything it started, SIGKILL at once. */
export async function killServer(s: Server): Promise<void> {
  const proc = s.proc;
  if (!proc) return;
  s.proc = null;
  try {
    process.kill(-proc.pid!, 'SIGKILL');
  } catch {
    /* gone */
  }
  for (let i = 0; i < 3; i++) {
    for (const pid of processesOf(s.home)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    await sleep(20);
  }
  if (proc.exitCode === null && proc.signalCode === null) await new Promise((r) => proc.once('exit', r));
}

/** A clean stop (SIGTERM): the server hands its groups over and leaves. */
export async function stopServer(s: Server): Promise<void> {
  const proc = s.proc;
  if (!proc) return;
  s.proc = null;
  started.delete(s);
  if (proc.exitCode === null && proc.signalCode === null) {
    proc.kill('SIGTERM');
    await new Promise((r) => proc.once('exit', r));
  }
}

export async function stopServers(): Promise<void> {
  await Promise.all([...started].map((s) => killServer(s)));
  started.clear();
}

export interface ClusterView {
  state: string;
  problem: string | null;
  servers: Array<{ name: string; up: boolean; since: string | null; groups: string[] }>;
  groups: Array<{ name: string; state: string; owner: string | null; fence: string | null; error: string | null }>;
}

export async function clusterView(s: Server): Promise<ClusterView> {
  const st = (await call(s.pipe, 'status', {}, 10_000)) as { cluster: ClusterView };
  return st.cluster;
}

export async function owner(s: Server, group: string): Promise<{ state: string; owner: string | null; fence: string | null; error: string | null }> {
  return (await clusterView(s)).groups.find((g) => g.name === group)!;
}

export interface Entry {
  t: bigint;
  server: string;
  what: 'start' | 'online' | 'failed' | 'stop' | 'offline' | 'killed';
  group: string;
  how: string;
  fence: string;
  rest: string;
  line: string;
}

export function journal(spec: ClusterSpec): Entry[] {
  if (!fs.existsSync(spec.journal)) return [];
  return fs
    .readFileSync(spec.journal, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [t, server, what, group, how, fence, ...rest] = line.split(' ');
      return { t: BigInt(t), server, what: what as Entry['what'], group, how, fence: (fence ?? '').replace(/^fence=/, ''), rest: rest.join(' '), line };
    })
    .sort((a, b) => (a.t < b.t ? -1 : a.t > b.t ? 1 : 0));
}

/**
 * The journal plus, from each server's cluster log, the moments its self-fence had everything of a
 * group down ("offline (fenced)"): a stop script cut short by the fence writes no "offline" line.
 */
export function journalWithFences(spec: ClusterSpec, homes: Record<string, string>): Entry[] {
  const extra: Entry[] = [];
  for (const [server, home] of Object.entries(homes)) {
    for (const r of readLog(home)) {
      const m = /^group (\S+) offline \(fenced\)$/.exec(r.msg);
      if (m) extra.push({ t: BigInt(Date.parse(r.time)) * 1_000_000n, server, what: 'offline', group: m[1], how: 'FENCED', fence: '', rest: '', line: `${r.time} ${server} ${r.msg}` });
    }
  }
  return [...journal(spec), ...extra].sort((a, b) => (a.t < b.t ? -1 : a.t > b.t ? 1 : 0));
}

/** The test writes down a server loss in the journal, for the invariant's checker. */
export function journalKill(spec: ClusterSpec, s: Server): void {
  fs.appendFileSync(spec.journal, `${BigInt(Date.now()) * 1_000_000n} ${s.name} killed * * fence=\n`);
}

/**
 * The invariant: a group's start never begins on a server while another one has it (from its
 * start until its stop script's end, or its server's loss); fencing tokens of successive starts
 * only go up. Returns the problems (empty: held) and the takeovers checked.
 */
export function checkJournal(entries: Entry[]): { problems: string[]; takeovers: number; starts: number } {
  const problems: string[] = [];
  const holder = new Map<string, string>(); // group -> server that has it
  const lastFence = new Map<string, bigint>();
  let takeovers = 0;
  let starts = 0;
  const prevOwner = new Map<string, string>();
  for (const e of entries) {
    if (e.what === 'killed') {
      for (const [g, s] of holder) if (s === e.server) holder.delete(g);
      continue;
    }
    if (e.how === 'RECOVER') continue;
    if (e.what === 'start') {
      starts++;
      const h = holder.get(e.group);
      if (h && h !== e.server) problems.push(`${e.group}: started on ${e.server} while ${h} had it: ${e.line}`);
      const f = e.fence ? BigInt(e.fence) : null;
      if (f === null) problems.push(`${e.group}: start without a fencing token: ${e.line}`);
      else {
        const before = lastFence.get(e.group);
        if (before !== undefined && f < before) problems.push(`${e.group}: fencing token went back from ${before} to ${f}: ${e.line}`);
        lastFence.set(e.group, f);
      }
      if (prevOwner.has(e.group) && prevOwner.get(e.group) !== e.server) takeovers++;
      prevOwner.set(e.group, e.server);
      holder.set(e.group, e.server);
    } else if (e.what === 'offline' && holder.get(e.group) === e.server) holder.delete(e.group);
  }
  return { problems, takeovers, starts };
}

/** A TCP proxy the test can black-hole: while cut, nothing passes either way (connections hang, as behind a dead switch). */
export interface Proxy {
  url: string;
  cut(on: boolean): void;
  close(): void;
}

export async function proxy(target: string): Promise<Proxy> {
  const u = new URL(target);
  let cut = false;
  const pairs = new Set<[net.Socket, net.Socket | null]>();
  const waiting: Array<() => void> = [];
  const server = net.createServer((client) => {
    const pair: [net.Socket, net.Socket | null] = [client, null];
    pairs.add(pair);
    client.on('error', () => undefined);
    const link = () => {
      const up = net.connect(Number(u.port), u.hostname);
      pair[1] = up;
      up.on('error', () => client.destroy());
      client.on('close', () => up.destroy());
      up.on('close', () => {
        client.destroy();
        pairs.delete(pair);
      });
      client.pipe(up);
      up.pipe(client);
      if (cut) {
        client.pause();
        up.pause();
      }
    };
    if (cut) {
      client.pause();
      waiting.push(link);
    } else link();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    cut(on) {
      cut = on;
      for (const [a, b] of pairs) {
        if (on) {
          a.unpipe();
          b?.unpipe();
          a.pause();
          b?.pause();
        } else if (b) {
          a.pipe(b);
          b.pipe(a);
          a.resume();
          b.resume();
        }
      }
      if (!on) for (const l of waiting.splice(0)) l();
    },
    close() {
      for (const [a, b] of pairs) {
        a.destroy();
        b?.destroy();
      }
      server.close();
    },
  };
}

export async function waitFor<T>(what: () => Promise<T>, ok: (v: T) => boolean, ms = 30_000, label = 'condition'): Promise<T> {
  const deadline = Date.now() + ms;
  let v: T | undefined;
  for (;;) {
    try {
      v = await what();
      if (ok(v)) return v;
    } catch {
      /* not yet */
    }
    if (Date.now() > deadline) throw new Error(`${label}: not reached within ${ms} ms (last: ${JSON.stringify(v)})`);
    await sleep(50);
  }
}
