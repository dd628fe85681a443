#!/usr/bin/env node
// Benchmark: what HTTP costs the service. Two real armsd side by side in the same run, the same
// 1000 idle watches each: one with HTTP off (the reference), one with HTTP on and a page open (a
// client following /api/v1/events, as the status page does). Linux only (it reads /proc). Needs
// a built dist/ (`npm run build`).
//
//   node bench/http-overhead.js [--watches N] [--idle SECONDS] [--rounds N] [--kills N] [--warmup N]
//                               [--gap MS] [--scrapes N] [--json FILE] [--check]
//   defaults: 1000 watches each; idle CPU over 5 windows of 20 s, both services measured in the
//   same window (the figure: the median window's ratio); 60 kills of a watched program in each (5 warm-ups), alternating, 50 ms apart; 100
//   scrapes of /metrics, interleaved with /healthz. --check: exit 2 when a target is missed.
//
// 1. idle CPU: the time each armsd ran on a CPU (all threads: /proc/PID/task/*/schedstat, in ns),
//    over the same windows; ratio on/off;
// 2. restart latency: kill -9 of a watched `sleep` (W, /R 999) until its replacement has exec'd
//    (the detection of restart-latency.js: a worker thread at nice 19 reading /proc), in one
//    service then the other; ratio of the medians;
// 3. /metrics at 1000 watches: time to the last byte of GET /metrics (keep-alive), against
//    GET /healthz (the HTTP round trip alone) in the same loop.
// Prints a summary and writes bench/results/http-overhead.json. Loopback and Unix sockets only, in
// temporary homes it removes; every process it started is stopped.
'use strict';

const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const { mean, median, msSince, pct, r2, r3, sleep, tracked, usageOf, within } = require('./lib');

const ROOT = path.resolve(__dirname, '..');
const NAME = 'http-overhead';
const RESULTS = path.join(__dirname, 'results', `${NAME}.json`);
const TARGETS = { idleCpuRatio: 1.1, restartMedianRatio: 1.1, metricsMs: 20 };

function parseOptions(argv) {
  const o = { watches: 1000, idle: 20, rounds: 5, kills: 60, warmup: 5, gap: 50, scrapes: 100, json: RESULTS, check: false };
  const ints = { '--watches': 'watches', '--idle': 'idle', '--rounds': 'rounds', '--kills': 'kills', '--warmup': 'warmup', '--gap': 'gap', '--scrapes': 'scrapes' };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '-h' || a === '--help') {
      process.stdout.write(usageOf(__filename));
      process.exit(0);
    } else if (a === '--check') o.check = true;
    else if (a === '--json') o.json = path.resolve(argv[++i] ?? '');
    else if (ints[a]) {
      const n = Number(argv[++i]);
      if (!Number.isInteger(n) || n < 1 || n > 100_000) fail(`${a}: expected a whole number`);
      o[ints[a]] = n;
    } else fail(`unknown option ${a} (try --help)`);
  }
  if (2 * o.warmup + 2 * o.kills > 990) fail('W restarts at most 999 times: warm-ups and kills must stay under that');
  return o;
}

function fail(msg) {
  process.stderr.write(`${NAME}: ${msg}\n`);
  process.exit(1);
}

// The watches are process groups of their own: on a failure, the sleeps are found through their
// service before it is killed, then killed (restart-latency.js keeps that bookkeeping).
const { startProber, detect, watchArgs, noteSleeps, killLeftovers, parentsOf } = require('./restart-latency');
const procs = tracked(NAME, {
  beforeKill: (running) => running.forEach((c) => noteSleeps(c.proc.pid)),
  afterKill: () => killLeftovers(),
});

/** ns this process ran on a CPU, all its threads (schedstat's first field). */
function cpuNs(pid) {
  let ns = 0;
  for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(fs.readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'latin1').split(' ')[0]);
    } catch {
      /* a thread that ended meanwhile */
    }
  }
  return ns;
}

