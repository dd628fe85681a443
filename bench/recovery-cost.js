#!/usr/bin/env node
// Benchmark (issue 16): what the service's own monitors and alert routes cost at 1,000 watches, and
// whether an alert webhook that never answers delays a restart. Linux only (it reads /proc). Needs
// a built dist/ (`npm run build`).
//
//   node bench/recovery-cost.js [--watches N] [--idle SECONDS] [--kills N] [--interval SECONDS]
//                               [--process-checks N] [--json FILE] [--check]
//   defaults: 1000 watches, 20 s idle, 100 kills, monitors every 10 s, 20 process checks. --check: exit 2 when a target
//   is missed.
//
// Two real armsd running side by side, each in a temporary ARMS_HOME, each with N
// watches (sleep 1000, started with the watch.start pipe op as ARMLOAD sends it):
//   plain      no monitors:, no alerts: (the reference);
//   monitored  one usage monitor per watch (its program's memory, CPU, threads and open files
//              against thresholds, every --interval s), and an alert route to a webhook on
//              127.0.0.1 that accepts the connection and never answers (timeout 60 s, no retries),
//              fed one alert before every kill.
// A process monitor (by name) reads every process of the machine at each check: its cost depends on
// the machine, not on the watches. It is measured apart, in this process: --process-checks runs of
// the check the service runs, CPU per run and per process on the machine, and what that is at one
// run every --interval s.
// For each: memory (RSS and PSS from /proc/ARMSD/smaps_rollup) with no watch and with N, per watch;
// CPU (utime + stime from /proc/ARMSD/stat) over --idle seconds with N watches, % of one core; then
// the restart latency: kill -9 the program of one watch, spin until a new child of armsd has
// exec'd sleep (/proc/ARMSD/task/ARMSD/children, /proc/PID/comm), --kills times, the two services'
// kills alternating (memory and CPU are measured over the same windows too).
// Reported: each figure, and monitored / plain (the ratio to the reference of the same run).
// Targets: monitored idle CPU < 1 % of one core; memory per watch (monitors included) <= 0.2 MB
// (10^6 bytes); restart latency p99 with the hung webhook within 1.5 x the plain p99 (+ 2 ms).
// Writes bench/results/recovery-cost.json. Everything started is stopped, the homes removed.
'use strict';

const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { median, pct, r2, r3, sleep, tracked, usageOf, within } = require('./lib');

const ROOT = path.resolve(__dirname, '..');
const NAME = 'recovery-cost';
const RESULTS = path.join(__dirname, 'results', 'recovery-cost.json');
const TARGETS = { idleCpuPercent: 1, perWatchMB: 0.2, restartP99Ratio: 1.5, restartP99SlackMs: 2 };

function fail(msg) {
  process.stderr.write(`${NAME}: ${msg}\n`);
  process.exit(1);
}

function parseOptions(argv) {
  const o = { watches: 1000, idle: 20, kills: 100, interval: 10, processChecks: 20, json: RESULTS, check: false };
  const ints = { '--watches': ['watches', 1, 2000], '--idle': ['idle', 1, 600], '--kills': ['kills', 5, 500], '--interval': ['interval', 1, 600], '--process-checks': ['processChecks', 1, 1000] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '-h' || a === '--help') {
      process.stdout.write(usageOf(__filename));
      process.exit(0);
    } else if (a === '--check') o.check = true;
    else if (a === '--json') o.json = path.resolve(argv[++i] ?? '');
    else if (ints[a]) {
      const [k, lo, hi] = ints[a];
      const n = Number(argv[++i]);
      if (!Number.isInteger(n) || n < lo || n > hi) fail(`${a} needs a whole number from ${lo} to ${hi}`);
      o[k] = n;
    } else fail(`unknown argument "${a}" (try --help)`);
  }
  return o;
}

const statFields = (pid) => {
  const s = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
  return s.slice(s.lastIndexOf(')') + 2).split(' ');
};
const cpuTicks = (pid) => {
  const f = statFields(pid);
  return Number(f[11]) + Number(f[12]);
};
function memoryMB(pid) {
  const text = fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const kb = (k) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? 0);
  return { rss: (kb('Rss') * 1024) / 1e6, pss: (kb('Pss') * 1024) / 1e6 };
}
const children = (pid) => {
  try {
    return fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'latin1').split(' ').filter(Boolean);
  } catch {
    return [];
  }
};
const comm = (pid) => {
  try {
    return fs.readFileSync(`/proc/${pid}/comm`, 'latin1').trim();
  } catch {
    return null;
  }
};

