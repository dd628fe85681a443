#!/usr/bin/env node
// Benchmark: what ARMRSP costs in CPU and memory while it checks 10 disks, 10 addresses and 10 HTTP
// endpoints every second (issue 6: target under 2 % of one core and under 60 MB RSS). Linux only
// (it reads /proc). Needs a built dist/ (`npm run build`).
//
//   node bench/monitor-cost.js [--seconds S] [--warmup S] [--breakdown] [--only V,V] [--cpu-prof DIR]
//                              [--node-options "..."] [--json FILE] [--check]
//   defaults: 60 s per variant, 5 s warm-up. --breakdown: also each kind of resource alone (10 disks,
//   10 pings, 10 TCP connects, 10 HTTP GETs), --seconds each. --cpu-prof DIR: ARMRSP (not its
//   helper) runs with node's --cpu-prof, profiles written to DIR. --node-options: NODE_OPTIONS for
//   ARMRSP and its helper (experiments). --only: just these variants (ping,tcp,disks,pings,tcps,https).
//   --check: exit 2 when a target is missed.
//
// A real armsd in a temporary ARMS_HOME receives the reports (ARMS_WATCH_ID=RSP, as under ARMLOAD).
// Resources, all on this machine: 10 folders in the home (/DISK: the probe file's write, fsync,
// read back, delete, in ARMRSP's probe helper process); 10 addresses, in two variants run one after
// the other: (a) "ping" /IP 127.0.0.1 ... 127.0.0.10 (ICMP echoes from ARMRSP's native probe helper
// when it may open an ICMP socket, as root; else on Linux one long-lived `ping` per address), (b) "tcp"
// /IP 127.0.0.1:PORT for 10 TCP listeners of this benchmark; 10 /HTTP URLs, 10 paths of an HTTP
// server of this benchmark on 127.0.0.1. ARMRSP /INT 1 /TIMEOUT 5 /N 3.
// Each variant: ARMRSP is started (node bin/armrsp.js), --warmup seconds pass, then for --seconds:
//   CPU, from /proc/PID/stat at the start and the end of the window, % of one core:
//     ARMRSP alone          utime + stime of ARMRSP;
//     + helper              + utime + stime of the probe helper (a child of ARMRSP, still running:
//                           native arms-probe, or node disk-prober.js);
//     + ping children       + cutime + cstime of ARMRSP (its children that ended and were reaped
//                           in the window: one-shot pings, a restarted one) + what its other
//                           children running at the end of the window used in it (the long-lived
//                           pings, a one-shot ping under way);
//   memory, every 5 s: RSS, PSS and USS (/proc/PID/smaps_rollup) of ARMRSP, of its helper and of
//     its other children (pings) running at the moment of a sample, summed; reported: the largest
//     of the window, alone and together (ARMRSP + helper, and ARMRSP + helper + pings).
// Reference, measured over the same windows: an idle `node -e "setInterval(()=>{},1000)"`
// (memory and CPU). The work is checked: every resource must have been reported ok to the service
// (`status` monitors), the HTTP server must have answered each path and the listeners must have
// accepted about one connection a second each, and ARMRSP must not have printed FAILED.
// Targets: CPU under 2 % of one core, RSS under 60 MB (MB = 10^6 bytes), each way of counting
// reported. Writes bench/results/monitor-cost.json. Everything it started is stopped and the
// temporary home removed, also on a failure or Ctrl-C.
'use strict';

const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { sleep, usageOf } = require('./lib');

const ROOT = path.resolve(__dirname, '..');
const NAME = 'monitor-cost';
const TARGETS = { cpuPercent: 2, rssMB: 60 };
const N = 10;
const MEM_EVERY_MS = 5000;

const usage = () => usageOf(__filename);
function fail(msg) {
  process.stderr.write(`${NAME}: ${msg}\n`);
  process.exit(1);
}

