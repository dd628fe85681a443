// What the benchmarks share: statistics, bounded waits, and the processes and temporary home a
// benchmark starts, which are stopped and removed when it ends, whatever happens (its end, a
// failure, Ctrl-C). Not a benchmark itself (bench/run.js skips it).
'use strict';

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { isMainThread } = require('node:worker_threads');

const ROOT = path.resolve(__dirname, '..');

// ---------------------------------------------------------------------------------------------
// statistics

function sorted(xs) {
  return [...xs].sort((a, b) => a - b);
}
/** the middle value; of an even count, the mean of the two middle ones */
function median(xs) {
  const s = sorted(xs);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
/** nearest-rank percentile */
function pct(xs, p) {
  const s = sorted(xs);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}
function mean(xs) {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}
function r2(x) {
  return Math.round(x * 100) / 100;
}
function r3(x) {
  return Math.round(x * 1000) / 1000;
}
function summary(xs) {
  return { n: xs.length, median: r2(median(xs)), p95: r2(pct(xs, 95)), mean: r2(mean(xs)), min: r2(Math.min(...xs)), max: r2(Math.max(...xs)) };
}
function msSince(t0) {
  return Number(process.hrtime.bigint() - t0) / 1e6;
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Rejects after `ms`: every wait of a benchmark is bounded. */
function within(ms, what, promise) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: no result within ${ms / 1000} s`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** The comment at the top of a benchmark's file (after the #! line): its usage text. */
function usageOf(file) {
  const lines = fs.readFileSync(file, 'utf8').split('\n').slice(1);
  return lines.slice(0, lines.findIndex((l) => !l.startsWith('//'))).map((l) => l.replace(/^\/\/ ?/, '')).join('\n') + '\n';
}

// ---------------------------------------------------------------------------------------------
// the processes a benchmark starts

/**
 * Node processes (`start`) and a temporary home (`makeHome`) that `cleanupSync` kills and removes;
 * it runs on exit and on SIGINT/SIGTERM/SIGHUP by itself. `hooks.beforeKill(children)` and
 * `hooks.afterKill()` let a benchmark find and stop what the children started.
 */
function tracked(name, hooks = {}) {
  const children = new Set();
  let home = null;

  /** Starts node with `args` (or the program `file`, when given) as a tracked child. */
  function start(args, env, label, file = process.execPath) {
    const proc = spawn(file, args, { env, cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const keep = (d) => {
      if (out.length < 20_000) out += d;
    };
    proc.stdout.on('data', keep);
    proc.stderr.on('data', keep);
    const exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
    proc.on('error', (e) => keep(`spawn error: ${e.message}\n`));
    const child = { proc, label, exited, output: () => out, alive: true };
    exited.then(() => {
      child.alive = false;
      children.delete(child);
    });
    children.add(child);
    return child;
  }

  async function stop(child, graceMs = 5000) {
    if (!child.alive) return child.exited;
    child.proc.kill('SIGTERM');
    try {
      return await within(graceMs, `${child.label} stop`, child.exited);
    } catch {
      child.proc.kill('SIGKILL');
      return within(2000, `${child.label} kill`, child.exited).catch(() => ({ code: null, signal: 'SIGKILL' }));
    }
  }

  function makeHome() {
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'arms-bench-'));
    return home;
  }

  /** Last resort: nothing may be left running, nor the temporary home left behind. */
  function cleanupSync() {
    hooks.beforeKill?.(children);
    for (const c of children) {
      try {
        c.proc.kill('SIGKILL');
      } catch {
        /* gone */
      }
    }
    children.clear();
    hooks.afterKill?.();
    if (home) {
      fs.rmSync(home, { recursive: true, force: true });
      home = null;
    }
  }

  if (isMainThread) {
    process.on('exit', cleanupSync);
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
      process.on(sig, () => {
        process.stderr.write(`${name}: ${sig}; stopping what was started\n`);
        cleanupSync();
        process.exit(130);
      });
    }
  }
  /** services that ended while the benchmark still needed them (shown on failure) */
  const exitedServices = [];

  /** A real armsd (node `nodeArgs` bin/armsd.js) with this environment, once it answers ping. */
  async function startService(client, env, label = 'armsd', nodeArgs = []) {
    const pipe = require(path.join(ROOT, 'dist', 'platform', 'home.js')).resolveHome(env).pipe;
    const svc = start([...nodeArgs, path.join(ROOT, 'bin', 'armsd.js')], env, label);
    svc.pipe = pipe;
    const t0 = process.hrtime.bigint();
    const deadline = Date.now() + 15_000;
    for (;;) {
      if (!svc.alive) throw new Error(`${label} exited before answering ping:\n${svc.output()}`);
      try {
        const info = await client.call(pipe, 'ping', {}, 2000);
        svc.startMs = msSince(t0);
        svc.info = info;
        svc.exited.then(() => {
          if (!svc.stopping) exitedServices.push(svc);
        });
        return svc;
      } catch (e) {
        if (Date.now() > deadline) throw new Error(`${label} did not answer ping on ${pipe} within 15 s (${e.message}):\n${svc.output()}`);
        await sleep(20);
      }
    }
  }

  return { children, exitedServices, start, stop, makeHome, startService, cleanupSync };
}

module.exports = { ROOT, sorted, median, pct, mean, r2, r3, summary, msSince, sleep, within, usageOf, tracked };
