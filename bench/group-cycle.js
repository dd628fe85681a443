#!/usr/bin/env node
// Benchmark: what the service adds to a group's start and stop, beyond the scripts themselves.
// Needs a built dist/ (`npm run build`); builds nothing itself.
//
//   node bench/group-cycle.js [--cycles N] [--warmup N] [--json FILE] [--check] [--cpu-prof DIR]
//   defaults: 40 start/stop cycles after 5 warm-up cycles, for each of the two ways below (the
//   acceptance figure needs >= 30). --check: exit 2 when a target is missed. --cpu-prof DIR:
//   armsd runs with node's --cpu-prof (the profile is written into DIR when it stops).
//
// A real armsd in a temporary ARMS_HOME with one group G whose start.sh and stop.sh are `exit 0`.
// Reference, in every cycle: the same two scripts run directly from this process (spawn /bin/sh
// script, as the service spawns it: own process group, stdout/stderr piped, until exit and both
// pipes closed): the scripts' own run time on this machine at that moment.
// (b) in-process: `call(pipe, 'group.start', {name, wait: true}, 0)` with dist/client/client.js,
//     timed until the answer (online); the same for group.stop (offline). Minus the direct run of
//     the same script in the same cycle: the service's own overhead per transition (headline).
// (a) end to end: `node bin/arms.js group start G` / `group stop G`, start to exit, interleaved
//     with `node bin/arms.js service status` and `node -e 0`: the same minus the direct script run
//     and minus either reference (node's start-up, and `arms` loading and making one request).
// It also reads the service's own timing of each script from the cluster log ("... in N ms").
// Prints a summary and writes bench/results/group-cycle.json. Talks only to the Unix socket in its
// temporary home, which it removes at the end, together with every process it started.
'use strict';

const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { median, msSince, r2, summary, tracked, usageOf, within } = require('./lib');

const ROOT = path.resolve(__dirname, '..');
const RESULTS = path.join(__dirname, 'results', 'group-cycle.json');
const NODE = process.execPath;
const NAME = 'group-cycle';

const TARGETS = {
  overheadMs: 30, // service overhead per transition (start or stop), in-process, median
};

// ---------------------------------------------------------------------------------------------
// options

function parseOptions(argv) {
  const o = { cycles: 40, warmup: 5, check: false, json: RESULTS, cpuProf: null };
  const ints = { '--cycles': 'cycles', '--warmup': 'warmup' };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '-h' || a === '--help') {
      process.stdout.write(usage());
      process.exit(0);
    } else if (a === '--check') o.check = true;
    else if (a === '--json') o.json = path.resolve(argv[++i] ?? '');
    else if (a === '--cpu-prof') o.cpuProf = path.resolve(argv[++i] ?? '');
    else if (ints[a]) {
      const n = Number(argv[++i]);
      if (!Number.isInteger(n) || n < (a === '--warmup' ? 0 : 1) || n > 1000) fail(`${a} needs a whole number from ${a === '--warmup' ? 0 : 1} to 1000 (got "${argv[i]}")`);
      o[ints[a]] = n;
    } else fail(`unknown argument "${a}" (try --help)`);
  }
  return o;
}

const usage = () => usageOf(__filename);

function fail(msg) {
  process.stderr.write(`${NAME}: ${msg}\n`);
  process.exit(1);
}

// ---------------------------------------------------------------------------------------------
// dist/ must be there: this benchmark measures the built commands

const DIST = {
  client: path.join(ROOT, 'dist', 'client', 'client.js'),
  home: path.join(ROOT, 'dist', 'platform', 'home.js'),
  arms: path.join(ROOT, 'dist', 'commands', 'arms', 'main.js'),
  service: path.join(ROOT, 'dist', 'service', 'main.js'),
};
const BIN = { arms: path.join(ROOT, 'bin', 'arms.js'), armsd: path.join(ROOT, 'bin', 'armsd.js') };

/** node flags for armsd: --cpu-prof DIR profiles it (the profile is written when it stops) */
let armsdFlags = [];

function checkDist() {
  const missing = [...Object.values(DIST), ...Object.values(BIN)].filter((f) => !fs.existsSync(f));
  if (missing.length > 0) {
    fail(
      `the built commands are missing (${missing.map((f) => path.relative(ROOT, f)).join(', ')}).\n` +
        `  Build first: "npm run build" (or run "npm run bench", which builds and then runs every benchmark).`,
    );
  }
}

