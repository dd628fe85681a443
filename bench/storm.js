#!/usr/bin/env node
// Benchmark: a restart storm. 1,000 watches of a program that exits at once (`true`, /R 999), and
// meanwhile how fast the service answers `status` (what `arms status` asks) and `log` (what ARMLOG
// asks), and how much memory it holds. Linux only (it reads /proc). Needs a built dist/.
//
//   node bench/storm.js [--watches N] [--seconds S] [--every MS] [--json FILE] [--check]
//   defaults: 1000 watches, 60 s of storm, a status and a log request every 100 ms.
//   --check: exit 2 when a target is missed.
//
// A real armsd in a temporary ARMS_HOME (default config: restart pacing as shipped). References,
// in the same run: the same requests to the same service for 10 s with no watches, then for 10 s
// with N idle watches (sleep 3600; then ARMKILLed): what a status of that size costs anyway.
// Then N watch.start requests (as ARMLOAD sends them) of `true` with restarts: 999, and for S
// seconds: one `status` and one `log` request every --every ms, each timed from the write to its
// answer on a connection of its own (as a command does); the service's RSS every second
// (/proc/PID/status). Reported: p50, p99, max of each against the reference; RSS before, at its
// highest, at the end; restarts made. Then SIGTERM, timed: the service must stop within 20 s.
// Writes bench/results/storm.json. Only Unix sockets in its temporary home, which it removes.
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const { msSince, pct, median, r2, sleep, tracked, usageOf, within } = require('./lib');

const ROOT = path.resolve(__dirname, '..');
const NAME = 'storm';
const TARGETS = { statusP99Ms: 100, logP99Ms: 100, stopS: 20, rssMaxMB: 400 };

function options(argv) {
  const o = { watches: 1000, seconds: 60, every: 100, json: path.join(__dirname, 'results', 'storm.json'), check: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const num = () => {
      const v = Number(argv[++i]);
      if (!Number.isFinite(v) || v <= 0) throw new Error(`${a}: expected a positive number`);
      return v;
    };
    if (a === '--help' || a === '-h') {
      process.stdout.write(usageOf(__filename));
      process.exit(0);
    } else if (a === '--watches') o.watches = num();
    else if (a === '--seconds') o.seconds = num();
    else if (a === '--every') o.every = num();
    else if (a === '--json') o.json = argv[++i];
    else if (a === '--check') o.check = true;
    else throw new Error(`unknown option ${a} (try --help)`);
  }
  return o;
}

function rssMB(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}

