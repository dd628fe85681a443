#!/usr/bin/env node
// Soak: does the service stay flat in memory, and its log folder within the configured caps, with
// many chatty watched programs over a long run? (issue 8). Linux only (it reads /proc). Needs a
// built dist/ (`npm run build`).
//
//   node bench/soak.js [--minutes M] [--apps N] [--rate BYTES_PER_S] [--log-rate LINES_PER_S]
//                      [--sample SECONDS] [--json FILE] [--check]
//   defaults: 10 minutes, 50 apps printing 1 MB/s (1,000,000 bytes/s) in total, 100 cluster-log
//   lines/s, a sample every 10 s. --check: exit 2 when a target is missed. --minutes may have a
//   fraction (0.5 for a 30 s try).
//
// A real armsd in a temporary ARMS_HOME whose arms.yaml caps the logs small:
//   log: { maxSize: 5MB, keep: 2, alert: { maxSize: 1MB, keep: 2 }, watch: { maxSize: 1MB, keep: 2 } }
// The apps are started with the real ARMLOAD (`ARMLOAD SOAKnn /R 9 node app.js RATE`), one after
// another; each is a node program printing 1000-byte numbered lines on stdout at RATE/apps bytes a
// second (paced by the clock, in ticks of 100 ms), which the service sends to log/watches/SOAKnn.log.
// Meanwhile the benchmark sends --log-rate `log` requests a second (what ARMLOG sends, 200-byte
// messages) over one connection, so the cluster log rotates too, and asks `status` at each sample
// (every app must still be running, never restarted).
// Every --sample seconds: RSS, PSS, USS of armsd (/proc/PID/smaps_rollup), its CPU (utime+stime),
// and the size of the log folder. Reference in the same run, sampled at the same moments: an idle
// `node -e "setInterval(()=>{},1000)"` (how much RSS/PSS move by themselves on this machine: PSS
// changes with the number of processes sharing the node binary).
// "start" is the first sample after the warm-up (15 % of the run, at most 90 s: every watch log has
// rotated once by then at the default rate), "middle" halfway from there, "end" the last sample.
// Targets: armsd's RSS and PSS grow less than 10 % from start to end; at the end the log folder is
// within the caps: each watch log with its rotated copies <= (1 + keep) x (maxSize + what the app
// writes in one rotation check, 5 s), cluster and alert logs <= (1 + keep) x maxSize + one write.
// At the end the service is stopped with `stop` (which stops every watch) and no app may be left;
// on a failure or Ctrl-C every app still running is killed and the temporary home removed.
'use strict';

const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { sleep, usageOf } = require('./lib');

const ROOT = path.resolve(__dirname, '..');
const NAME = 'soak';
const CHECK_MS = 5000; // the service's watch-log rotation check (ROTATE_CHECK_MS, src/service/watches.ts)
const CAPS = { cluster: { maxBytes: 5 * 2 ** 20, keep: 2 }, alert: { maxBytes: 2 ** 20, keep: 2 }, watch: { maxBytes: 2 ** 20, keep: 2 } };
const TARGETS = { memoryGrowthPercent: 10 };
const LINE = 1000;

const usage = () => usageOf(__filename);
function fail(msg) {
  process.stderr.write(`${NAME}: ${msg}\n`);
  process.exit(1);
}

function parseOptions(argv) {
  const o = { minutes: 10, apps: 50, rate: 1_000_000, logRate: 100, sample: 10, json: path.join(__dirname, 'results', 'soak.json'), check: false };
  const nums = { '--minutes': ['minutes', 0.25, 240], '--apps': ['apps', 1, 500], '--rate': ['rate', 1000, 50_000_000], '--log-rate': ['logRate', 0, 5000], '--sample': ['sample', 1, 600] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '-h' || a === '--help') {
      process.stdout.write(usage());
      process.exit(0);
    } else if (a === '--check') o.check = true;
    else if (a === '--json') o.json = path.resolve(argv[++i] ?? '');
    else if (nums[a]) {
      const [key, lo, hi] = nums[a];
      const n = Number(argv[++i]);
      if (!Number.isFinite(n) || n < lo || n > hi) fail(`${a} needs a number from ${lo} to ${hi} (got "${argv[i]}")`);
      o[key] = n;
    } else fail(`unknown argument "${a}" (try --help)`);
  }
  return o;
}