/** element-wise a - b - c ... of equally long sample lists (the samples of one cycle belong together) */
function minus(a, ...bs) {
  return a.map((x, i) => bs.reduce((acc, b) => acc - b[i], x));
}

// ---------------------------------------------------------------------------------------------
// processes this benchmark starts: all are stopped at the end, whatever happens (bench/lib.js)

const procs = tracked(NAME);
const { children } = procs;
const startChild = procs.start;
const stopChild = procs.stop;
const cleanupSync = procs.cleanupSync;
const { exitedServices } = procs;

// ---------------------------------------------------------------------------------------------
// the service and its group

function childEnv(home) {
  const env = { ...process.env, ARMS_HOME: home };
  delete env.ARMS_PIPE;
  delete env.ARMS_GROUPNAME;
  return env;
}

/** The group G: two scripts that do nothing. No system log (alerts would go to the machine's syslog). */
function writeHome(home) {
  const dir = path.join(home, 'groups', 'G');
  fs.mkdirSync(dir, { recursive: true });
  for (const s of ['start.sh', 'stop.sh']) fs.writeFileSync(path.join(dir, s), 'exit 0\n', { mode: 0o755 });
  fs.writeFileSync(path.join(home, 'arms.yaml'), ['server: BENCH', 'syslog: false', 'groups:', '  G:', '    start: start.sh', '    stop: stop.sh', ''].join('\n'));
  return { dir, start: path.join(dir, 'start.sh'), stop: path.join(dir, 'stop.sh') };
}

const startService = (client, home, env, label) => procs.startService(client, env, label, armsdFlags);

async function stopService(client, svc) {
  svc.stopping = true;
  if (!svc.alive) return;
  try {
    await client.call(svc.pipe, 'stop', { pid: process.pid }, 3000);
    await within(10_000, `${svc.label} stop`, svc.exited);
  } catch {
    await stopChild(svc);
  }
}

// ---------------------------------------------------------------------------------------------
// the measurements

/**
 * The reference: the script run directly from this process, the way the service runs it
 * (src/service/scripts.ts: /bin/sh script, a process group of its own, stdout and stderr piped,
 * done at exit once both pipes have closed), timed from spawn() to that point.
 */