async function main() {
  if (process.platform !== 'linux') {
    console.log(`${NAME}: Linux only (it reads /proc); skipped`);
    return 0;
  }
  const o = options(process.argv.slice(2));
  if (!fs.existsSync(path.join(ROOT, 'dist', 'client', 'client.js'))) throw new Error('dist/ is missing: run "npm run build" first');
  const client = require(path.join(ROOT, 'dist', 'client', 'client.js'));
  const t = tracked(NAME);
  const home = t.makeHome();
  fs.writeFileSync(path.join(home, 'arms.yaml'), 'syslog: false\n');
  const env = { ...process.env, ARMS_HOME: home, PATH: `${path.join(ROOT, 'dist', 'path')}:${process.env.PATH}` };
  delete env.ARMS_PIPE;
  const svc = await t.startService(client, env, 'armsd', process.env.STORM_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.STORM_PROF}`] : []);
  const pid = svc.info.pid;

  /** One request on a connection of its own, timed to its answer (ms). */
  const timed = async (op, args) => {
    const t0 = process.hrtime.bigint();
    await within(30_000, op, client.call(svc.pipe, op, args, 30_000));
    return msSince(t0);
  };
  /** status and log every `every` ms for `ms`; the samples, and RSS every second. */
  const sample = async (ms, rss) => {
    const status = [];
    const log = [];
    const end = Date.now() + ms;
    let nextRss = 0;
    let n = 0;
    while (Date.now() < end) {
      const tick = Date.now();
      const [s, l] = await Promise.all([timed('status', {}), timed('log', { message: `storm probe ${n++}`, source: 'bench' })]);
      status.push(s);
      log.push(l);
      if (rss && tick >= nextRss) {
        rss.push(rssMB(pid));
        nextRss = tick + 1000;
      }
      await sleep(Math.max(0, o.every - (Date.now() - tick)));
    }
    return { status, log };
  };
  const stats = (xs) => ({ n: xs.length, p50: r2(median(xs)), p99: r2(pct(xs, 99)), max: r2(Math.max(...xs)) });

  const reference = await sample(10_000, null);
  // A second reference of the same size: N idle watches (sleep), so that the storm's own cost shows.
  const load = async (file, args, restarts) => {
    const c = await client.connect(svc.pipe);
    await within(300_000, 'watch.start', Promise.all(Array.from({ length: o.watches }, (_, i) => c.request('watch.start', { id: `S${i}`, file, args, cwd: '/', env: { PATH: process.env.PATH }, restarts }, 300_000))));
    c.destroy();
  };
  await load('sleep', ['3600'], 1);
  const idle = await sample(10_000, null);
  {
    const c = await client.connect(svc.pipe);
    await within(300_000, 'watch.kill', Promise.all(Array.from({ length: o.watches }, (_, i) => c.request('watch.kill', { id: `S${i}` }, 300_000))));
    c.destroy();
  }
  const rssBefore = rssMB(pid);

  // The storm: N watches of a program that exits at once, each allowed 999 restarts.
  const t0 = Date.now();
  await load('true', [], 999);
  const loadMs = Date.now() - t0;
  const rss = [rssBefore];
  const storm = await sample(o.seconds * 1000, rss);
  const st = await client.call(svc.pipe, 'status', {}, 30_000);
  const restarts = st.watches.reduce((a, w) => a + w.restartsUsed, 0);
  const rssEnd = rssMB(pid);

  const s0 = process.hrtime.bigint();
  svc.stopping = true;
  svc.proc.kill('SIGTERM');
  const ended = await within(60_000, 'armsd stop', svc.exited);
  const stopS = msSince(s0) / 1000;

  const result = {
    when: new Date().toISOString(),
    watches: o.watches,
    seconds: o.seconds,
    loadMs,
    restarts,
    reference: { status: stats(reference.status), log: stats(reference.log) },
    idleWatches: { status: stats(idle.status), log: stats(idle.log) },
    storm: { status: stats(storm.status), log: stats(storm.log) },
    ratioP99: { status: r2(pct(storm.status, 99) / pct(reference.status, 99)), log: r2(pct(storm.log, 99) / pct(reference.log, 99)) },
    ratioP99ToIdleWatches: { status: r2(pct(storm.status, 99) / pct(idle.status, 99)), log: r2(pct(storm.log, 99) / pct(idle.log, 99)) },
    rssMB: { before: r2(rssBefore), max: r2(Math.max(...rss.filter((x) => x !== null))), end: r2(rssEnd), perSecond: rss.map((x) => (x === null ? null : Math.round(x))) },
    stop: { seconds: r2(stopS), exit: ended.code },
    targets: TARGETS,
  };
  const missed = [];
  if (result.storm.status.p99 > TARGETS.statusP99Ms) missed.push(`status p99 ${result.storm.status.p99} ms > ${TARGETS.statusP99Ms}`);
  if (result.storm.log.p99 > TARGETS.logP99Ms) missed.push(`log p99 ${result.storm.log.p99} ms > ${TARGETS.logP99Ms}`);
  if (stopS > TARGETS.stopS || ended.code !== 0) missed.push(`stop took ${r2(stopS)} s (exit ${ended.code})`);
  if (result.rssMB.max > TARGETS.rssMaxMB) missed.push(`RSS ${result.rssMB.max} MB > ${TARGETS.rssMaxMB}`);
  result.missed = missed;

  console.log(`${NAME}: ${o.watches} watches of \`true\` /R 999 for ${o.seconds} s (loaded in ${loadMs} ms): ${restarts} restarts`);
  for (const op of ['status', 'log']) {
    const r = result.reference[op];
    const i = result.idleWatches[op];
    const s = result.storm[op];
    console.log(`  ${op.padEnd(6)} p50 ${s.p50} ms, p99 ${s.p99} ms, max ${s.max} ms (n ${s.n}); reference p99: no watches ${r.p99} ms (${result.ratioP99[op]}x), ${o.watches} idle watches ${i.p99} ms (${result.ratioP99ToIdleWatches[op]}x)`);
  }
  console.log(`  RSS ${result.rssMB.before} MB before, ${result.rssMB.max} MB at most, ${result.rssMB.end} MB at the end; SIGTERM: stopped in ${result.stop.seconds} s, exit ${ended.code}`);
  console.log(missed.length ? `  MISSED: ${missed.join('; ')}` : '  targets met');
  fs.mkdirSync(path.dirname(o.json), { recursive: true });
  fs.writeFileSync(o.json, JSON.stringify(result, null, 2) + '\n');
  t.cleanupSync();
  return o.check && missed.length ? 2 : 0;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(`${NAME}: ${e.stack || e.message}\n`);
    process.exit(1);
  },
);
