#!/usr/bin/env node
// Benchmark: from the last permitted crash of a watched application to its group online again with
// FAILOVER, minus the scripts' own run time (issue 5: target under 50 ms of service overhead).
//
//   node bench/failover.js [--runs N] [--json FILE]      (default 30 runs; needs `npm run build`)
//
// A real armsd in a temporary home; a group whose start script runs `ARMLOAD APP /M /FOV sleep`
// (monitor only: the first crash is the last permitted one) and whose stop script runs
// `ARMKILL APP`. Each run: kill -9 the application, poll the service's status over the pipe every
// 2 ms until the group is online with a finished FAILOVER start. The scripts' own time is what the
// service measured for the stop and the start script (spawn to exit, in its log): the reference,
// measured in the same run. Overhead = total - scripts. Writes bench/results/failover.json.
'use strict';

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { median, pct, sleep } = require('./lib');

const ROOT = path.resolve(__dirname, '..');
const TARGET_MS = 50;

const args = process.argv.slice(2);
const opt = (name, dflt) => (args.includes(name) ? args[args.indexOf(name) + 1] : dflt);
const RUNS = Number(opt('--runs', 30));
const JSON_OUT = path.resolve(opt('--json', path.join(__dirname, 'results', 'failover.json')));
if (!Number.isInteger(RUNS) || RUNS < 1 || RUNS > 500) throw new Error('--runs: 1 to 500');
if (!fs.existsSync(path.join(ROOT, 'dist', 'service', 'main.js'))) {
  console.error('failover: dist/ is missing: run `npm run build` first');
  process.exit(1);
}
const { call } = require(path.join(ROOT, 'dist', 'client', 'client.js'));
const { resolveHome } = require(path.join(ROOT, 'dist', 'platform', 'home.js'));


async function main() {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'arms-bench-failover-'));
  const dir = path.join(home, 'groups', 'G');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'start.sh'), 'ARMLOAD APP /M /FOV sleep 100000\n');
  fs.writeFileSync(path.join(dir, 'stop.sh'), 'ARMKILL APP\n');
  fs.writeFileSync(path.join(home, 'arms.yaml'), 'syslog: false\ngroups:\n  G:\n    start: start.sh\n    stop: stop.sh\n    maxFailovers: 1000\n');
  const env = { ...process.env, ARMS_HOME: home, PATH: `${path.join(ROOT, 'dist', 'path')}${path.delimiter}${process.env.PATH}` };
  const pipe = resolveHome(env).pipe;
  const svc = spawn(process.execPath, [path.join(ROOT, 'bin', 'armsd.js')], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let said = '';
  svc.stderr.on('data', (d) => (said += d));
  const cleanup = () => {
    try {
      svc.kill('SIGTERM');
    } catch {}
  };
  process.on('SIGINT', () => (cleanup(), process.exit(130)));
  try {
    for (let i = 0; ; i++) {
      try {
        await call(pipe, 'ping', {}, 1000);
        break;
      } catch {
        if (i > 300 || svc.exitCode !== null) throw new Error(`armsd did not answer: ${said.trim()}`);
        await sleep(20);
      }
    }
    const status = () => call(pipe, 'status', {}, 5000);
    await call(pipe, 'group.start', { name: 'G', wait: true }, 0);
    const logFile = path.join(home, 'log', 'cluster.log');
    const totals = [];
    const scripts = [];
    for (let run = 0; run < RUNS + 1; run++) {
      const before = (await status()).watches.find((w) => w.id === 'APP');
      if (!before || before.pid === null) throw new Error('the application is not running');
      const logSize = fs.statSync(logFile).size;
      const t0 = process.hrtime.bigint();
      process.kill(before.pid, 'SIGKILL');
      for (let polls = 0; ; polls++) {
        const g = (await status()).groups[0];
        if (g.state === 'online' && g.startedAs === 'FAILOVER' && g.lastEvent.result === 'ok' && g.failovers.recent === run + 1) break;
        if (g.state === 'error') throw new Error(`group in error: ${g.lastError?.message}`);
        if (polls > 15_000) throw new Error('no failover within 30 s');
        await sleep(2);
      }
      const total = Number(process.hrtime.bigint() - t0) / 1e6;
      // What the service measured for the two scripts, from the log lines of this run.
      const fd = fs.openSync(logFile, 'r');
      const buf = Buffer.alloc(fs.statSync(logFile).size - logSize);
      fs.readSync(fd, buf, 0, buf.length, logSize);
      fs.closeSync(fd);
      const ms = buf
        .toString()
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l).msg)
        .map((m) => /^(start|stop) script .* in (\d+) ms$/.exec(m))
        .filter(Boolean)
        .reduce((sum, m) => sum + Number(m[2]), 0);
      if (run === 0) continue; // warm-up
      totals.push(total);
      scripts.push(ms);
    }
    const overhead = totals.map((t, i) => t - scripts[i]);
    const result = {
      benchmark: 'failover',
      date: new Date().toISOString(),
      machine: { cpu: os.cpus()[0]?.model, cpus: os.cpus().length, memoryGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version, os: `${os.type()} ${os.release()}` },
      runs: RUNS,
      totalMs: { median: median(totals), p95: pct(totals, 95) },
      scriptsMs: { median: median(scripts), p95: pct(scripts, 95) },
      overheadMs: { median: median(overhead), p95: pct(overhead, 95), max: Math.max(...overhead) },
      overheadRatioToScripts: median(overhead) / median(scripts),
      targetOverheadMs: TARGET_MS,
      met: median(overhead) < TARGET_MS,
    };
    fs.mkdirSync(path.dirname(JSON_OUT), { recursive: true });
    fs.writeFileSync(JSON_OUT, JSON.stringify(result, null, 2) + '\n');
    const f = (x) => x.toFixed(1);
    console.log(`failover: crash of the watched app -> group online with FAILOVER, ${RUNS} runs`);
    console.log(`  total          median ${f(result.totalMs.median)} ms, p95 ${f(result.totalMs.p95)} ms`);
    console.log(`  scripts' own   median ${f(result.scriptsMs.median)} ms (stop + start, as the service timed them)  <- reference`);
    console.log(`  service        median ${f(result.overheadMs.median)} ms, p95 ${f(result.overheadMs.p95)} ms = ${result.overheadRatioToScripts.toFixed(2)} x the scripts' time`);
    console.log(`  target: service overhead under ${TARGET_MS} ms: ${result.met ? 'met' : 'MISSED'}`);
  } finally {
    cleanup();
    await new Promise((r) => (svc.exitCode !== null ? r() : svc.once('exit', r)));
    fs.rmSync(home, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(`failover: ${e.message}`);
  process.exit(1);
});