function runDirect(script, env) {
  return within(
    10_000,
    `sh ${path.basename(script)}`,
    new Promise((resolve, reject) => {
      const t0 = process.hrtime.bigint();
      const child = spawn('/bin/sh', [script], { cwd: path.dirname(script), env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
      let end = null;
      let open = 2;
      const done = () => {
        if (end === null || open > 0) return;
        const ms = msSince(t0);
        if (end.code === 0) resolve(ms);
        else reject(new Error(`sh ${script} ended with ${end.signal ?? `exit code ${end.code}`}`));
      };
      for (const s of [child.stdout, child.stderr]) {
        s.resume();
        s.once('close', () => {
          open--;
          done();
        });
      }
      child.once('error', reject);
      child.once('exit', (code, signal) => {
        end = { code, signal };
        done();
      });
    }),
  );
}

/** One in-process request, timed to its answer. */
async function timedCall(client, pipe, op, args) {
  const t0 = process.hrtime.bigint();
  const result = await within(30_000, op, client.call(pipe, op, args, 0));
  return { ms: msSince(t0), result };
}

/** One command, start to exit, timed here; a failed run stops the benchmark. */
function timeRun(args, env, label, expectOut) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(NODE, args, { env, cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000, killSignal: 'SIGKILL' });
  const ms = msSince(t0);
  if (r.error || r.status !== 0) {
    const why = r.error ? r.error.message : r.signal ? `signal ${r.signal}` : `exit ${r.status}`;
    throw new Error(`${label} failed (${why}): ${String(r.stderr ?? '').trim()}`);
  }
  if (expectOut && !expectOut.test(String(r.stdout))) throw new Error(`${label} said "${String(r.stdout).trim()}", expected ${expectOut}`);
  return ms;
}

/** (b): group.start / group.stop through the client library, each beside a direct run of its script. */
async function measureInProcess(client, pipe, scripts, env, opts) {
  const s = { directStart: [], groupStart: [], directStop: [], groupStop: [], ping: [] };
  const t0 = Date.now();
  for (let i = 0; i < opts.warmup + opts.cycles; i++) {
    const keep = i >= opts.warmup;
    const dStart = await runDirect(scripts.start, env);
    const start = await timedCall(client, pipe, 'group.start', { name: 'G', wait: true });
    if (start.result.state !== 'online') throw new Error(`group.start answered ${JSON.stringify(start.result)}, expected state online`);
    const ping = await timedCall(client, pipe, 'ping', {});
    const dStop = await runDirect(scripts.stop, env);
    const stop = await timedCall(client, pipe, 'group.stop', { name: 'G', wait: true });
    if (stop.result.state !== 'offline') throw new Error(`group.stop answered ${JSON.stringify(stop.result)}, expected state offline`);
    if (keep) {
      s.directStart.push(dStart);
      s.groupStart.push(start.ms);
      s.ping.push(ping.ms);
      s.directStop.push(dStop);
      s.groupStop.push(stop.ms);
    }
    if (Date.now() - t0 > 300_000) throw new Error('the in-process cycles took more than 5 minutes; the machine is too busy to measure');
  }
  const overheadStart = minus(s.groupStart, s.directStart);
  const overheadStop = minus(s.groupStop, s.directStop);
  return {
    groupStart: summary(s.groupStart),
    groupStop: summary(s.groupStop),
    directStart: summary(s.directStart),
    directStop: summary(s.directStop),
    ping: summary(s.ping),
    overheadStart: summary(overheadStart),
    overheadStop: summary(overheadStop),
    overheadPerTransition: summary([...overheadStart, ...overheadStop]),
    samplesMs: roundAll(s),
  };
}

/** (a): `arms group start G` / `arms group stop G` as commands, beside their references. */
async function measureEndToEnd(env, scriptsDirect, opts) {
  const arms = (...a) => [BIN.arms, ...a];
  const s = { directStart: [], armsStart: [], armsStatus: [], directStop: [], armsStop: [], nodeE0: [] };
  const t0 = Date.now();
  for (let i = 0; i < opts.warmup + opts.cycles; i++) {
    const keep = i >= opts.warmup;
    const dStart = await scriptsDirect('start');
    const start = timeRun(arms('group', 'start', 'G'), env, '"arms group start G"', /online/);
    const status = timeRun(arms('service', 'status'), env, '"arms service status"');
    const dStop = await scriptsDirect('stop');
    const stop = timeRun(arms('group', 'stop', 'G'), env, '"arms group stop G"', /offline/);
    const e0 = timeRun(['-e', '0'], env, '"node -e 0"');
    if (keep) {
      s.directStart.push(dStart);
      s.armsStart.push(start);
      s.armsStatus.push(status);
      s.directStop.push(dStop);
      s.armsStop.push(stop);
      s.nodeE0.push(e0);
    }
    if (Date.now() - t0 > 300_000) throw new Error('the end-to-end cycles took more than 5 minutes; the machine is too busy to measure');
  }
  const overStatusStart = minus(s.armsStart, s.armsStatus, s.directStart);
  const overStatusStop = minus(s.armsStop, s.armsStatus, s.directStop);
  const overNodeStart = minus(s.armsStart, s.nodeE0, s.directStart);
  const overNodeStop = minus(s.armsStop, s.nodeE0, s.directStop);
  return {
    armsStart: summary(s.armsStart),
    armsStop: summary(s.armsStop),
    armsStatus: summary(s.armsStatus),
    nodeE0: summary(s.nodeE0),
    directStart: summary(s.directStart),
    directStop: summary(s.directStop),
    // minus `arms service status` (node start-up, arms loading, connect, one request) and the script
    overheadVsStatusStart: summary(overStatusStart),
    overheadVsStatusStop: summary(overStatusStop),
    overheadVsStatusPerTransition: summary([...overStatusStart, ...overStatusStop]),
    // minus `node -e 0` (node start-up alone) and the script: includes arms loading and the request
    overheadVsNodeStart: summary(overNodeStart),
    overheadVsNodeStop: summary(overNodeStop),
    overheadVsNodePerTransition: summary([...overNodeStart, ...overNodeStop]),
    // the same from the medians (steadier than the paired differences when the machine is busy)
    overheadFromMedians: {
      startVsStatus: r2(median(s.armsStart) - median(s.armsStatus) - median(s.directStart)),
      stopVsStatus: r2(median(s.armsStop) - median(s.armsStatus) - median(s.directStop)),
      startVsNode: r2(median(s.armsStart) - median(s.nodeE0) - median(s.directStart)),
      stopVsNode: r2(median(s.armsStop) - median(s.nodeE0) - median(s.directStop)),
    },
    samplesMs: roundAll(s),
  };
}

function roundAll(s) {
  return Object.fromEntries(Object.entries(s).map(([k, v]) => [k, v.map(r2)]));
}

/**
 * The service's own timing of each script run, from its cluster log lines
 * ("start script start.sh (START) exited with code 0 in N ms", src/service/groups.ts), and the
 * number of "group G online" / "group G offline" lines (each transition must have left one).
 */
function serviceView(home) {
  const text = fs.readFileSync(path.join(home, 'log', 'cluster.log'), 'utf8');
  const out = { start: [], stop: [], online: 0, offline: 0 };
  for (const line of text.split('\n')) {
    if (!line) continue;
    let r;
    try {
      r = JSON.parse(line);
    } catch {
      continue;
    }
    if (r.src !== 'armsd' || r.group !== 'G') continue;
    const m = /^(start|stop) script \S+ \(.*\) exited with code 0 in (\d+) ms$/.exec(r.msg ?? '');
    if (m) out[m[1]].push(Number(m[2]));
    else if (r.msg === 'group G online') out.online++;
    else if (r.msg === 'group G offline') out.offline++;
  }
  return out;
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

const fmt = (x, w = 8) => String(x).padStart(w);

async function main() {
  const opts = parseOptions(process.argv.slice(2));
  checkDist();
  if (opts.cpuProf) armsdFlags = ['--cpu-prof', '--cpu-prof-dir', opts.cpuProf];
  const client = require(DIST.client);
  const started = new Date();
  const result = {
    benchmark: NAME,
    date: started.toISOString(),
    machine: machine(),
    options: { cycles: opts.cycles, warmup: opts.warmup },
    targets: TARGETS,
  };
  if (opts.cycles < 30) process.stderr.write(`${NAME}: note: --cycles ${opts.cycles} is below the 30 cycles the acceptance figure needs\n`);

  const tempHome = procs.makeHome();
  const scripts = writeHome(tempHome);
  const env = childEnv(tempHome);
  const say = (s) => process.stdout.write(s + '\n');
  const m = result.machine;
  say(`ARMS benchmark: ${NAME}  (${m.cpuModel}, ${m.cpus} CPUs, ${m.totalMemGiB} GiB, ${m.os}, node ${m.node}, load ${m.loadAvgAtStart.join(' ')})`);
  say(`temporary home ${tempHome}; group G: start.sh and stop.sh are "exit 0"`);

  const svc = await startService(client, tempHome, env);
  say(`armsd pid ${svc.proc.pid} answered ping ${svc.startMs.toFixed(0)} ms after spawn`);
  const row = (k, x) => say(`     ${k.padEnd(46)}${fmt(x.median.toFixed(2))}${fmt(x.p95.toFixed(2))}${fmt(x.mean.toFixed(2))}${fmt(x.min.toFixed(2))}${fmt(x.max.toFixed(2))}`);
  const head = () => say(`     ${'ms'.padEnd(46)}${fmt('median')}${fmt('p95')}${fmt('mean')}${fmt('min')}${fmt('max')}`);

  // (b) in-process: the headline
  say(`\n(b) in-process: ${opts.cycles} cycles after ${opts.warmup} warm-ups; each: sh start.sh, group.start (wait), ping, sh stop.sh, group.stop (wait)`);
  const b = await measureInProcess(client, svc.pipe, scripts, env, opts);
  result.inProcess = b;
  head();
  row('group.start -> online', b.groupStart);
  row('sh start.sh directly', b.directStart);
  row('group.stop -> offline', b.groupStop);
  row('sh stop.sh directly', b.directStop);
  row('ping (IPC round trip)', b.ping);
  row('overhead: start (group.start - sh start.sh)', b.overheadStart);
  row('overhead: stop (group.stop - sh stop.sh)', b.overheadStop);
  row('overhead per transition (both)', b.overheadPerTransition);

  // (a) end to end through the arms command
  say(`\n(a) end to end: ${opts.cycles} cycles after ${opts.warmup} warm-ups; each: sh start.sh, arms group start G, arms service status, sh stop.sh, arms group stop G, node -e 0`);
  const a = await measureEndToEnd(env, (which) => runDirect(scripts[which], env), opts);
  result.endToEnd = a;
  head();
  row('arms group start G', a.armsStart);
  row('arms group stop G', a.armsStop);
  row('arms service status', a.armsStatus);
  row('node -e 0', a.nodeE0);
  row('sh start.sh directly', a.directStart);
  row('sh stop.sh directly', a.directStop);
  row('start - service status - script', a.overheadVsStatusStart);
  row('stop - service status - script', a.overheadVsStatusStop);
  row('per transition - service status - script', a.overheadVsStatusPerTransition);
  row('per transition - node -e 0 - script', a.overheadVsNodePerTransition);
  const om = a.overheadFromMedians;
  say(`     from the medians: start ${om.startVsStatus.toFixed(2)} ms, stop ${om.stopVsStatus.toFixed(2)} ms beyond arms service status and the script; ` +
      `${om.startVsNode.toFixed(1)} / ${om.stopVsNode.toFixed(1)} ms beyond node -e 0 and the script`);

  // What the service says: its own timing of each script, and one online/offline line per transition.
  const view = serviceView(tempHome);
  const transitions = 2 * (opts.warmup + opts.cycles);
  if (view.online !== transitions || view.offline !== transitions) {
    throw new Error(`expected ${transitions} "group G online" and as many "offline" lines in the cluster log, found ${view.online} and ${view.offline}`);
  }
  result.serviceView = { startScriptMs: summary(view.start), stopScriptMs: summary(view.stop), onlineLines: view.online, offlineLines: view.offline };
  say(`\n   the service's own timing of the scripts (cluster log, whole ms; spawn to exit and pipes closed):`);
  say(`     start.sh median ${result.serviceView.startScriptMs.median} ms (p95 ${result.serviceView.startScriptMs.p95}), stop.sh median ${result.serviceView.stopScriptMs.median} ms (p95 ${result.serviceView.stopScriptMs.p95})`);

  await stopService(client, svc);

  const met = b.overheadStart.median < TARGETS.overheadMs && b.overheadStop.median < TARGETS.overheadMs;
  result.target = {
    overheadMs: TARGETS.overheadMs,
    measured: { startMedian: b.overheadStart.median, stopMedian: b.overheadStop.median, startP95: b.overheadStart.p95, stopP95: b.overheadStop.p95 },
    met,
    p95AlsoUnder: b.overheadStart.p95 < TARGETS.overheadMs && b.overheadStop.p95 < TARGETS.overheadMs,
  };
  const verdict = (ok) => (ok ? 'met' : 'NOT MET');
  say('\nsummary');
  say(`   service overhead per transition (in-process, minus the script run directly): start median ${b.overheadStart.median.toFixed(2)} ms / p95 ${b.overheadStart.p95.toFixed(2)} ms, stop median ${b.overheadStop.median.toFixed(2)} ms / p95 ${b.overheadStop.p95.toFixed(2)} ms`);
  say(`   target < ${TARGETS.overheadMs} ms per transition (median): ${verdict(met)}${met && !result.target.p95AlsoUnder ? ' (p95 above it)' : met ? ' (p95 too)' : ''}`);
  say(`   end to end: arms group start G median ${a.armsStart.median.toFixed(1)} ms, arms group stop G ${a.armsStop.median.toFixed(1)} ms; ` +
      `minus arms service status and the script: ${a.overheadVsStatusPerTransition.median.toFixed(2)} ms per transition (p95 ${a.overheadVsStatusPerTransition.p95.toFixed(2)}); ` +
      `arms group start G costs ${(a.armsStart.median - a.nodeE0.median).toFixed(1)} ms more than node -e 0`);

  result.durationSeconds = Math.round((Date.now() - started.getTime()) / 100) / 10;
  fs.mkdirSync(path.dirname(opts.json), { recursive: true });
  fs.writeFileSync(opts.json + '.tmp', JSON.stringify(result, null, 2) + '\n');
  fs.renameSync(opts.json + '.tmp', opts.json);
  const shown = path.relative(process.cwd(), opts.json);
  say(`\nwritten ${shown.startsWith('..') || path.isAbsolute(shown) ? opts.json : shown} (${result.durationSeconds} s)`);
  return opts.check && !met ? 2 : 0;
}

main().then(
  async (code) => {
    for (const c of [...children]) await stopChild(c);
    cleanupSync();
    process.exitCode = code;
  },
  async (e) => {
    process.stderr.write(`${NAME}: failed: ${e && e.stack ? e.stack : e}\n`);
    for (const c of children) if (c.label.startsWith('armsd')) process.stderr.write(`--- output of ${c.label} (pid ${c.proc.pid}):\n${c.output()}`);
    for (const c of exitedServices) process.stderr.write(`--- ${c.label} (pid ${c.proc.pid}) has exited; its output:\n${c.output()}`);
    for (const c of [...children]) await stopChild(c).catch(() => {});
    cleanupSync();
    process.exitCode = 1;
  },
);