function rssKiB(pid) {
  return Number(/^VmRSS:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'latin1'))[1]);
}

/** One GET; ms to the last byte. */
function get(agent, url, token) {
  return within(
    10_000,
    `GET ${url}`,
    new Promise((resolve, reject) => {
      const t0 = process.hrtime.bigint();
      http
        .get(url, { agent, headers: token ? { authorization: `Bearer ${token}` } : {} }, (res) => {
          let bytes = 0;
          res.on('data', (d) => (bytes += d.length));
          res.on('end', () => (res.statusCode === 200 ? resolve({ ms: msSince(t0), bytes }) : reject(new Error(`GET ${url}: ${res.statusCode}`))));
        })
        .on('error', reject);
    }),
  );
}

/** The page's side of the event stream: counts the snapshots pushed. */
function follow(url, token) {
  const seen = { events: 0, bytes: 0, req: null };
  seen.req = http.get(url, { headers: { authorization: `Bearer ${token}` } }, (res) => {
    if (res.statusCode !== 200) fail(`the event stream answered ${res.statusCode}`);
    res.setEncoding('utf8');
    res.on('data', (d) => {
      seen.bytes += d.length;
      seen.events += d.split('event: status').length - 1;
    });
  });
  seen.req.on('error', () => undefined);
  return seen;
}

function summary(xs) {
  return { n: xs.length, median: r3(median(xs)), p95: r3(pct(xs, 95)), p99: r3(pct(xs, 99)), mean: r3(mean(xs)), min: r3(Math.min(...xs)), max: r3(Math.max(...xs)) };
}