const opts = parseOptions(process.argv.slice(2));
if (process.platform !== 'linux') fail('Linux only (it reads /proc)');
if (!fs.existsSync(path.join(ROOT, 'dist', 'service', 'main.js'))) fail('dist/ is missing: run `npm run build` first');
const client = require(path.join(ROOT, 'dist', 'client', 'client.js'));
const { resolveHome } = require(path.join(ROOT, 'dist', 'platform', 'home.js'));

const MiB = (kB) => kB / 1024;
const TICK = 100 / (spawnSync('getconf', ['CLK_TCK']).stdout?.toString().trim() * 1 || 100); // % of a core per tick per s

/** RSS, PSS, USS in kB from /proc/PID/smaps_rollup. */
function memoryOf(pid) {
  const text = fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const kb = (name) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN);
  return { rss: kb('Rss'), pss: kb('Pss'), uss: kb('Private_Clean') + kb('Private_Dirty') };
}
/** utime + stime in clock ticks. */
function cpuTicks(pid) {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return Number(rest[11]) + Number(rest[12]);
}

/** Sizes in bytes in the log folder: each watch (its .log and rotated copies), cluster, alert, total. */
function logSizes(dir) {
  const out = { total: 0, cluster: 0, alert: 0, watches: {}, other: 0 };
  const walk = (d) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else {
        let size;
        try {
          size = fs.statSync(p).size;
        } catch {
          continue; // rotated away meanwhile
        }
        out.total += size;
        const w = /^(.*)\.log(\.\d+)?$/.exec(e.name);
        if (path.basename(d) === 'watches' && w) out.watches[w[1]] = (out.watches[w[1]] ?? 0) + size;
        else if (/^cluster\.log(\.\d+)?$/.test(e.name)) out.cluster += size;
        else if (/^alert\.log(\.\d+)?$/.test(e.name)) out.alert += size;
        else out.other += size;
      }
    }
  };
  walk(dir);
  return out;
}

const APP = `'use strict';
// A chatty watched program: 1000-byte numbered lines on stdout at argv[2] bytes a second.
const rate = Number(process.argv[2]);
const id = process.env.ARMS_WATCH_ID || 'app';
const t0 = Date.now();
let sent = 0;
let seq = 0;
const pad = 'x'.repeat(${LINE});
setInterval(() => {
  const due = Math.floor(((Date.now() - t0) / 1000) * rate / ${LINE});
  let chunk = '';
  for (; sent < due; sent++) {
    const head = id + ' ' + ++seq + ' ';
    chunk += head + pad.slice(0, ${LINE} - 1 - head.length) + '\\n';
  }
  if (chunk) process.stdout.write(chunk);
}, 100);
`;