async function main() {
  if (process.platform !== 'linux') fail('Linux only (it reads /proc)');
  const o = parseOptions(process.argv.slice(2));
  const client = require(path.join(ROOT, 'dist', 'client', 'client.js'));
  const hz = Number(String(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout).trim()) || 100;
  const t = tracked(NAME);

  // The webhook that never answers: it reads the request and keeps the connection open.
  const held = [];
  const hung = http.createServer((req, res) => held.push(res));
  await new Promise((r) => hung.listen(0, '127.0.0.1', r));
  const hookUrl = `http://127.0.0.1:${hung.address().port}/hook`;
  let hookSeen = 0;
  hung.on('request', () => hookSeen++);

  const variants = {
    plain: 'syslog: false\nosMonitor: false\n',
    monitored:
      'syslog: false\nosMonitor: false\nmonitors:\n' +
      Array.from({ length: o.watches }, (_, i) => `  U${i}: { usage: { watch: I${i}, cpu: 90%, memory: 1GB, threads: 100, files: 1000, window: 30s }, interval: ${o.interval}s }\n`).join('') +
      `alerts:\n  HUNG: { webhook: "${hookUrl}", timeout: 60s, retries: 0 }\n`,
  };

  const result = { date: new Date().toISOString(), options: o, targets: TARGETS, variants: {} };
  // Both services run at once and are measured over the same windows, and their kills alternate:
  // the load of this machine (shared with other work) weighs on both alike.
  const svcs = {};
  // removed at the end, also on a failure or Ctrl-C (after the services are killed)
  const homes = [];
  process.on('exit', () => homes.forEach((h) => fs.rmSync(h, { recursive: true, force: true })));
  for (const [name, config] of Object.entries(variants)) {
    const h = fs.mkdtempSync(path.join(require('node:os').tmpdir(), `arms-bench-${name}-`));
    homes.push(h);
    fs.writeFileSync(path.join(h, 'arms.yaml'), config);
    const env = { ...process.env, ARMS_HOME: h };
    const svc = await t.startService(client, env, `armsd (${name})`);
    svcs[name] = { svc, home: h, env, pid: svc.proc.pid };
  }
  await sleep(2000);
  for (const s of Object.values(svcs)) s.empty = memoryMB(s.pid);
  for (const s of Object.values(svcs)) {
    s.conn = await client.connect(s.svc.pipe, 5000);
    for (let i = 0; i < o.watches; i++) {
      const r = await s.conn.request('watch.start', { id: `I${i}`, file: 'sleep', args: ['1000'], cwd: s.home, env: s.env, wait: false, restarts: 999, final: 'none' }, 10_000);
      if (typeof r?.pid !== 'number') throw new Error(`watch.start I${i}: ${JSON.stringify(r)}`);
    }
    s.conn.destroy?.(); // the pipe closes connections idle for 30 s: one call per request from here
  }
  // Let every monitor run a few times before measuring.
  await sleep(Math.max(5, 2 * o.interval) * 1000);
  for (const s of Object.values(svcs)) {
    s.full = memoryMB(s.pid);
    s.t0 = cpuTicks(s.pid);
  }
  await sleep(o.idle * 1000);
  for (const s of Object.values(svcs)) {
    s.idleCpu = ((cpuTicks(s.pid) - s.t0) / hz / o.idle) * 100;
    s.status = await client.call(s.svc.pipe, 'status', {}, 30_000);
    s.lat = [];
  }

  // restart latency: one watch's program killed, until its replacement has exec'd sleep
  const restart = async (name, s, k) => {
    if (name === 'monitored') await client.call(s.svc.pipe, 'log', { message: `bench alert ${k}`, level: 'ERR', alert: true }, 10_000);
    const before = new Set(children(s.pid));
    const victim = (await client.call(s.svc.pipe, 'status', {}, 30_000)).watches.find((w) => w.id === 'I0').pid;
    const start = process.hrtime.bigint();
    process.kill(victim, 'SIGKILL');
    for (;;) {
      const fresh = children(s.pid).find((c) => !before.has(c) && comm(c) === 'sleep');
      if (fresh) break;
      if (Number(process.hrtime.bigint() - start) > 10e9) throw new Error(`${name}: no restart within 10 s`);
      await new Promise((r) => setImmediate(r));
    }
    if (k >= 3) s.lat.push(Number(process.hrtime.bigint() - start) / 1e6);
    await sleep(30);
  };
  for (let k = 0; k < o.kills + 3; k++) {
    const order = k % 2 ? ['plain', 'monitored'] : ['monitored', 'plain'];
    for (const name of order) await restart(name, svcs[name], k);
  }
  for (const [name, s] of Object.entries(svcs)) {
    const routes = (await client.call(s.svc.pipe, 'status', {}, 30_000)).alerts ?? [];
    s.svc.stopping = true;
    await within(120_000, `${name} stop`, t.stop(s.svc, 120_000));
    fs.rmSync(s.home, { recursive: true, force: true });
    const lat = s.lat;
    const v = {
      memoryMB: { empty: { rss: r2(s.empty.rss), pss: r2(s.empty.pss) }, full: { rss: r2(s.full.rss), pss: r2(s.full.pss) } },
      perWatchMB: { rss: r3((s.full.rss - s.empty.rss) / o.watches), pss: r3((s.full.pss - s.empty.pss) / o.watches) },
      idleCpuPercent: r3(s.idleCpu),
      monitorsOk: s.status.monitors.filter((m) => m.ok).length,
      restartMs: { n: lat.length, median: r3(median(lat)), p95: r3(pct(lat, 95)), p99: r3(pct(lat, 99)), max: r3(Math.max(...lat)) },
      alertRoutes: routes,
    };
    result.variants[name] = v;
    console.log(
      `${name.padEnd(10)} ${o.watches} watches: per watch ${v.perWatchMB.rss} MB RSS, ${v.perWatchMB.pss} MB PSS; idle CPU ${v.idleCpuPercent} % of one core; ` +
        `monitors reporting ok: ${v.monitorsOk}; restart ms median ${v.restartMs.median}, p99 ${v.restartMs.p99}`,
    );
  }
  for (const r of held) r.destroy();
  hung.close();
  // The process monitor, apart: the check the service runs, here.
  const { processCountCheck } = require(path.join(ROOT, 'dist', 'monitors', 'process.js'));
  const procs = fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d)).length;
  const check = processCountCheck({ name: 'sleep', min: 1, max: 1_000_000 });
  const c0 = process.cpuUsage();
  for (let i = 0; i < o.processChecks; i++) await check.run(10_000);
  const c1 = process.cpuUsage(c0);
  const perRunMs = (c1.user + c1.system) / 1000 / o.processChecks;
  result.processMonitor = { processesOnMachine: procs, cpuMsPerCheck: r3(perRunMs), cpuUsPerProcess: r3((perRunMs * 1000) / procs), percentAtInterval: r3((perRunMs / (o.interval * 1000)) * 100) };
  console.log(`process monitor (by name): ${r3(perRunMs)} ms CPU per check over ${procs} processes (${result.processMonitor.cpuUsPerProcess} µs each): ${result.processMonitor.percentAtInterval} % of one core at one check every ${o.interval} s`);
  const p = result.variants.plain;
  const m = result.variants.monitored;
  result.hungWebhookRequests = hookSeen;
  result.ratios = {
    perWatchRss: r2(m.perWatchMB.rss / p.perWatchMB.rss),
    idleCpu: r2(m.idleCpuPercent / Math.max(p.idleCpuPercent, 0.001)),
    restartP99: r2(m.restartMs.p99 / p.restartMs.p99),
    restartMedian: r2(m.restartMs.median / p.restartMs.median),
  };
  const met = {
    idleCpu: m.idleCpuPercent < TARGETS.idleCpuPercent,
    perWatch: Math.max(m.perWatchMB.rss, m.perWatchMB.pss) <= TARGETS.perWatchMB,
    restartP99: m.restartMs.p99 <= p.restartMs.p99 * TARGETS.restartP99Ratio + TARGETS.restartP99SlackMs,
    monitorsRan: m.monitorsOk >= o.watches,
    webhookHung: hookSeen >= 1,
  };
  result.met = met;
  console.log(`monitored / plain: memory per watch ${result.ratios.perWatchRss}x, idle CPU ${result.ratios.idleCpu}x, restart p99 ${result.ratios.restartP99}x (median ${result.ratios.restartMedian}x); hung webhook requests: ${hookSeen}`);
  console.log(`targets: idle CPU < ${TARGETS.idleCpuPercent} %: ${met.idleCpu ? 'met' : 'MISSED'}; <= ${TARGETS.perWatchMB} MB per watch: ${met.perWatch ? 'met' : 'MISSED'}; restart p99 unchanged (<= ${TARGETS.restartP99Ratio}x + ${TARGETS.restartP99SlackMs} ms): ${met.restartP99 ? 'met' : 'MISSED'}`);
  fs.mkdirSync(path.dirname(o.json), { recursive: true });
  fs.writeFileSync(o.json, JSON.stringify(result, null, 2) + '\n');
  if (o.check && !Object.values(met).every(Boolean)) process.exit(2);
}

main().catch((e) => fail(e.stack || e.message));
