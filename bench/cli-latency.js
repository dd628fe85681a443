#!/usr/bin/env node
// Benchmark: what one ARMLOG costs a script, how many log requests the service takes, and what
// the idle service costs in memory. Needs a built dist/ (`npm run build`); builds nothing itself.
//
//   node bench/cli-latency.js [--runs N] [--warmup N] [--requests N] [--rounds N] [--inflight N]
//                             [--shrink-wait SECONDS] [--json FILE] [--check]
//   defaults: 40 runs after 5 warm-ups; 20000 requests x 5 rounds, 128 in flight per connection;
//   up to 30 s waiting for the busy service's heap to shrink. --check: exit 2 when a target is missed.
//
// 1. end-to-end latency: `dist/path/ARMLOG x` (what a script's ARMLOG runs, executed as it is) against a real armsd in a temporary ARMS_HOME,
//    interleaved run by run with `node -e 0` (same load for both) and with a minimal node client
//    (the floor for any node command that talks to armsd), with the environment as it is and with
//    NODE_EXTRA_CA_CERTS removed from the children's environment;
// 1b. `dist/path/arms status` interleaved with `node -e 0` and `pm2 jlist` (PM2 installed with npm
//    into the temporary home, its daemon in a PM2_HOME there, stopped at the end; when it cannot be
//    installed, the last measured pm2 jlist / node -e 0 ratio from the results file, said so);
// 2. throughput: ARMLOG requests ("log" op, same arguments ARMLOG sends) over 1 and 16 pipelined
//    connections of the in-process client (dist/client/client.js), against armsd and against a
//    trivial NDJSON echo server in a child process (the ceiling of client + socket);
// 3. memory: RSS/PSS/USS of armsd after the throughput runs (2 s after, and once V8 has given the
//    heap back), of a freshly started idle armsd, and of a bare `net.createServer().listen(sock)`
//    node process.
// Prints a summary and writes bench/results/cli-latency.json. Talks only to Unix sockets in its own
// temporary folder, which it removes at the end, together with every process it started.
'use strict';

const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { median, msSince, pct, r2, r3, sleep, summary, tracked, usageOf, within } = require('./lib');

const ROOT = path.resolve(__dirname, '..');
const RESULTS = path.join(__dirname, 'results', 'cli-latency.json');
const NAME = 'cli-latency';
const NODE = process.execPath;

const TARGETS = {
  latencyMedianRatio: 1.25, // median(armlog) / median(node -e 0), with the environment as it is and without NODE_EXTRA_CA_CERTS
  statusToPm2Ratio: 0.4, // median(arms status) / median(pm2 jlist)
  throughputTotal: 10_000, // ARMLOG requests per second, 1 and 16 connections
};
const PM2_VERSION = '7.0.4';

// ---------------------------------------------------------------------------------------------
// options

function parseOptions(argv) {
  const o = { runs: 40, warmup: 5, requests: 20_000, rounds: 5, inflight: 128, shrinkWait: 30, check: false, json: RESULTS };
  const ints = { '--runs': 'runs', '--warmup': 'warmup', '--requests': 'requests', '--rounds': 'rounds', '--inflight': 'inflight', '--shrink-wait': 'shrinkWait' };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '-h' || a === '--help') {
      process.stdout.write(usageOf(__filename));
      process.exit(0);
    } else if (a === '--check') o.check = true;
    else if (a === '--json') o.json = path.resolve(argv[++i] ?? '');
    else if (ints[a]) {
      const n = Number(argv[++i]);
      if (!Number.isInteger(n) || n < (a === '--warmup' || a === '--shrink-wait' ? 0 : 1) || n > 1_000_000) fail(`${a} needs a whole number (got "${argv[i]}")`);
      o[ints[a]] = n;
    } else fail(`unknown argument "${a}" (try --help)`);
  }
  if (o.runs > 1000) fail('--runs: at most 1000');
  if (o.rounds > 20) fail('--rounds: at most 20');
  if (o.shrinkWait > 600) fail('--shrink-wait: at most 600 seconds');
  if (o.inflight > 256) fail('--inflight: at most 256 (the service stops reading a connection at 256 in flight)');
  return o;
}

function fail(msg) {
  process.stderr.write(`cli-latency: ${msg}\n`);
  process.exit(1);
}

// ---------------------------------------------------------------------------------------------
// dist/ must be there: this benchmark measures the built commands