async function main() {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'arms-bench-soak-'));
  const runMs = opts.minutes * 60_000;
  const warmupMs = Math.min(90_000, 0.15 * runMs);
  const perApp = opts.rate / opts.apps;
  fs.writeFileSync(path.join(home, 'app.js'), APP);
  fs.writeFileSync(
    path.join(home, 'arms.yaml'),
    `syslog: false\nlog:\n  maxSize: 5MB\n  keep: 2\n  alert:\n    maxSize: 1MB\n    keep: 2\n  watch:\n    maxSize: 1MB\n    keep: 2\n`,
  );
  const env = { ...process.env, ARMS_HOME: home, PATH: `${path.join(ROOT, 'dist', 'path')}${path.delimiter}${process.env.PATH}` };
  const pipe = resolveHome(env).pipe;
  const svc = spawn(process.execPath, [path.join(ROOT, 'bin', 'armsd.js')], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let said = '';
  svc.stderr.on('data', (d) => (said += d));
  const ref = spawn(process.execPath, ['-e', 'setInterval(()=>{},1000)'], { stdio: 'ignore' });
  const appPids = new Set();
  let stopping = false;
  const cleanup = () => {
    stopping = true;
    // Every app of this run still running: a process whose command line names this home's app.js.
    for (const e of fs.readdirSync('/proc')) {
      if (!/^\d+$/.test(e)) continue;
      try {
        if (fs.readFileSync(`/proc/${e}/cmdline`, 'utf8').includes(path.join(home, 'app.js'))) process.kill(Number(e), 'SIGKILL');
      } catch {}
    }
    for (const p of [svc, ref]) {
      try {
        p.kill('SIGTERM');
      } catch {}
    }
  };
  process.on('SIGINT', () => (cleanup(), fs.rmSync(home, { recursive: true, force: true }), process.exit(130)));
  process.on('SIGTERM', () => (cleanup(), fs.rmSync(home, { recursive: true, force: true }), process.exit(143)));
  try {
    for (let i = 0; ; i++) {
      try {
        await client.call(pipe, 'ping', {}, 1000);
        break;
      } catch {
        if (i > 300 || svc.exitCode !== null) throw new Error(`armsd did not answer: ${said.trim()}`);
        await sleep(20);
      }
    }
    await sleep(2000);
    const fresh = { armsd: memoryOf(svc.pid), reference: memoryOf(ref.pid) };

    // The apps, through the real ARMLOAD, one after another.
    const ids = Array.from({ length: opts.apps }, (_, i) => `SOAK${String(i + 1).padStart(2, '0')}`);
    const tStart = Date.now();
    for (const id of ids) {
      const r = spawnSync(process.execPath, [path.join(ROOT, 'bin', 'armload.js'), id, '/R', '9', process.execPath, path.join(home, 'app.js'), String(perApp)], { env, cwd: home, encoding: 'utf8', timeout: 20_000 });
      if (r.status !== 0) throw new Error(`ARMLOAD ${id} exited ${r.status}: ${(r.stderr || '').trim()}`);
    }
    const startedIn = (Date.now() - tStart) / 1000;
    const firstPids = new Map();
    for (const w of (await client.call(pipe, 'status', {}, 10_000)).watches) {
      if (w.pid) (appPids.add(w.pid), firstPids.set(w.id, w.pid));
    }
    if (firstPids.size !== opts.apps) throw new Error(`${firstPids.size} of ${opts.apps} apps running after ARMLOAD`);
    const t0 = Date.now();

    // Cluster-log traffic: --log-rate `log` requests a second, one connection, paced by the clock.
    const msg = 'soak: a line for the cluster log, as a group script would write it with ARMLOG. '.padEnd(200, '.');
    const logArgs = { message: msg, level: 'INFO', source: 'bench-soak', pid: process.pid, ppid: process.ppid };
    let logsSent = 0;
    let logError = null;
    const logLoop = (async () => {
      const conn = opts.logRate > 0 ? await client.connect(pipe) : null;
      const send = (args) => conn.request('log', args, 10_000);
      try {
        while (!stopping && Date.now() - t0 < runMs && opts.logRate > 0) {
          const due = Math.floor(((Date.now() - t0) / 1000) * opts.logRate);
          const batch = [];
          for (; logsSent < due; logsSent++) batch.push(send(logArgs));
          await Promise.all(batch);
          await sleep(100);
        }
      } catch (e) {
        logError = e;
      } finally {
        try {
          conn?.close();
        } catch {}
      }
    })();

    // Samples.
    const samples = [];
    const logDir = path.join(home, 'log');
    let maxLog = { total: 0, watchMax: 0, cluster: 0, alert: 0 };
    const take = async () => {
      const st = await client.call(pipe, 'status', {}, 10_000);
      for (const w of st.watches) {
        if (!firstPids.has(w.id)) continue;
        if (w.pid !== firstPids.get(w.id)) throw new Error(`app ${w.id} is not the one started (pid ${w.pid}, state ${w.state}): it ended`);
      }
      const sizes = logSizes(logDir);
      const watchMax = Math.max(0, ...Object.values(sizes.watches));
      maxLog = { total: Math.max(maxLog.total, sizes.total), watchMax: Math.max(maxLog.watchMax, watchMax), cluster: Math.max(maxLog.cluster, sizes.cluster), alert: Math.max(maxLog.alert, sizes.alert) };
      const s = { t: (Date.now() - t0) / 1000, armsd: memoryOf(svc.pid), armsdCpuTicks: cpuTicks(svc.pid), reference: memoryOf(ref.pid), log: { total: sizes.total, cluster: sizes.cluster, alert: sizes.alert, watchMax, watches: Object.keys(sizes.watches).length } };
      samples.push(s);
      return s;
    };
    await take();
    const f1 = (x) => x.toFixed(1);
    for (let n = 1; ; n++) {
      const next = t0 + n * opts.sample * 1000;
      if (next > t0 + runMs) break;
      await sleep(Math.max(0, next - Date.now()));
      if (logError) throw new Error(`log request failed: ${logError.message}`);
      if (svc.exitCode !== null) throw new Error(`armsd exited: ${said.trim()}`);
      const s = await take();
      process.stderr.write(`${NAME}: ${f1(s.t)} s armsd RSS ${f1(MiB(s.armsd.rss))} PSS ${f1(MiB(s.armsd.pss))} USS ${f1(MiB(s.armsd.uss))} MiB, log folder ${f1(s.log.total / 2 ** 20)} MiB\n`);
    }
    await logLoop;
    if (logError) throw new Error(`log request failed: ${logError.message}`);
    const last = samples[samples.length - 1];
    const endSizes = logSizes(logDir);
    // What the apps really wrote: the number on the last line of each watch log (or of its copy).
    let linesWritten = 0;
    for (const id of ids) {
      for (const f of [`${id}.log`, `${id}.log.1`]) {
        let text = '';
        try {
          const fd = fs.openSync(path.join(logDir, 'watches', f), 'r');
          const size = fs.fstatSync(fd).size;
          const buf = Buffer.alloc(Math.min(size, 4 * LINE));
          fs.readSync(fd, buf, 0, buf.length, size - buf.length);
          fs.closeSync(fd);
          text = buf.toString();
        } catch {}
        const m = /(\S+) (\d+) x+\n$/.exec(text);
        if (m) {
          linesWritten += Number(m[2]);
          break;
        }
      }
    }

    // Stop: the service stops every watch; none may be left.
    const tStop = Date.now();
    await client.call(pipe, 'stop', { pid: process.pid }, 30_000);
    await new Promise((r) => (svc.exitCode !== null ? r() : svc.once('exit', r)));
    const stopS = (Date.now() - tStop) / 1000;
    await sleep(200);
    const left = [...appPids].filter((pid) => {
      try {
        return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(path.join(home, 'app.js'));
      } catch {
        return false;
      }
    });
    if (left.length) throw new Error(`${left.length} apps still running after the service stopped: ${left.join(' ')}`);

    // Figures.
    const afterWarm = samples.filter((s) => s.t * 1000 >= warmupMs);
    if (afterWarm.length < 2) throw new Error('run too short: fewer than 2 samples after the warm-up');
    const start = afterWarm[0];
    const end = afterWarm[afterWarm.length - 1];
    const middle = afterWarm.reduce((b, s) => (Math.abs(s.t - (start.t + end.t) / 2) < Math.abs(b.t - (start.t + end.t) / 2) ? s : b));
    const growth = (k, who = 'armsd') => (100 * (end[who][k] - start[who][k])) / start[who][k];
    const point = (s) => ({ t: s.t, armsd: s.armsd, reference: s.reference, logBytes: s.log.total });
    const cpuPercent = ((end.armsdCpuTicks - start.armsdCpuTicks) * TICK) / (end.t - start.t);
    const watchCap = (1 + CAPS.watch.keep) * CAPS.watch.maxBytes;
    const watchAllow = (1 + CAPS.watch.keep) * (CAPS.watch.maxBytes + perApp * (CHECK_MS / 1000) + 2 * LINE * (1 + perApp / LINE / 10));
    const clusterCap = (1 + CAPS.cluster.keep) * CAPS.cluster.maxBytes;
    const alertCap = (1 + CAPS.alert.keep) * CAPS.alert.maxBytes;
    const slack = 64 * 1024; // one batched write of the service's own logs
    const watchSizes = Object.values(endSizes.watches);
    const folderCap = opts.apps * watchAllow + clusterCap + alertCap + 2 * slack;
    const logMet = Math.max(...watchSizes) <= watchAllow && endSizes.cluster <= clusterCap + slack && endSizes.alert <= alertCap + slack && endSizes.total <= folderCap;
    const written = linesWritten * LINE;
    const result = {
      benchmark: NAME,
      date: new Date().toISOString(),
      machine: { cpu: os.cpus()[0]?.model, cpus: os.cpus().length, memoryGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version, os: `${os.type()} ${os.release()}`, loadavgAtEnd: os.loadavg() },
      options: { minutes: opts.minutes, apps: opts.apps, bytesPerSecond: opts.rate, logLinesPerSecond: opts.logRate, sampleSeconds: opts.sample, warmupSeconds: warmupMs / 1000 },
      caps: CAPS,
      appsStartedInSeconds: startedIn,
      logRequestsSent: logsSent,
      appOutputWrittenMB: written / 1e6,
      memoryKiB: { fresh, start: point(start), middle: point(middle), end: point(end) },
      growthPercent: {
        armsd: { rss: growth('rss'), pss: growth('pss'), uss: growth('uss') },
        reference: { rss: growth('rss', 'reference'), pss: growth('pss', 'reference'), uss: growth('uss', 'reference') },
      },
      armsdCpuPercentOfOneCore: cpuPercent,
      log: {
        endBytes: { total: endSizes.total, cluster: endSizes.cluster, alert: endSizes.alert, other: endSizes.other, watchMax: Math.max(...watchSizes), watchMin: Math.min(...watchSizes), watches: watchSizes.length },
        maxSeenBytes: maxLog,
        capBytes: { watchStrict: watchCap, watchWithOneCheck: Math.round(watchAllow), cluster: clusterCap, alert: alertCap, folderWithOneCheck: Math.round(folderCap) },
      },
      stopSeconds: stopS,
      targets: { memoryGrowthPercent: TARGETS.memoryGrowthPercent },
      met: {
        rss: growth('rss') < TARGETS.memoryGrowthPercent,
        pss: growth('pss') < TARGETS.memoryGrowthPercent,
        log: logMet,
      },
      samples,
    };
    fs.mkdirSync(path.dirname(opts.json), { recursive: true });
    fs.writeFileSync(opts.json, JSON.stringify(result, null, 2) + '\n');

    const mb = (b) => (b / 2 ** 20).toFixed(2);
    const row = (label, s) =>
      console.log(`  ${label.padEnd(8)} ${f1(s.t).padStart(6)} s  armsd RSS ${f1(MiB(s.armsd.rss)).padStart(6)}  PSS ${f1(MiB(s.armsd.pss)).padStart(6)}  USS ${f1(MiB(s.armsd.uss)).padStart(6)}   | idle node RSS ${f1(MiB(s.reference.rss)).padStart(5)}  PSS ${f1(MiB(s.reference.pss)).padStart(5)}  <- reference`);
    console.log(`${NAME}: ${opts.apps} apps printing ${(opts.rate / 1e6).toFixed(2)} MB/s in total for ${f1(last.t / 60)} min (${f1(written / 1e6)} MB written), ${opts.logRate} cluster-log lines/s (${logsSent} sent)`);
    console.log(`  caps: watch 1MB keep 2, cluster 5MB keep 2, alert 1MB keep 2; apps started with ARMLOAD in ${f1(startedIn)} s; warm-up ${f1(warmupMs / 1000)} s`);
    console.log(`  memory, MiB:`);
    console.log(`  fresh              armsd RSS ${f1(MiB(fresh.armsd.rss)).padStart(6)}  PSS ${f1(MiB(fresh.armsd.pss)).padStart(6)}  USS ${f1(MiB(fresh.armsd.uss)).padStart(6)}   (before the apps)`);
    row('start', start);
    row('middle', middle);
    row('end', end);
    const g = result.growthPercent;
    console.log(`  growth start -> end: armsd RSS ${g.armsd.rss.toFixed(1)} %, PSS ${g.armsd.pss.toFixed(1)} %, USS ${g.armsd.uss.toFixed(1)} %; idle node RSS ${g.reference.rss.toFixed(1)} %, PSS ${g.reference.pss.toFixed(1)} %`);
    console.log(`  target: growth under ${TARGETS.memoryGrowthPercent} %: RSS ${result.met.rss ? 'met' : 'MISSED'}, PSS ${result.met.pss ? 'met' : 'MISSED'}`);
    console.log(`  armsd CPU start -> end: ${cpuPercent.toFixed(2)} % of one core`);
    const L = result.log;
    console.log(`  log folder at the end: ${mb(L.endBytes.total)} MiB (largest seen ${mb(maxLog.total)}); cap with one check's growth ${mb(L.capBytes.folderWithOneCheck)} MiB`);
    console.log(`    each watch log + copies: ${mb(L.endBytes.watchMin)}-${mb(L.endBytes.watchMax)} MiB (largest seen ${mb(maxLog.watchMax)}); cap ${mb(watchCap)} MiB, ${mb(watchAllow)} with one check's growth`);
    console.log(`    cluster log + copies ${mb(L.endBytes.cluster)} MiB (cap ${mb(clusterCap)}), alert ${mb(L.endBytes.alert)} MiB (cap ${mb(alertCap)})`);
    console.log(`  target: log folder within the caps: ${result.met.log ? 'met' : 'MISSED'}`);
    console.log(`  service stopped with its ${opts.apps} watches in ${stopS.toFixed(2)} s; no app left`);
    if (opts.check && !(result.met.rss && result.met.pss && result.met.log)) process.exitCode = 2;
  } finally {
    cleanup();
    await Promise.all([svc, ref].map((p) => new Promise((r) => (p.exitCode !== null || p.signalCode !== null ? r() : p.once('exit', r)))));
    fs.rmSync(home, { recursive: true, force: true });
  }
}

main().catch((e) => {
  process.stderr.write(`${NAME}: ${e.message}\n`);
  process.exit(1);
});