async function main() {
  const opts = parseOptions(process.argv.slice(2));
  if (process.platform !== 'linux') fail('Linux only (it reads /proc)');
  if (!fs.existsSync(path.join(ROOT, 'dist', 'http', 'server.js'))) fail('no built dist/: run `npm run build` first');
  const client = require(path.join(ROOT, 'dist', 'client', 'client.js'));
  const t0 = Date.now();
  const loadAvgAtStart = os.loadavg().map(r2);

  const base = procs.makeHome();
  const services = {};
  for (const [label, config] of [
    // W is killed every few tens of ms: to the restart pacing that is a crash loop. A run of 10 ms
    // counts as a good one for W, so each of its restarts is a first one, at once, as measured.
    ['off', 'syslog: false\nwatches:\n  W: { resetAfter: 10ms }\n'],
    ['on', 'syslog: false\nhttp: { listen: "127.0.0.1:0" }\nwatches:\n  W: { resetAfter: 10ms }\n'],
  ]) {
    const home = path.join(base, label);
    fs.mkdirSync(home);
    fs.writeFileSync(path.join(home, 'arms.yaml'), config);
    const env = { ...process.env, ARMS_HOME: home };
    delete env.ARMS_PIPE;
    const svc = await procs.startService(client, env, `armsd (http ${label})`);
    services[label] = { svc, env, home, pid: svc.proc.pid };
  }
  const on = services.on;
  const url = on.svc.info.http;
  if (!url) fail(`the HTTP service has no address:\n${on.svc.output()}`);
  const token = fs.readFileSync(path.join(on.home, 'http.token'), 'utf8').trim();

  process.stdout.write(`${NAME}: ${opts.watches} idle watches in each service, and W (/R 999)\n`);
  for (const s of Object.values(services)) {
    for (let i = 0; i < opts.watches; i++) await client.call(s.svc.pipe, 'watch.start', watchArgs(`IDLE${i}`, s.env, s.home), 30_000);
    await client.call(s.svc.pipe, 'watch.start', watchArgs('W', s.env, s.home), 30_000);
  }
  const page = follow(`${url}api/v1/events`, token);
  // Idle means after the starts: their state writes, the page's first snapshot, and the garbage
  // collections V8 runs for some seconds after a burst of allocation (in a first version, with
  // 5 s here, the first windows had the service with a page open at 1.3 to 5.6 times the other).
  await sleep(30_000);

  // 1. idle CPU, both services in the same windows
  const idle = { on: [], off: [], windows: [] };
  const eventsBefore = page.events;
  for (let r = 0; r < opts.rounds; r++) {
    const a = { on: cpuNs(on.pid), off: cpuNs(services.off.pid) };
    const w0 = process.hrtime.bigint();
    await sleep(opts.idle * 1000);
    const s = msSince(w0) / 1000;
    for (const k of ['on', 'off']) idle[k].push(((cpuNs(services[k].pid) - a[k]) / 1e9 / s) * 100);
    idle.windows.push(r2(s));
    process.stdout.write(`  idle round ${r + 1}: on ${idle.on.at(-1).toFixed(3)} %, off ${idle.off.at(-1).toFixed(3)} % of one core\n`);
  }
  const idleEvents = page.events - eventsBefore;
  const idleOn = mean(idle.on);
  const idleOff = mean(idle.off);
  // Each window compares the two services over the same seconds; the median window is the figure
  // (a burst of load from elsewhere lands in one window, in both services, unevenly).
  const idleRatios = idle.on.map((x, i) => x / idle.off[i]);

  // 2. restart latency, alternating which service goes first
  await startProber();
  const pidOf = async (s) => (await client.call(s.svc.pipe, 'status', {}, 10_000)).watches.find((w) => w.id === 'W').pid;
  const current = { on: await pidOf(on), off: await pidOf(services.off) };
  const lat = { on: [], off: [] };
  const eventsBeforeKills = page.events;
  for (let i = 0; i < opts.warmup + opts.kills; i++) {
    for (const k of i % 2 ? ['off', 'on'] : ['on', 'off']) {
      const r = await detect(parentsOf(services[k].svc), current[k]);
      current[k] = r.pid;
      if (i >= opts.warmup) lat[k].push(r.ms);
      await sleep(opts.gap);
    }
  }
  const restartEvents = page.events - eventsBeforeKills;

  // 3. /metrics at N watches, against /healthz: wall time interleaved, then armsd's own CPU time
  //    per request, each in a loop of its own (less sensitive than wall time to a loaded machine)
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const scrape = { metrics: [], healthz: [], bytes: 0, cpuMs: {} };
  for (let i = 0; i < 5; i++) await get(agent, `${url}metrics`, token);
  for (let i = 0; i < opts.scrapes; i++) {
    const m = await get(agent, `${url}metrics`, token);
    scrape.metrics.push(m.ms);
    scrape.bytes = m.bytes;
    scrape.healthz.push((await get(agent, `${url}healthz`)).ms);
  }
  for (const [what, p] of [
    ['metrics', 'metrics'],
    ['healthz', 'healthz'],
  ]) {
    const c0 = cpuNs(on.pid);
    for (let i = 0; i < opts.scrapes; i++) await get(agent, `${url}${p}`, token);
    scrape.cpuMs[what] = r3((cpuNs(on.pid) - c0) / 1e6 / opts.scrapes);
  }
  agent.destroy();
  page.req.destroy();
  const memory = { onKiB: rssKiB(on.pid), offKiB: rssKiB(services.off.pid) };

  for (const s of Object.values(services)) {
    s.svc.stopping = true;
    await client.call(s.svc.pipe, 'stop', { pid: process.pid }, 5000);
    await within(60_000, `${s.svc.label} stop`, s.svc.exited);
  }

  const restartOn = summary(lat.on);
  const restartOff = summary(lat.off);
  const metrics = summary(scrape.metrics);
  const result = {
    benchmark: NAME,
    date: new Date().toISOString(),
    machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, node: process.version, loadAvgAtStart, loadAvgAtEnd: os.loadavg().map(r2) },
    options: { ...opts, json: undefined, check: undefined },
    targets: TARGETS,
    idleCpu: {
      percentOfOneCore: { on: r3(idleOn), off: r3(idleOff), onRounds: idle.on.map(r3), offRounds: idle.off.map(r3) },
      ratio: r3(median(idleRatios)),
      roundRatios: idleRatios.map(r3),
      ratioOfMeans: r3(idleOn / idleOff),
      windowsSeconds: idle.windows,
      snapshotsPushedToThePage: idleEvents,
    },
    restart: { on: restartOn, off: restartOff, medianRatio: r3(restartOn.median / restartOff.median), snapshotsPushedToThePage: restartEvents },
    metrics: {
      watches: opts.watches + 1,
      ms: metrics,
      bytes: scrape.bytes,
      healthzMs: summary(scrape.healthz),
      medianRatioToHealthz: r3(metrics.median / median(scrape.healthz)),
      armsdCpuMsPerRequest: scrape.cpuMs,
    },
    memoryRssMiB: { on: r2(memory.onKiB / 1024), off: r2(memory.offKiB / 1024) },
    durationSeconds: Math.round((Date.now() - t0) / 1000),
  };
  const met = {
    idleCpu: result.idleCpu.ratio <= TARGETS.idleCpuRatio,
    restart: result.restart.medianRatio <= TARGETS.restartMedianRatio,
    metrics: metrics.p95 < TARGETS.metricsMs,
  };
  result.met = met;
  fs.mkdirSync(path.dirname(opts.json), { recursive: true });
  fs.writeFileSync(opts.json, JSON.stringify(result, null, 2) + '\n');

  const say = (s) => process.stdout.write(s + '\n');
  say(`\nidle CPU (% of one core, mean of ${opts.rounds} × ${opts.idle} s): on ${r3(idleOn)}, off ${r3(idleOff)}; on/off per window ${result.idleCpu.roundRatios.join(', ')}: median ${result.idleCpu.ratio} (target ≤ ${TARGETS.idleCpuRatio}) ${met.idleCpu ? 'met' : 'MISSED'}; ${idleEvents} snapshot(s) pushed to the page meanwhile`);
  say(`restart latency (ms): on median ${restartOn.median} p95 ${restartOn.p95}; off median ${restartOff.median} p95 ${restartOff.p95}: ratio ${result.restart.medianRatio} (target ≤ ${TARGETS.restartMedianRatio}) ${met.restart ? 'met' : 'MISSED'}`);
  say(`/metrics at ${opts.watches + 1} watches (${Math.round(scrape.bytes / 1024)} KiB): median ${metrics.median} ms, p95 ${metrics.p95} ms (target p95 < ${TARGETS.metricsMs}) ${met.metrics ? 'met' : 'MISSED'}; ${result.metrics.medianRatioToHealthz}x /healthz (${r3(median(scrape.healthz))} ms)`);
  say(`armsd's CPU per request: /metrics ${scrape.cpuMs.metrics} ms, /healthz ${scrape.cpuMs.healthz} ms; load average ${loadAvgAtStart.join(' ')} at the start, ${result.machine.loadAvgAtEnd.join(' ')} at the end`);
  say(`RSS: on ${result.memoryRssMiB.on} MiB, off ${result.memoryRssMiB.off} MiB`);
  say(`written ${path.relative(process.cwd(), opts.json)} (${result.durationSeconds} s)`);
  return opts.check && !Object.values(met).every(Boolean) ? 2 : 0;
}

main().then(
  (code) => {
    procs.cleanupSync();
    process.exitCode = code;
  },
  (e) => {
    process.stderr.write(`${NAME}: failed: ${e && e.stack ? e.stack : e}\n`);
    for (const c of procs.children) process.stderr.write(`--- output of ${c.label}:\n${c.output()}`);
    procs.cleanupSync();
    process.exitCode = 1;
  },
);