const DIST = {
  client: path.join(ROOT, 'dist', 'client', 'client.js'),
  home: path.join(ROOT, 'dist', 'platform', 'home.js'),
  armlog: path.join(ROOT, 'dist', 'commands', 'armlog.js'),
  service: path.join(ROOT, 'dist', 'service', 'main.js'),
};
// armlog and arms: what a group script's ARMLOG and an operator's `arms` run, started as they start
// them (the commands folder, dist/path, is on their PATH): the file itself is executed, whatever it is
// (a launcher, or a link to the bundle with its `#!/usr/bin/env node`).
const BIN = { armlog: path.join(ROOT, 'dist', 'path', 'ARMLOG'), arms: path.join(ROOT, 'dist', 'path', 'arms'), armsd: path.join(ROOT, 'bin', 'armsd.js') };

function checkDist() {
  const missing = [...Object.values(DIST), ...Object.values(BIN)].filter((f) => !fs.existsSync(f));
  if (missing.length > 0) {
    fail(
      `the built commands are missing (${missing.map((f) => path.relative(ROOT, f)).join(', ')}).\n` +
        `  Build first: "npm run build" (or run "npm run bench", which builds and then runs every benchmark).`,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// processes this benchmark starts: all are stopped at the end, whatever happens (bench/lib.js)

/** the PM2 this run installed (its daemon is stopped whatever happens) */
let pm2Running = null;
const procs = tracked(NAME, { afterKill: () => pm2Running && stopPm2(pm2Running, process.env) });
const { children } = procs;
const startChild = procs.start;
const stopChild = procs.stop;
const cleanupSync = procs.cleanupSync;
const { exitedServices } = procs;

// ---------------------------------------------------------------------------------------------
// the service

function childEnv(home, { withoutCerts = false } = {}) {
  const env = { ...process.env, ARMS_HOME: home };
  delete env.ARMS_PIPE;
  delete env.ARMS_GROUPNAME;
  if (withoutCerts) delete env.NODE_EXTRA_CA_CERTS;
  return env;
}

const startService = (client, home, env, label) => procs.startService(client, env, label);

async function stopService(client, svc) {
  svc.stopping = true;
  if (!svc.alive) return;
  try {
    await client.call(svc.pipe, 'stop', { pid: process.pid }, 3000);
    await within(5000, `${svc.label} stop`, svc.exited);
  } catch {
    await stopChild(svc);
  }
}

// ---------------------------------------------------------------------------------------------
// 1. end-to-end latency

/** One command, start to exit, timed here; a failed run stops the benchmark. */
/** Runs [file, ...args] (a node command is [NODE, ...]) to its end; its time in ms. */
function timeRun([file, ...args], env, label) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(file, args, { env, cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'], timeout: 15_000, killSignal: 'SIGKILL' });
  const ms = msSince(t0);
  if (r.error || r.status !== 0) {
    const why = r.error ? r.error.message : r.signal ? `signal ${r.signal}` : `exit ${r.status}`;
    throw new Error(`${label} failed (${why}): ${String(r.stderr ?? '').trim()}`);
  }
  return ms;
}

/**
 * The floor for any node command that talks to armsd: connect, send one log request, exit on the
 * answer (no argument parsing, no home resolution, no timers, no graceful close).
 */
const MINIMAL_CLIENT = `
const s = require('net').connect(process.argv[1]);
let buf = '';
s.on('connect', () => s.write(JSON.stringify({ v: 1, id: 1, op: 'log', args: { message: 'x', level: 'INFO', source: 'bench-minimal', pid: process.pid, ppid: process.ppid } }) + '\\n'));
s.on('data', (d) => {
  buf += d;
  if (!buf.includes('\\n')) return;
  s.destroy();
  if (!JSON.parse(buf).ok) process.exitCode = 1;
});
s.on('error', (e) => { process.stderr.write(e.message + '\\n'); process.exitCode = 1; });
`;

function measureLatency(env, pipe, opts) {
  const commands = { armlog: [BIN.armlog, 'x'], node: [NODE, '-e', '0'], minimal: [NODE, '-e', MINIMAL_CLIENT, pipe] };
  const labels = { armlog: '"dist/path/ARMLOG x"', node: '"node -e 0"', minimal: 'the minimal client' };
  const keys = Object.keys(commands);
  for (let i = 0; i < opts.warmup; i++) for (const k of keys) timeRun(commands[k], env, labels[k]);
  const samples = { armlog: [], node: [], minimal: [] };
  const t0 = Date.now();
  for (let i = 0; i < opts.runs; i++) {
    // rotate which goes first, so none always follows the same one
    for (let j = 0; j < keys.length; j++) {
      const k = keys[(i + j) % keys.length];
      samples[k].push(timeRun(commands[k], env, labels[k]));
    }
    if (Date.now() - t0 > 300_000) throw new Error('latency runs took more than 5 minutes; the machine is too busy to measure');
  }
  return {
    armlog: summary(samples.armlog),
    nodeE0: summary(samples.node),
    minimalClient: summary(samples.minimal),
    ratioMedian: r3(median(samples.armlog) / median(samples.node)),
    ratioP95: r3(pct(samples.armlog, 95) / pct(samples.node, 95)),
    minimalClientRatioMedian: r3(median(samples.minimal) / median(samples.node)),
    overheadMedianMs: r2(median(samples.armlog) - median(samples.node)),
    samplesMs: { armlog: samples.armlog.map(r2), nodeE0: samples.node.map(r2), minimalClient: samples.minimal.map(r2) },
  };
}

/** The IPC part alone: connect + one log request + close, in this process (no node start). */
const ROUND_TRIP_WARMUP = 20;
async function measureRoundTrip(client, pipe, n = 200) {
  const args = logArgs();
  for (let i = 0; i < ROUND_TRIP_WARMUP; i++) await client.call(pipe, 'log', args, 5000);
  const xs = [];
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    await client.call(pipe, 'log', args, 5000);
    xs.push(msSince(t0));
  }
  return summary(xs);
}

// ---------------------------------------------------------------------------------------------
// 1b. `arms status` against `pm2 jlist`

/**
 * PM2 into a folder of the temporary home (`npm install` from npm's cache, else from the registry npm is set up with),
 * with its own PM2_HOME there. null (and why) when it cannot be installed.
 */
function installPm2(home) {
  const dir = path.join(home, 'pm2');
  fs.mkdirSync(dir, { recursive: true });
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  // From npm's cache when it is there (no network), else from the registry npm is set up with.
  const install = (mode) => spawnSync(npm, ['install', mode, '--prefix', dir, '--no-save', '--no-audit', '--no-fund', '--loglevel=error', `pm2@${PM2_VERSION}`], { encoding: 'utf8', timeout: 300_000 });
  let r = install('--offline');
  if (r.status !== 0) r = install('--prefer-offline');
  const bin = path.join(dir, 'node_modules', 'pm2', 'bin', 'pm2');
  if (r.status !== 0 || !fs.existsSync(bin)) return { bin: null, why: r.error ? r.error.message : String(r.stderr || `exit ${r.status}`).trim().split('\n').slice(-1)[0] };
  return { bin, pm2Home: path.join(home, 'pm2-home') };
}

/** Stops the PM2 daemon the runs started (pm2 kill; its pid file as a last resort). */
function stopPm2(pm2, env) {
  if (!pm2?.bin) return;
  spawnSync(NODE, [pm2.bin, 'kill'], { env: { ...env, PM2_HOME: pm2.pm2Home }, stdio: 'ignore', timeout: 30_000 });
  try {
    process.kill(Number(fs.readFileSync(path.join(pm2.pm2Home, 'pm2.pid'), 'utf8')), 'SIGKILL');
  } catch {
    /* gone */
  }
}

/** `dist/path/arms status`, `node -e 0` and (when installed) `pm2 jlist`, interleaved. */
function measureStatus(env, pm2, opts) {
  const commands = { arms: [BIN.arms, 'status'], node: [NODE, '-e', '0'] };
  const labels = { arms: '"dist/path/arms status"', node: '"node -e 0"', pm2: '"pm2 jlist"' };
  const envs = { arms: env, node: env, pm2: pm2?.bin ? { ...env, PM2_HOME: pm2.pm2Home } : null };
  if (pm2?.bin) commands.pm2 = [NODE, pm2.bin, 'jlist'];
  const keys = Object.keys(commands);
  // pm2's first call starts its daemon: warm-ups absorb it
  for (let i = 0; i < Math.max(opts.warmup, 2); i++) for (const k of keys) timeRun(commands[k], envs[k], labels[k]);
  const samples = Object.fromEntries(keys.map((k) => [k, []]));
  const t0 = Date.now();
  for (let i = 0; i < opts.runs; i++) {
    for (let j = 0; j < keys.length; j++) {
      const k = keys[(i + j) % keys.length];
      samples[k].push(timeRun(commands[k], envs[k], labels[k]));
    }
    if (Date.now() - t0 > 300_000) throw new Error('status runs took more than 5 minutes; the machine is too busy to measure');
  }
  return {
    armsStatus: summary(samples.arms),
    nodeE0: summary(samples.node),
    pm2Jlist: samples.pm2 ? summary(samples.pm2) : null,
    ratioToNodeMedian: r3(median(samples.arms) / median(samples.node)),
    ratioToPm2Median: samples.pm2 ? r3(median(samples.arms) / median(samples.pm2)) : null,
    pm2ToNodeMedian: samples.pm2 ? r3(median(samples.pm2) / median(samples.node)) : null,
    samplesMs: Object.fromEntries(keys.map((k) => [k, samples[k].map(r2)])),
  };
}

/** The last measured pm2 jlist / node -e 0 ratio (from a previous run's results), for when PM2 cannot be installed. */
function lastPm2Ratio(file, name) {
  try {
    const prev = JSON.parse(fs.readFileSync(file, 'utf8'));
    const x = prev.status?.[name];
    return x?.pm2ToNodeMedian ? { ratio: x.pm2ToNodeMedian, date: prev.date } : null;
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------------------------
// 2. throughput

/** The arguments ARMLOG "x" sends (src/commands/armlog.ts). */
function logArgs() {
  return { message: 'x', level: 'INFO', alert: false, pid: process.pid, ppid: process.ppid, source: 'ARMLOG' };
}

/** `total` requests spread over `conns` connections, at most `inflight` unanswered on each. */
async function blast(client, pipe, op, args, conns, total, inflight) {
  const connections = await within(10_000, `opening ${conns} connections`, Promise.all(Array.from({ length: conns }, () => client.connect(pipe, 5000))));
  try {
    const per = Math.ceil(total / conns);
    const t0 = process.hrtime.bigint();
    await within(
      120_000,
      `${total} ${op} requests over ${conns} connection(s)`,
      Promise.all(
        connections.map(
          (conn, ci) =>
            new Promise((resolve, reject) => {
              const quota = Math.min(per, total - ci * per);
              let sent = 0;
              let done = 0;
              let failed = false;
              const pump = () => {
                while (!failed && sent < quota && sent - done < inflight) {
                  sent++;
                  conn.request(op, args, 30_000).then(
                    () => {
                      done++;
                      if (done === quota) resolve();
                      else pump();
                    },
                    (e) => {
                      failed = true;
                      reject(e);
                    },
                  );
                }
              };
              if (quota <= 0) resolve();
              else pump();
            }),
        ),
      ),
    );
    const seconds = msSince(t0) / 1000;
    return { requests: total, seconds: Math.round(seconds * 1000) / 1000, perSecond: Math.round(total / seconds) };
  } finally {
    for (const c of connections) c.close();
  }
}

/**
 * Rounds of `blast` against armsd and against the echo server, alternating round by round so both
 * see the same machine load; the median round is the figure.
 */
async function throughput(client, pipes, conns, opts) {
  const out = {};
  for (const [name, pipe] of Object.entries(pipes)) {
    await blast(client, pipe, 'log', logArgs(), conns, Math.min(2000, opts.requests), opts.inflight); // warm-up (JIT, buffers)
    out[name] = { connections: conns, inflightPerConnection: opts.inflight, perSecond: 0, rounds: [] };
  }
  for (let i = 0; i < opts.rounds; i++) {
    for (const [name, pipe] of Object.entries(pipes)) out[name].rounds.push(await blast(client, pipe, 'log', logArgs(), conns, opts.requests, opts.inflight));
  }
  for (const o of Object.values(out)) o.perSecond = Math.round(median(o.rounds.map((r) => r.perSecond)));
  return out;
}

// The reference: a trivial NDJSON server that answers every line with ok/null, in a process of its
// own like armsd (so the benchmark's client does not share its CPU).
const ECHO_SERVER = `
const net = require('net');
const sock = process.argv[1];
const server = net.createServer((s) => {
  let rest = '';
  s.on('error', () => s.destroy());
  s.on('data', (d) => {
    const lines = (rest + d).split('\\n');
    rest = lines.pop();
    for (const line of lines) {
      if (!line) continue;
      const id = JSON.parse(line).id;
      s.write('{"v":1,"id":' + JSON.stringify(id) + ',"ok":true,"result":null}\\n');
    }
  });
});
server.listen(sock, () => process.stdout.write('listening\\n'));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
`;

/** A node process that only listens: the floor for what any node service costs. */
const BARE_SERVER = `require('net').createServer().listen(process.argv[1])`;

async function startListener(client, label, script, sock, env) {
  const child = startChild(['-e', script, sock], env, label);
  const deadline = Date.now() + 10_000;
  const net = require('node:net');
  for (;;) {
    if (!child.alive) throw new Error(`${label} exited:\n${child.output()}`);
    const up = await new Promise((resolve) => {
      const s = net.connect(sock);
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (up) return child;
    if (Date.now() > deadline) throw new Error(`${label} did not listen on ${sock} within 10 s:\n${child.output()}`);
    await sleep(20);
  }
}

// ---------------------------------------------------------------------------------------------
// 3. memory

/**
 * RSS, PSS and USS (private pages) in MiB, from /proc/PID/smaps_rollup (Linux); null where the
 * kernel does not tell. PSS divides each shared page among the processes that map it (every node
 * process shares the node binary's pages), so compare PSS only within one run; USS is what the
 * process alone costs.
 */
function memoryOf(pid) {
  const out = { rssMiB: null, pssMiB: null, ussMiB: null };
  const mib = (kb) => (kb === null ? null : Math.round((kb / 1024) * 10) / 10);
  try {
    const text = fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    const kb = (name) => {
      const m = new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text);
      return m ? Number(m[1]) : null;
    };
    out.rssMiB = mib(kb('Rss'));
    out.pssMiB = mib(kb('Pss'));
    const priv = [kb('Private_Clean'), kb('Private_Dirty')];
    if (priv.every((x) => x !== null)) out.ussMiB = mib(priv[0] + priv[1]);
  } catch {
    try {
      const m = /^VmRSS:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
      if (m) out.rssMiB = mib(Number(m[1]));
    } catch {
      /* not Linux */
    }
  }
  return out;
}

/** Idle processes are measured this long after they started / after their last request. */
const SETTLE_MS = 2000;
/** How long to wait for V8 to give back the heap a busy service grew (--shrink-wait SECONDS; 0: do not wait). Its memory reducer ran 20-50 s after a load in some trials here and not within 90 s in others. */
let SHRINK_WAIT_MS = 30_000;

async function settledMemory(pid) {
  await sleep(SETTLE_MS);
  return memoryOf(pid);
}

/**
 * After the throughput runs: the figure 2 s after the last request, then the figure once the heap
 * has shrunk (private memory down by a third from that first figure, then steady for 1 s), or after
 * SHRINK_WAIT_MS if it never does.
 */
async function memoryAfterLoad(pid) {
  const t0 = Date.now();
  await sleep(SETTLE_MS);
  const first = memoryOf(pid);
  let last = first;
  let shrunk = false;
  while (Date.now() - t0 < SHRINK_WAIT_MS) {
    await sleep(1000);
    const now = memoryOf(pid);
    if (first.ussMiB === null) break;
    if (shrunk && Math.abs(now.ussMiB - last.ussMiB) < 1) {
      last = now;
      break;
    }
    if (now.ussMiB < first.ussMiB * (2 / 3)) shrunk = true;
    last = now;
  }
  return { after2s: first, settled: { ...last, shrunk, afterSeconds: Math.round((Date.now() - t0) / 1000) } };
}

// ---------------------------------------------------------------------------------------------

function machine() {
  const cpus = os.cpus();
  return {
    cpuModel: cpus[0] ? cpus[0].model.trim() : 'unknown',
    cpus: cpus.length,
    totalMemGiB: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    loadAvgAtStart: os.loadavg().map((x) => Math.round(x * 100) / 100),
    nodeExtraCaCerts: process.env.NODE_EXTRA_CA_CERTS ?? null,
  };
}

/**
 * Lines ARMLOG-style requests left in the cluster log, rotated files included; `complete` is false
 * when rotation may already have dropped some (the oldest kept file exists).
 */
function countLoggedByArmlog(home) {
  const dir = path.join(home, 'log');
  let count = 0;
  let names = [];
  try {
    names = fs.readdirSync(dir).filter((f) => /^cluster\.log(\.\d+)?$/.test(f));
  } catch {
    return { count: 0, complete: true };
  }
  for (const f of names) {
    const text = fs.readFileSync(path.join(dir, f), 'utf8');
    for (let i = text.indexOf('"src":"ARMLOG"'); i !== -1; i = text.indexOf('"src":"ARMLOG"', i + 1)) count++;
  }
  return { count, complete: !names.includes('cluster.log.5') };
}

const fmt = (x, w = 8) => String(x).padStart(w);

async function main() {
  const opts = parseOptions(process.argv.slice(2));
  SHRINK_WAIT_MS = opts.shrinkWait * 1000;
  checkDist();
  const client = require(DIST.client);
  const started = new Date();
  const result = {
    benchmark: 'cli-latency',
    date: started.toISOString(),
    machine: machine(),
    options: { runs: opts.runs, warmup: opts.warmup, requests: opts.requests, rounds: opts.rounds, inflight: opts.inflight, shrinkWaitSeconds: opts.shrinkWait },
    targets: TARGETS,
  };
  if (opts.runs < 30) process.stderr.write(`cli-latency: note: --runs ${opts.runs} is below the 30 runs the acceptance figure needs\n`);

  const tempHome = procs.makeHome();
  const env = childEnv(tempHome);
  const envNoCerts = childEnv(tempHome, { withoutCerts: true });
  const say = (s) => process.stdout.write(s + '\n');
  const m = result.machine;
  say(`ARMS benchmark: cli-latency  (${m.cpuModel}, ${m.cpus} CPUs, ${m.totalMemGiB} GiB, ${m.os}, node ${m.node}, load ${m.loadAvgAtStart.join(' ')})`);
  say(`temporary home ${tempHome}; NODE_EXTRA_CA_CERTS=${m.nodeExtraCaCerts ?? '(not set)'}`);

  let svc = await startService(client, tempHome, env);
  say(`armsd pid ${svc.proc.pid} answered ping ${svc.startMs.toFixed(0)} ms after spawn`);

  // 1. latency
  const before = countLoggedByArmlog(tempHome);
  say(`\n1. end-to-end latency: ${opts.runs} runs each after ${opts.warmup} warm-ups, armlog, node -e 0 and a minimal client interleaved`);
  result.latency = {};
  for (const [name, e] of [['env', env], ['noExtraCaCerts', envNoCerts]]) {
    const t = measureLatency(e, svc.pipe, opts);
    result.latency[name] = t;
    const title = name === 'env' ? 'environment as is' : 'env -u NODE_EXTRA_CA_CERTS';
    say(`   ${title}:`);
    say(`     ${'ms'.padEnd(16)}${fmt('median')}${fmt('p95')}${fmt('mean')}${fmt('min')}${fmt('max')}`);
    for (const [k, s] of [['armlog x', t.armlog], ['node -e 0', t.nodeE0], ['minimal client', t.minimalClient]]) {
      say(`     ${k.padEnd(16)}${fmt(s.median.toFixed(1))}${fmt(s.p95.toFixed(1))}${fmt(s.mean.toFixed(1))}${fmt(s.min.toFixed(1))}${fmt(s.max.toFixed(1))}`);
    }
    say(`     ratio median ${t.ratioMedian.toFixed(2)}  (p95 ${t.ratioP95.toFixed(2)}), armlog takes ${Math.abs(t.overheadMedianMs).toFixed(1)} ms ${t.overheadMedianMs >= 0 ? 'more' : 'less'} than node -e 0; minimal client ratio ${t.minimalClientRatioMedian.toFixed(2)}`);
  }
  const logged = countLoggedByArmlog(tempHome).count - before.count;
  const expected = 2 * (opts.runs + opts.warmup);
  if (logged !== expected) throw new Error(`armlog runs exited 0 but ${logged} of ${expected} lines are in the cluster log`);
  result.latency.linesLogged = logged;
  result.latency.roundTripInProcess = await measureRoundTrip(client, svc.pipe);
  const rt = result.latency.roundTripInProcess;
  say(`   IPC alone (in-process connect + log + close, ${rt.n} times): median ${rt.median.toFixed(2)} ms, p95 ${rt.p95.toFixed(2)} ms`);
  const lat = result.latency.env;
  const latNo = result.latency.noExtraCaCerts;
  result.latency.target = {
    ratioMedian: TARGETS.latencyMedianRatio,
    measured: { env: lat.ratioMedian, noExtraCaCerts: latNo.ratioMedian },
    met: lat.ratioMedian <= TARGETS.latencyMedianRatio && latNo.ratioMedian <= TARGETS.latencyMedianRatio,
  };

  // 1b. arms status against pm2 jlist
  say(`\n1b. "arms status" against "pm2 jlist" (PM2 ${PM2_VERSION}, installed with npm into the temporary home, its own PM2_HOME, no processes) and node -e 0, interleaved`);
  const pm2 = installPm2(tempHome);
  if (pm2.bin) pm2Running = pm2;
  if (!pm2.bin) say(`   PM2 could not be installed (${pm2.why}): the last measured pm2 jlist / node -e 0 ratio is used instead`);
  result.status = { pm2Installed: !!pm2.bin, pm2Version: PM2_VERSION };
  try {
    for (const [name, e] of [['env', env], ['noExtraCaCerts', envNoCerts]]) {
      const t = measureStatus(e, pm2, opts);
      if (!pm2.bin) {
        const last = lastPm2Ratio(opts.json, name);
        if (last) {
          t.pm2ToNodeMedian = last.ratio;
          t.ratioToPm2Median = r3(t.armsStatus.median / (t.nodeE0.median * last.ratio));
          t.pm2From = `last measured ratio (${last.date})`;
        }
      }
      result.status[name] = t;
      const title = name === 'env' ? 'environment as is' : 'env -u NODE_EXTRA_CA_CERTS';
      say(`   ${title}:`);
      say(`     ${'ms'.padEnd(16)}${fmt('median')}${fmt('p95')}${fmt('mean')}${fmt('min')}${fmt('max')}`);
      for (const [k, x] of [['arms status', t.armsStatus], ['node -e 0', t.nodeE0], ['pm2 jlist', t.pm2Jlist]]) {
        if (x) say(`     ${k.padEnd(16)}${fmt(x.median.toFixed(1))}${fmt(x.p95.toFixed(1))}${fmt(x.mean.toFixed(1))}${fmt(x.min.toFixed(1))}${fmt(x.max.toFixed(1))}`);
      }
      say(`     arms status / node -e 0 ${t.ratioToNodeMedian.toFixed(2)}; arms status / pm2 jlist ${t.ratioToPm2Median === null ? '-' : t.ratioToPm2Median.toFixed(2)}${t.pm2From ? ` (pm2 from the ${t.pm2From})` : ''}`);
    }
  } finally {
    stopPm2(pm2, env);
    pm2Running = null;
  }
  const st = result.status;
  result.status.target = {
    ratioToPm2Median: TARGETS.statusToPm2Ratio,
    measured: { env: st.env.ratioToPm2Median, noExtraCaCerts: st.noExtraCaCerts.ratioToPm2Median },
    met: [st.env.ratioToPm2Median, st.noExtraCaCerts.ratioToPm2Median].every((x) => x !== null && x <= TARGETS.statusToPm2Ratio),
  };

  // 2. throughput
  say(`\n2. throughput: ${opts.requests} ARMLOG requests per round, median of ${opts.rounds} rounds (armsd and echo server alternating), up to ${opts.inflight} in flight per connection`);
  const echoSock = path.join(tempHome, 'echo.sock');
  const echo = await startListener(client, 'echo server', ECHO_SERVER, echoSock, env);
  result.throughput = { armsd: {}, echo: {}, ratio: {} };
  for (const conns of [1, 16]) {
    const { armsd: a, echo: b } = await throughput(client, { armsd: svc.pipe, echo: echoSock }, conns, opts);
    result.throughput.armsd[conns] = a;
    result.throughput.echo[conns] = b;
    result.throughput.ratio[conns] = Math.round((a.perSecond / b.perSecond) * 1000) / 1000;
    say(`   ${String(conns).padStart(2)} connection${conns > 1 ? 's' : ' '}: armsd ${fmt(a.perSecond, 7)} req/s   echo server ${fmt(b.perSecond, 7)} req/s   armsd/echo ${result.throughput.ratio[conns].toFixed(2)}`);
  }
  await stopChild(echo);
  // Every answer said "in the file": check that the lines are there.
  const sentTotal = 2 * (Math.min(2000, opts.requests) + opts.rounds * opts.requests);
  const afterThroughput = countLoggedByArmlog(tempHome);
  const loggedThroughput = afterThroughput.count - before.count - logged - (rt.n + ROUND_TRIP_WARMUP);
  if (afterThroughput.complete && loggedThroughput !== sentTotal) {
    throw new Error(`armsd answered ${sentTotal} log requests but ${loggedThroughput} of their lines are in the cluster log`);
  }
  result.throughput.linesLogged = afterThroughput.complete ? loggedThroughput : null;
  const tput = result.throughput;
  result.throughput.target = {
    perSecond: TARGETS.throughputTotal,
    measured: { 1: tput.armsd[1].perSecond, 16: tput.armsd[16].perSecond },
    met: tput.armsd[1].perSecond >= TARGETS.throughputTotal && tput.armsd[16].perSecond >= TARGETS.throughputTotal,
  };

  // 3. memory
  say(`\n3. memory (MiB; idle processes ${SETTLE_MS / 1000} s after start; USS = the process's private pages)`);
  result.memory = { afterThroughput: await memoryAfterLoad(svc.proc.pid) };
  await stopService(client, svc);
  for (const [name, e] of [['env', env], ['noExtraCaCerts', envNoCerts]]) {
    svc = await startService(client, tempHome, e, 'armsd (fresh)');
    const fresh = await settledMemory(svc.proc.pid);
    await stopService(client, svc);
    const bareSock = path.join(tempHome, 'bare.sock');
    const bare = await startListener(client, 'bare node server', BARE_SERVER, bareSock, e);
    const bareMem = await settledMemory(bare.proc.pid);
    await stopChild(bare);
    fs.rmSync(bareSock, { force: true });
    result.memory[name === 'env' ? 'freshIdle' : 'freshIdleNoExtraCaCerts'] = fresh;
    result.memory[name === 'env' ? 'bareNode' : 'bareNodeNoExtraCaCerts'] = bareMem;
  }
  const mem = result.memory;
  const row = (k, x) => say(`   ${k.padEnd(52)} RSS ${fmt(x.rssMiB ?? '-', 6)}   PSS ${fmt(x.pssMiB ?? '-', 6)}   USS ${fmt(x.ussMiB ?? '-', 6)}`);
  const settled = mem.afterThroughput.settled;
  row('armsd 2 s after the throughput runs', mem.afterThroughput.after2s);
  if (SHRINK_WAIT_MS > 0) row(`armsd ${settled.afterSeconds} s after them${settled.shrunk ? ' (heap given back)' : ' (heap not yet given back)'}`, settled);
  row('armsd freshly started, idle', mem.freshIdle);
  row('bare node net server', mem.bareNode);
  row('armsd freshly started (env -u NODE_EXTRA_CA_CERTS)', mem.freshIdleNoExtraCaCerts);
  row('bare node net server (env -u NODE_EXTRA_CA_CERTS)', mem.bareNodeNoExtraCaCerts);

  // summary
  const verdict = (ok) => (ok ? 'met' : 'NOT MET');
  say('\nsummary');
  say(`   armlog latency median ${lat.armlog.median.toFixed(1)} ms / p95 ${lat.armlog.p95.toFixed(1)} ms; node -e 0 median ${lat.nodeE0.median.toFixed(1)} ms`);
  say(`   median ratio ${lat.ratioMedian.toFixed(2)}, without NODE_EXTRA_CA_CERTS ${latNo.ratioMedian.toFixed(2)} (armlog ${latNo.armlog.median.toFixed(1)} ms) (target <= ${TARGETS.latencyMedianRatio} in both): ${verdict(result.latency.target.met)}`);
  say(`   arms status / pm2 jlist ${st.env.ratioToPm2Median ?? '-'}, without NODE_EXTRA_CA_CERTS ${st.noExtraCaCerts.ratioToPm2Median ?? '-'}${st.pm2Installed ? '' : ' (pm2: last measured figure)'} (target <= ${TARGETS.statusToPm2Ratio}): ${verdict(st.target.met)}` +
      `; arms status / node -e 0 ${st.env.ratioToNodeMedian} and ${st.noExtraCaCerts.ratioToNodeMedian}`);
  say(`   throughput ${tput.armsd[1].perSecond} req/s (1 conn), ${tput.armsd[16].perSecond} req/s (16 conns) (target >= ${TARGETS.throughputTotal}): ${verdict(tput.target.met)}`);
  say(`   armsd idle: PSS ${mem.freshIdle.pssMiB} MiB, USS ${mem.freshIdle.ussMiB} MiB (bare node: ${mem.bareNode.pssMiB} / ${mem.bareNode.ussMiB} MiB); after the throughput runs PSS ${mem.afterThroughput.after2s.pssMiB} MiB` +
      (SHRINK_WAIT_MS > 0 ? `, ${settled.pssMiB} MiB ${settled.afterSeconds} s later` : ''));

  result.durationSeconds = Math.round((Date.now() - started.getTime()) / 100) / 10;
  fs.mkdirSync(path.dirname(opts.json), { recursive: true });
  fs.writeFileSync(opts.json + '.tmp', JSON.stringify(result, null, 2) + '\n');
  fs.renameSync(opts.json + '.tmp', opts.json);
  const shown = path.relative(process.cwd(), opts.json);
  say(`\nwritten ${shown.startsWith('..') || path.isAbsolute(shown) ? opts.json : shown} (${result.durationSeconds} s)`);
  return opts.check && !(result.latency.target.met && st.target.met && tput.target.met) ? 2 : 0;
}

main().then(
  async (code) => {
    for (const c of [...children]) await stopChild(c);
    cleanupSync();
    process.exitCode = code;
  },
  async (e) => {
    process.stderr.write(`cli-latency: failed: ${e && e.stack ? e.stack : e}\n`);
    for (const c of children) if (c.label.startsWith('armsd')) process.stderr.write(`--- output of ${c.label} (pid ${c.proc.pid}):\n${c.output()}`);
    for (const c of exitedServices) process.stderr.write(`--- ${c.label} (pid ${c.proc.pid}) has exited; its output:\n${c.output()}`);
    for (const c of [...children]) await stopChild(c).catch(() => {});
    cleanupSync();
    process.exitCode = 1;
  },
);