function parseOptions(argv) {
  const o = { seconds: 60, warmup: 5, breakdown: false, cpuProf: null, nodeOptions: null, only: null, json: path.join(__dirname, 'results', 'monitor-cost.json'), check: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '-h' || a === '--help') {
      process.stdout.write(usage());
      process.exit(0);
    } else if (a === '--check') o.check = true;
    else if (a === '--breakdown') o.breakdown = true;
    else if (a === '--json') o.json = path.resolve(argv[++i] ?? '');
    else if (a === '--cpu-prof') o.cpuProf = path.resolve(argv[++i] ?? '');
    else if (a === '--node-options') o.nodeOptions = argv[++i] ?? '';
    else if (a === '--only') o.only = (argv[++i] ?? '').split(',');
    else if (a === '--seconds' || a === '--warmup') {
      const n = Number(argv[++i]);
      const [lo, hi] = a === '--seconds' ? [5, 3600] : [2, 120];
      if (!Number.isFinite(n) || n < lo || n > hi) fail(`${a} needs a number from ${lo} to ${hi} (got "${argv[i]}")`);
      o[a.slice(2)] = n;
    } else fail(`unknown argument "${a}" (try --help)`);
  }
  return o;
}

const opts = parseOptions(process.argv.slice(2));
if (process.platform !== 'linux') fail('Linux only (it reads /proc)');
if (!fs.existsSync(path.join(ROOT, 'dist', 'commands', 'armrsp.js'))) fail('dist/ is missing: run `npm run build` first');
const client = require(path.join(ROOT, 'dist', 'client', 'client.js'));
const { resolveHome } = require(path.join(ROOT, 'dist', 'platform', 'home.js'));

const HZ = Number(spawnSync('getconf', ['CLK_TCK']).stdout?.toString().trim()) || 100;

/** utime, stime, cutime, cstime in clock ticks. */
function cpuOf(pid) {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const r = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return { utime: Number(r[11]), stime: Number(r[12]), cutime: Number(r[13]), cstime: Number(r[14]) };
}
/** RSS, PSS, USS in kB from /proc/PID/smaps_rollup. */
function memoryOf(pid) {
  const text = fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const kb = (name) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN);
  return { rss: kb('Rss'), pss: kb('Pss'), uss: kb('Private_Clean') + kb('Private_Dirty') };
}
/** Children of pid (from /proc/PID/task/PID/children). */
function childrenOf(pid) {
  try {
    return fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}
function cmdlineOf(pid) {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return [];
  }
}
const waitExit = (p) => new Promise((r) => (p.exitCode !== null || p.signalCode !== null ? r() : p.once('exit', r)));

