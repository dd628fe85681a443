#!/usr/bin/env node
// Benchmark: failover between servers through etcd (issue 13), at heartbeatTimeout (lease TTL)
// 2 s and 10 s.
//
//   node bench/cluster-failover.js [--runs N] [--quick] [--ttl 2,10] [--json FILE] [--check]
//
// (default 30 runs per TTL; --quick: 5 runs and a 20 s idle window; needs `npm run build` and etcd
// on PATH.) A real three-member etcd on loopback (scripts/etcd-cluster.js), two real armsd A and B
// in temporary homes, a group G with policy [A, B] and scripts that only append a line.
//   server loss: kill -9 the owner's whole server (armsd and what it started), poll the survivor's
//     status every 10 ms until G is online there. Figure: the time as a multiple of the TTL (the
//     reference: the lease the cluster must wait out; target <= 1.0, stretch <= 0.75; the original
//     product needed >= 60 s with its defaults). The killed server is started again between runs.
//   handover: ARMFOVER /W G on the owner, minus the stop and start scripts' own time as the
//     services timed them (their logs): what the cluster adds. Target <= 50 ms median.
//   idle cost: with 10 groups online and nothing happening, the gRPC calls and streams started at
//     etcd (its /metrics, summed over the members) per minute: per group and per server.
// --check: exit 2 when a target is missed. Writes bench/results/cluster-failover.json.
'use strict';

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const { ROOT, summary, sleep, within, r2, r3 } = require('./lib');

const args = process.argv.slice(2);
const opt = (name, dflt) => (args.includes(name) ? args[args.indexOf(name) + 1] : dflt);
const QUICK = args.includes('--quick');
const RUNS = Number(opt('--runs', QUICK ? 5 : 30));
const TTLS = String(opt('--ttl', '2,10')).split(',').map(Number);
const IDLE_MS = QUICK ? 20_000 : 60_000;
const IDLE_GROUPS = 10;
const JSON_OUT = path.resolve(opt('--json', path.join(__dirname, 'results', 'cluster-failover.json')));
const TARGET = { lossRatio: 1.0, stretchRatio: 0.75, handoverMs: 50 };
if (!Number.isInteger(RUNS) || RUNS < 1 || RUNS > 500) throw new Error('--runs: 1 to 500');
if (TTLS.some((t) => !Number.isInteger(t) || t < 2)) throw new Error('--ttl: whole seconds, at least 2');
if (!fs.existsSync(path.join(ROOT, 'dist', 'service', 'main.js'))) {
  console.error('cluster-failover: dist/ is missing: run `npm run build` first');
  process.exit(1);
}
const { startEtcd, etcdBinary, INSTALL } = require(path.join(ROOT, 'scripts', 'etcd-cluster.js'));
const { call } = require(path.join(ROOT, 'dist', 'client', 'client.js'));
const { resolveHome } = require(path.join(ROOT, 'dist', 'platform', 'home.js'));
if (!etcdBinary()) {
  console.error(`cluster-failover: ${INSTALL}`);
  process.exit(1);
}

const started = new Set();
let etcd = null;
const temp = fs.mkdtempSync(path.join(os.tmpdir(), 'arms-bench-cluster-'));
function cleanup() {
  if (process.env.KEEP_BENCH) return;
  for (const s of started) kill9(s);
  fs.rmSync(temp, { recursive: true, force: true });
}
process.on('exit', cleanup);
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => (etcd ? etcd.stop() : Promise.resolve()).finally(() => process.exit(130)));

function home(name, cluster, ttl, groups) {
  const h = fs.mkdtempSync(path.join(temp, `${name}-`));
  let y = `server: ${name}\nsyslog: false\ncluster:\n  name: ${cluster}\n  etcd: [${etcd.endpoints.join(', ')}]\n  heartbeatTimeout: ${ttl}s\nservers: [A, B]\ngroups:\n`;
  for (const g of groups) {
    const dir = path.join(h, 'groups', g);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'start.sh'), 'echo "start $ARMS_EVENT $ARMS_FENCE"\n');
    fs.writeFileSync(path.join(dir, 'stop.sh'), 'echo "stop $CLP_FACTOR"\n');
    y += `  ${g}:\n    policy: [A, B]\n    start: start.sh\n    stop: stop.sh\n    maxFailovers: 1000\n`;
  }
  fs.writeFileSync(path.join(h, 'arms.yaml'), y);
  return h;
}