async function main() {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'arms-bench-monitor-cost-'));
  fs.writeFileSync(path.join(home, 'arms.yaml'), 'syslog: false\n');
  const env = { ...process.env, ARMS_HOME: home, PATH: `${path.join(ROOT, 'dist', 'path')}${path.delimiter}${process.env.PATH}` };
  const pipe = resolveHome(env).pipe;
  const started = []; // every child process, for the cleanup
  const servers = [];
  const cleanup = () => {
    for (const p of started) {
      try {
        p.kill('SIGKILL');
      } catch {}
    }
    for (const s of servers) s.close();
  };
  process.on('SIGINT', () => (cleanup(), fs.rmSync(home, { recursive: true, force: true }), process.exit(130)));
  process.on('SIGTERM', () => (cleanup(), fs.rmSync(home, { recursive: true, force: true }), process.exit(143)));

  const svc = spawn(process.execPath, [path.join(ROOT, 'bin', 'armsd.js')], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  started.push(svc);
  let said = '';
  svc.stderr.on('data', (d) => (said += d));
  const ref = spawn(process.execPath, ['-e', 'setInterval(()=>{},1000)'], { stdio: 'ignore' });
  started.push(ref);
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

    // The resources.
    const disks = Array.from({ length: N }, (_, i) => {
      const d = path.join(home, 'disks', `d${i + 1}`);
      fs.mkdirSync(d, { recursive: true });
      return d;
    });
    const accepted = new Map();
    const tcpPorts = [];
    for (let i = 0; i < N; i++) {
      const s = net.createServer((c) => {
        accepted.set(i, (accepted.get(i) ?? 0) + 1);
        c.on('error', () => {});
        c.destroy();
      });
      await new Promise((r, j) => s.listen(0, '127.0.0.1', r).once('error', j));
      servers.push(s);
      tcpPorts.push(s.address().port);
    }
    const served = new Map();
    const web = http.createServer((req, res) => {
      served.set(req.url, (served.get(req.url) ?? 0) + 1);
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(`ok ${req.url}\n`);
    });
    await new Promise((r, j) => web.listen(0, '127.0.0.1', r).once('error', j));
    servers.push(web);
    const urls = Array.from({ length: N }, (_, i) => `http://127.0.0.1:${web.address().port}/health/${i + 1}`);
    const pings = Array.from({ length: N }, (_, i) => `127.0.0.${i + 1}`);
    const tcps = tcpPorts.map((p) => `127.0.0.1:${p}`);

    const args = (o) => [
      ...(o.disks ? disks.flatMap((d) => ['/DISK', d]) : []),
      ...(o.ip ?? []).flatMap((a) => ['/IP', a]),
      ...(o.http ? urls.flatMap((u) => ['/HTTP', u]) : []),
      '/INT', '1', '/TIMEOUT', '5', '/N', '3',
    ];
    const variants = [
      { name: 'ping', label: '10 disks + 10 pings + 10 HTTP', args: args({ disks: true, ip: pings, http: true }), resources: 3 * N },
      { name: 'tcp', label: '10 disks + 10 TCP connects + 10 HTTP', args: args({ disks: true, ip: tcps, http: true }), resources: 3 * N },
    ];
    if (opts.breakdown) {
      variants.push(
        { name: 'disks', label: '10 disks alone', args: args({ disks: true }), resources: N },
        { name: 'pings', label: '10 pings alone', args: args({ ip: pings }), resources: N },
        { name: 'tcps', label: '10 TCP connects alone', args: args({ ip: tcps }), resources: N },
        { name: 'https', label: '10 HTTP GETs alone', args: args({ http: true }), resources: N },
      );
    }

    const results = [];
    for (const v of variants.filter((x) => !opts.only || opts.only.includes(x.name))) {
      accepted.clear();
      served.clear();
      const nodeArgs = opts.cpuProf ? ['--cpu-prof', '--cpu-prof-dir', opts.cpuProf, '--cpu-prof-name', `armrsp-${v.name}.cpuprofile`] : [];
      const rsp = spawn(process.execPath, [...nodeArgs, path.join(ROOT, 'bin', 'armrsp.js'), ...v.args], { env: { ...env, ARMS_WATCH_ID: `RSP-${v.name}`, ...(opts.nodeOptions !== null ? { NODE_OPTIONS: opts.nodeOptions } : {}) }, stdio: ['ignore', 'pipe', 'pipe'] });
      started.push(rsp);
      let out = '';
      rsp.stdout.on('data', (d) => (out = (out + d).slice(-100_000)));
      rsp.stderr.on('data', (d) => (out = (out + d).slice(-100_000)));
      await sleep(opts.warmup * 1000);
      if (rsp.exitCode !== null) throw new Error(`ARMRSP (${v.name}) exited ${rsp.exitCode}: ${out.trim().slice(-2000)}`);
      // The probe helper: ARMRSP's child running the native arms-probe or node's disk-prober.js.
      const isHelper = (c) => cmdlineOf(c).some((a) => /[\\/](arms-probe|disk-prober\.js)$/.test(a));
      // With /DISK it is always there; with /IP only, once an echo was asked of it.
      const helper = childrenOf(rsp.pid).find(isHelper);
      const helperKind = helper ? (cmdlineOf(helper).some((a) => a.endsWith('disk-prober.js')) ? 'node' : 'native') : null;
      if (v.args.includes('/DISK') && !helper) throw new Error(`ARMRSP (${v.name}): no probe helper process found`);
      const servedBefore = new Map(served);
      const acceptedBefore = new Map(accepted);
      const others = () => childrenOf(rsp.pid).filter((c) => c !== helper);
      const liveCpu = () => new Map(others().map((c) => { try { const x = cpuOf(c); return [c, x.utime + x.stime]; } catch { return [c, 0]; } }));
      const liveMem = () => others().reduce((a, c) => { try { const m = memoryOf(c); return { rss: a.rss + m.rss, pss: a.pss + m.pss, uss: a.uss + m.uss, count: a.count + 1 }; } catch { return a; } }, { rss: 0, pss: 0, uss: 0, count: 0 });
      const live0 = liveCpu();
      const c0 = { rsp: cpuOf(rsp.pid), helper: helper ? cpuOf(helper) : null, ref: cpuOf(ref.pid) };
      const t0 = process.hrtime.bigint();
      const mem = [];
      const endAt = Date.now() + opts.seconds * 1000;
      for (;;) {
        mem.push({ rsp: memoryOf(rsp.pid), helper: helper ? memoryOf(helper) : null, children: liveMem(), ref: memoryOf(ref.pid) });
        const left = endAt - Date.now();
        if (left <= 0) break;
        await sleep(Math.min(MEM_EVERY_MS, left));
        if (rsp.exitCode !== null) throw new Error(`ARMRSP (${v.name}) exited ${rsp.exitCode}: ${out.trim().slice(-2000)}`);
      }
      const c1 = { rsp: cpuOf(rsp.pid), helper: helper ? cpuOf(helper) : null, ref: cpuOf(ref.pid) };
      const live1 = liveCpu();
      const wall = Number(process.hrtime.bigint() - t0) / 1e9;
      // The work was real.
      const st = await client.call(pipe, 'status', {}, 5000);
      const mine = (st.monitors ?? []).filter((m) => m.monitor === `RSP-${v.name}`);
      const bad = mine.filter((m) => m.ok !== true);
      if (mine.length !== v.resources) throw new Error(`ARMRSP (${v.name}): the service shows ${mine.length} resources, not ${v.resources}`);
      if (bad.length) throw new Error(`ARMRSP (${v.name}): not ok: ${bad.map((m) => `${m.resource} ${m.detail}`).join('; ')}`);
      if (/FAILED/.test(out)) throw new Error(`ARMRSP (${v.name}) reported a failure: ${out.split('\n').find((l) => /FAILED/.test(l))}`);
      const delta = (m, b) => [...m.entries()].map(([k, n]) => n - (b.get(k) ?? 0));
      const checksHttp = v.args.includes('/HTTP') ? delta(served, servedBefore) : [];
      const checksTcp = v.args.some((a) => /^127\.0\.0\.1:\d+$/.test(a)) ? delta(accepted, acceptedBefore) : [];
      for (const [what, counts] of [['HTTP GETs per path', checksHttp], ['TCP connects per listener', checksTcp]]) {
        if (counts.length && (counts.length !== N || Math.min(...counts) < 0.8 * wall)) throw new Error(`ARMRSP (${v.name}): ${what} over ${wall.toFixed(0)} s: ${counts.join(' ')} (expected about one a second each)`);
      }
      rsp.kill('SIGTERM');
      await waitExit(rsp);
      if (helper) {
        for (let i = 0; i < 100 && fs.existsSync(`/proc/${helper}`); i++) await sleep(20);
        if (fs.existsSync(`/proc/${helper}`)) throw new Error(`the probe helper ${helper} outlived ARMRSP`);
      }

      const pct = (ticks) => (100 * ticks) / HZ / wall;
      const own = c1.rsp.utime + c1.rsp.stime - c0.rsp.utime - c0.rsp.stime;
      const helperTicks = helper ? c1.helper.utime + c1.helper.stime - c0.helper.utime - c0.helper.stime : 0;
      // Children other than the helper: those reaped in the window (cutime, cstime of ARMRSP), plus
      // those running at its end (what they used in the window; all of it when started in it).
      const liveTicks = [...live1].reduce((a, [c, t]) => a + t - (live0.get(c) ?? 0), 0);
      const children = c1.rsp.cutime + c1.rsp.cstime - c0.rsp.cutime - c0.rsp.cstime + liveTicks;
      const refTicks = c1.ref.utime + c1.ref.stime - c0.ref.utime - c0.ref.stime;
      const maxOf = (f) => Math.max(...mem.map(f));
      const MB = (kB) => (kB * 1024) / 1e6;
      const r = {
        variant: v.name,
        label: v.label,
        args: v.args.map((a) => a.replace(home, '$HOME')),
        seconds: wall,
        helper: helperKind,
        checks: { httpPerPath: checksHttp, tcpPerListener: checksTcp },
        cpuPercent: {
          armrsp: pct(own),
          helper: pct(helperTicks),
          pingChildren: pct(children),
          armrspPlusHelper: pct(own + helperTicks),
          total: pct(own + helperTicks + children),
          idleNode: pct(refTicks),
        },
        cpuTicks: { armrsp: { user: c1.rsp.utime - c0.rsp.utime, system: c1.rsp.stime - c0.rsp.stime }, helper: helper ? { user: c1.helper.utime - c0.helper.utime, system: c1.helper.stime - c0.helper.stime } : null, children, idleNode: refTicks, hz: HZ },
        memoryMB: {
          armrspRss: MB(maxOf((m) => m.rsp.rss)),
          armrspPss: MB(maxOf((m) => m.rsp.pss)),
          armrspUss: MB(maxOf((m) => m.rsp.uss)),
          helperRss: helper ? MB(maxOf((m) => m.helper.rss)) : 0,
          helperPss: helper ? MB(maxOf((m) => m.helper.pss)) : 0,
          helperUss: helper ? MB(maxOf((m) => m.helper.uss)) : 0,
          totalRss: MB(maxOf((m) => m.rsp.rss + (m.helper?.rss ?? 0))),
          totalPss: MB(maxOf((m) => m.rsp.pss + (m.helper?.pss ?? 0))),
          childrenRss: MB(maxOf((m) => m.children.rss)),
          childrenPss: MB(maxOf((m) => m.children.pss)),
          childrenUss: MB(maxOf((m) => m.children.uss)),
          childrenCount: maxOf((m) => m.children.count),
          allRss: MB(maxOf((m) => m.rsp.rss + (m.helper?.rss ?? 0) + m.children.rss)),
          allPss: MB(maxOf((m) => m.rsp.pss + (m.helper?.pss ?? 0) + m.children.pss)),
          idleNodeRss: MB(maxOf((m) => m.ref.rss)),
          idleNodePss: MB(maxOf((m) => m.ref.pss)),
          idleNodeUss: MB(maxOf((m) => m.ref.uss)),
        },
        memorySamplesKiB: mem,
      };
      r.met = {
        cpuArmrsp: r.cpuPercent.armrsp < TARGETS.cpuPercent,
        cpuWithHelper: r.cpuPercent.armrspPlusHelper < TARGETS.cpuPercent,
        cpuTotal: r.cpuPercent.total < TARGETS.cpuPercent,
        rssArmrsp: r.memoryMB.armrspRss < TARGETS.rssMB,
        rssWithHelper: r.memoryMB.totalRss < TARGETS.rssMB,
        pssWithHelper: r.memoryMB.totalPss < TARGETS.rssMB,
        rssAll: r.memoryMB.allRss < TARGETS.rssMB,
        pssAll: r.memoryMB.allPss < TARGETS.rssMB,
      };
      results.push(r);
      process.stderr.write(`${NAME}: ${v.name}: CPU ${r.cpuPercent.total.toFixed(2)} % total, RSS ${r.memoryMB.allRss.toFixed(1)} MB total\n`);
    }

    const result = {
      benchmark: NAME,
      date: new Date().toISOString(),
      machine: { cpu: os.cpus()[0]?.model, cpus: os.cpus().length, memoryGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version, os: `${os.type()} ${os.release()}`, loadavgAtEnd: os.loadavg() },
      options: { seconds: opts.seconds, warmup: opts.warmup, breakdown: opts.breakdown, cpuProf: Boolean(opts.cpuProf), nodeOptions: opts.nodeOptions, only: opts.only },
      targets: TARGETS,
      variants: results,
    };
    fs.mkdirSync(path.dirname(opts.json), { recursive: true });
    fs.writeFileSync(opts.json, JSON.stringify(result, null, 2) + '\n');

    const f = (x, d = 2) => x.toFixed(d);
    const yn = (b) => (b ? 'met' : 'MISSED');
    console.log(`${NAME}: ARMRSP /INT 1, ${opts.seconds} s per variant after ${opts.warmup} s warm-up; CPU in % of one core, memory in MB (10^6 B), largest of the window`);
    for (const r of results) {
      const c = r.cpuPercent;
      const m = r.memoryMB;
      console.log(`  ${r.label}${r.helper ? ` (${r.helper} probe helper)` : ''}:`);
      console.log(`    CPU  ARMRSP ${f(c.armrsp)}  + helper ${f(c.helper)} = ${f(c.armrspPlusHelper)}  + ping children ${f(c.pingChildren)} = ${f(c.total)}   | idle node ${f(c.idleNode)}  <- reference`);
      console.log(`    RSS  ARMRSP ${f(m.armrspRss, 1)}  + helper ${f(m.helperRss, 1)} = ${f(m.totalRss, 1)}   | idle node ${f(m.idleNodeRss, 1)}  <- reference`);
      console.log(`    PSS  ARMRSP ${f(m.armrspPss, 1)}  + helper ${f(m.helperPss, 1)} = ${f(m.totalPss, 1)}   | idle node ${f(m.idleNodePss, 1)}`);
      console.log(`    other children at a sample (pings, up to ${m.childrenCount}): RSS up to ${f(m.childrenRss, 1)}, PSS up to ${f(m.childrenPss, 1)}, USS up to ${f(m.childrenUss, 1)}`);
      console.log(`    all together (ARMRSP + helper + pings): RSS ${f(m.allRss, 1)}, PSS ${f(m.allPss, 1)}`);
      console.log(`    USS  ARMRSP ${f(m.armrspUss, 1)}  + helper ${f(m.helperUss, 1)}   | idle node ${f(m.idleNodeUss, 1)}`);
      if (r.variant === 'ping' || r.variant === 'tcp') {
        console.log(`    target CPU < ${TARGETS.cpuPercent} %: ARMRSP alone ${yn(r.met.cpuArmrsp)}, + helper ${yn(r.met.cpuWithHelper)}, + children ${yn(r.met.cpuTotal)};` + ` RSS < ${TARGETS.rssMB} MB: ARMRSP alone ${yn(r.met.rssArmrsp)}, + helper ${yn(r.met.rssWithHelper)}, + pings ${yn(r.met.rssAll)} (PSS ${yn(r.met.pssAll)})`);
      }
    }
    const main2 = results.filter((r) => r.variant === 'ping' || r.variant === 'tcp');
    if (opts.check && main2.some((r) => !r.met.cpuTotal || !r.met.rssAll)) process.exitCode = 2;
  } finally {
    cleanup();
    await Promise.all(started.map(waitExit));
    fs.rmSync(home, { recursive: true, force: true });
  }
}

main().catch((e) => {
  process.stderr.write(`${NAME}: ${e.message}\n`);
  process.exit(1);
});