async function startServer(name, h) {
  const env = { ...process.env, ARMS_HOME: h, PATH: `${path.join(ROOT, 'dist', 'path')}${path.delimiter}${process.env.PATH}` };
  const log = fs.openSync(path.join(h, 'armsd.out'), 'a');
  const proc = spawn(process.execPath, [path.join(ROOT, 'bin', 'armsd.js')], { env, stdio: ['ignore', log, log], detached: true });
  fs.closeSync(log);
  const s = { name, home: h, env, proc, pipe: resolveHome(env).pipe };
  started.add(s);
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      const st = await call(s.pipe, 'status', {}, 2000);
      if (st.cluster?.state === 'joined') return s;
    } catch {
      /* not yet */
    }
    if (Date.now() > deadline) throw new Error(`armsd ${name} did not join within 20 s: ${fs.readFileSync(path.join(h, 'armsd.out'), 'utf8')}`);
    await sleep(20);
  }
}

/** The whole server: its process group, then whatever carries its home in its environment. */
function kill9(s) {
  started.delete(s);
  try {
    process.kill(-s.proc.pid, 'SIGKILL');
  } catch {
    /* gone */
  }
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (fs.readFileSync(`/proc/${d}/environ`, 'utf8').split('\0').includes(`ARMS_HOME=${s.home}`)) process.kill(Number(d), 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

async function cluster(s) {
  return (await call(s.pipe, 'status', {}, 5000)).cluster;
}

async function waitOwner(s, group, who, ms) {
  const deadline = Date.now() + ms;
  for (;;) {
    const c = await cluster(s).catch(() => null);
    const g = c?.groups.find((x) => x.name === group);
    if (g && g.owner === who && g.state === 'online') return;
    if (Date.now() > deadline) throw new Error(`${group} not online on ${who} within ${ms} ms: ${JSON.stringify(g)}`);
    await sleep(10);
  }
}

/** The scripts' own time (ms) logged by the service since line `from` of its cluster log. */
function scriptMs(h, from) {
  const lines = fs.readFileSync(path.join(h, 'log', 'cluster.log'), 'utf8').split('\n').filter(Boolean).slice(from);
  let ms = 0;
  for (const l of lines) {
    const m = /(?:start|stop) script \S+ \(.*\) exited with code 0 in (\d+) ms/.exec(JSON.parse(l).msg);
    if (m) ms += Number(m[1]);
  }
  return ms;
}
const logLines = (h) => fs.readFileSync(path.join(h, 'log', 'cluster.log'), 'utf8').split('\n').filter(Boolean).length;

function metrics() {
  return Promise.all(
    etcd.endpoints.map(
      (u) =>
        new Promise((resolve, reject) => {
          http
            .get(`${u}/metrics`, (res) => {
              let body = '';
              res.on('data', (d) => (body += d));
              res.on('end', () => {
                let n = 0;
                for (const l of body.split('\n')) if (l.startsWith('grpc_server_started_total{')) n += Number(l.split(' ').pop());
                resolve(n);
              });
            })
            .on('error', reject);
        }),
    ),
  ).then((xs) => xs.reduce((a, b) => a + b, 0));
}

async function measure(ttl) {
  const name = `bench${process.pid}t${ttl}`;
  const homes = { A: home('A', name, ttl, ['G']), B: home('B', name, ttl, ['G']) };
  const servers = { A: await startServer('A', homes.A), B: await startServer('B', homes.B) };
  await call(servers.A.pipe, 'group.start', { name: 'G', wait: true }, 60_000);
  let ownerName = 'A';

  const loss = [];
  for (let i = 0; i < RUNS; i++) {
    const other = ownerName === 'A' ? 'B' : 'A';
    await sleep(ttl * 200 + Math.random() * ttl * 300); // anywhere in the keep-alive cycle
    const t0 = process.hrtime.bigint();
    kill9(servers[ownerName]);
    await waitOwner(servers[other], 'G', other, ttl * 4000);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    loss.push(ms);
    process.stdout.write(`  TTL ${ttl} s, server loss ${i + 1}/${RUNS}: ${ms.toFixed(0)} ms = ${(ms / (ttl * 1000)).toFixed(2)} x TTL\n`);
    servers[ownerName] = await startServer(ownerName, homes[ownerName]);
    ownerName = other;
  }

  const handover = [];
  const overhead = [];
  for (let i = 0; i < RUNS; i++) {
    const other = ownerName === 'A' ? 'B' : 'A';
    const from = { A: logLines(homes.A), B: logLines(homes.B) };
    const t0 = process.hrtime.bigint();
    await call(servers[ownerName].pipe, 'group.failover', { name: 'G', wait: true, pid: process.pid }, 60_000);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    await waitOwner(servers[other], 'G', other, 10_000);
    await sleep(50); // the log lines are written
    const scripts = scriptMs(homes.A, from.A) + scriptMs(homes.B, from.B);
    handover.push(ms);
    overhead.push(ms - scripts);
    ownerName = other;
  }

  // Idle: 10 groups online, nothing happening.
  for (const s of Object.values(servers)) kill9(s);
  const idleName = `${name}idle`;
  const groups = Array.from({ length: IDLE_GROUPS }, (_, i) => `I${i}`);
  const idle = { A: await startServer('A', home('A', idleName, ttl, groups)), B: await startServer('B', home('B', idleName, ttl, groups)) };
  for (const g of groups) await call(idle.A.pipe, 'group.start', { name: g, wait: true }, 60_000);
  await sleep(ttl * 1000);
  const before = await metrics();
  await sleep(IDLE_MS);
  const calls = (await metrics()) - before;
  for (const s of Object.values(idle)) kill9(s);
  const perMin = calls / (IDLE_MS / 60_000);
  return {
    ttlS: ttl,
    serverLossMs: summary(loss),
    serverLossRatioToTtl: { median: r3(summary(loss).median / (ttl * 1000)), p95: r3(summary(loss).p95 / (ttl * 1000)), max: r3(summary(loss).max / (ttl * 1000)) },
    handoverMs: summary(handover),
    handoverOverheadMs: summary(overhead),
    idle: { groups: IDLE_GROUPS, servers: 2, windowS: IDLE_MS / 1000, etcdCallsPerMinute: r2(perMin), perGroupPerMinute: r2(perMin / IDLE_GROUPS), perServerPerMinute: r2(perMin / 2) },
  };
}

async function main() {
  etcd = await startEtcd({ dir: path.join(temp, 'etcd') });
  const results = [];
  try {
    for (const ttl of TTLS) results.push(await within(ttl * RUNS * 3000 + 300_000, `TTL ${ttl}`, measure(ttl)));
  } finally {
    await etcd.stop();
  }
  const met = results.every((r) => r.serverLossRatioToTtl.median <= TARGET.lossRatio && r.handoverOverheadMs.median <= TARGET.handoverMs);
  const out = { benchmark: 'cluster-failover', date: new Date().toISOString(), node: process.version, cpus: os.cpus().length, runs: RUNS, quick: QUICK, target: TARGET, results, met };
  fs.mkdirSync(path.dirname(JSON_OUT), { recursive: true });
  fs.writeFileSync(JSON_OUT, JSON.stringify(out, null, 2) + '\n');
  console.log(`cluster-failover: ${RUNS} runs per TTL (3 etcd members, 2 armsd, loopback)`);
  for (const r of results) {
    console.log(`  TTL ${r.ttlS} s (the reference)`);
    console.log(`    server loss -> online elsewhere: median ${r.serverLossMs.median} ms = ${r.serverLossRatioToTtl.median} x TTL (p95 ${r.serverLossRatioToTtl.p95} x, max ${r.serverLossRatioToTtl.max} x); target <= ${TARGET.lossRatio} x, stretch <= ${TARGET.stretchRatio} x`);
    console.log(`    ARMFOVER /W handover: median ${r.handoverMs.median} ms, of which the cluster ${r.handoverOverheadMs.median} ms (p95 ${r.handoverOverheadMs.p95}) beyond the scripts' own time; target <= ${TARGET.handoverMs} ms`);
    console.log(`    idle: ${r.idle.etcdCallsPerMinute} etcd calls/min for ${r.idle.groups} groups on ${r.idle.servers} servers = ${r.idle.perGroupPerMinute} per group per minute (${r.idle.perServerPerMinute} per server: keep-alives and the periodic read, whatever the number of groups)`);
  }
  console.log(`  targets: ${met ? 'met' : 'MISSED'}; written to ${path.relative(ROOT, JSON_OUT)}`);
  return args.includes('--check') && !met ? 2 : 0;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(`cluster-failover: ${e.stack || e.message}`);
    process.exit(1);
  },
);
