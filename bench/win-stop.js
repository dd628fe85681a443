#!/usr/bin/env node
// Benchmark (issue 15): group stop and failover time with ARMKILL in the stop script, under the
// Windows service (node.exe and cmd.exe under Wine, through /work/shared/tools/winenode) beside the
// Linux service (the same .bat files through the batch interpreter), not as a target.
//
//   node bench/win-stop.js [--runs N] [--json FILE]     (default 5 runs; needs `npm run build` and Wine)
//
// Group G: START.BAT runs `ARMLOAD APP node -e "setInterval(...)"` (a windowless console program),
// STOP.BAT runs `ARMKILL APP`. Each run: `arms group start G`, then `arms group stop G`, then start
// again and `ARMFOVER /W G`. The figures come from the service's own cluster log, so the time of
// the client under Wine is not in them: stop = "stopping" to "offline"; failover = "failover
// requested" to "online". Reference, measured in the same run: the same steps under the Linux
// service. Before issue 15, a Windows ARMKILL waited its whole /T (10 s) for a polite stop that
// taskkill cannot give a console program: 15-22 s per group stop or failover.
'use strict';

const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { median, r2, sleep, summary } = require('./lib');

const ROOT = path.resolve(__dirname, '..');
const WINENODE = process.env.WINENODE || '/work/shared/tools/winenode';
const WINEPREFIX = process.env.ARMS_TEST_WINEPREFIX || path.join(os.homedir(), '.cache', 'winenode', 'prefix-arms-test');
const args = process.argv.slice(2);
const opt = (name, dflt) => (args.includes(name) ? args[args.indexOf(name) + 1] : dflt);
const RUNS = Number(opt('--runs', 5));
const JSON_OUT = path.resolve(opt('--json', path.join(__dirname, 'results', 'win-stop.json')));
if (!Number.isInteger(RUNS) || RUNS < 1 || RUNS > 50) throw new Error('--runs: 1 to 50');
if (!fs.existsSync(path.join(ROOT, 'dist', 'service', 'main.js'))) {
  console.error('win-stop: dist/ is missing: run `npm run build` first');
  process.exit(1);
}

// Run by hand (like npm run test:windows): without Wine, `npm run bench` skips it.
if (!fs.existsSync(WINENODE) || spawnSync('sh', ['-c', 'command -v wine'], { stdio: 'ignore' }).status !== 0) {
  console.log(`win-stop: skipped: needs Wine and ${WINENODE} (run it by hand where they are)`);
  process.exit(0);
}

const wineEnv = (extra) => {
  const env = { ...process.env, WINEPREFIX, WINEDEBUG: '-all', ...extra };
  for (const k of ['ARMS_PIPE', 'ARMS_GROUPNAME']) delete env[k];
  return env;
};
const winePath = (p) => spawnSync('winepath', ['-w', p], { env: wineEnv(), encoding: 'utf8' }).stdout.trim();
function winenode(argv, extra = {}) {
  const r = spawnSync(WINENODE, argv, { env: wineEnv(extra), encoding: 'utf8', timeout: 300_000 });
  if (process.env.WIN_STOP_TRACE) process.stderr.write(`win-stop: ${argv.slice(1).join(' ')} -> ${r.status}\n`);
  return Promise.resolve({ code: r.status, out: `${r.stdout}${r.stderr}` });
}

function writeGroup(home, eol) {
  const dir = path.join(home, 'groups', 'G');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'START.BAT'), ['@ECHO OFF', 'ARMLOAD APP node -e "setInterval(() => {}, 1000)"', ''].join(eol));
  fs.writeFileSync(path.join(dir, 'STOP.BAT'), ['@ECHO OFF', 'ARMKILL APP', ''].join(eol));
  fs.writeFileSync(path.join(home, 'arms.yaml'), 'syslog: false\ngroups:\n  G:\n    start: START.BAT\n    stop: STOP.BAT\n    maxFailovers: 1000\n');
}

/** stop: "stopping" -> "offline"; failover: "failover requested" -> "online", from the cluster log. */
function figures(home) {
  const recs = fs.readFileSync(path.join(home, 'log', 'cluster.log'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)).filter((r) => r.group === 'G' && r.src === 'armsd');
  const t = (r) => Date.parse(r.time);
  const stops = [];
  const failovers = [];
  // the scripts' own time (spawn to exit, as the service measured it) within each
  const stopScripts = [];
  const failoverScripts = [];
  let stopping = null;
  let failover = null;
  let scripts = 0;
  for (const r of recs) {
    const ran = /^(start|stop) script \S+ \(.*\) exited with code 0 in (\d+) ms$/.exec(r.msg);
    if (ran) scripts += Number(ran[2]);
    if (/^failover of group G requested/.test(r.msg)) (failover = t(r)), (scripts = 0);
    else if (/^group G stopping \(GROUPSTOP\)/.test(r.msg)) (stopping = t(r)), (scripts = 0);
    else if (r.msg === 'group G offline' && stopping !== null && failover === null) {
      stops.push(t(r) - stopping);
      stopScripts.push(scripts);
      stopping = null;
    } else if (r.msg === 'group G online' && failover !== null) {
      failovers.push(t(r) - failover);
      failoverScripts.push(scripts);
      failover = null;
    }
  }
  return { stops, failovers, stopScripts, failoverScripts };
}

async function windows() {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'arms-bench-winstop-'));
  const home = path.join(tmp, 'home');
  const pkg = path.join(tmp, 'pkg');
  // The package as installed on Windows (its commands folder written by the service itself).
  fs.mkdirSync(pkg);
  fs.copyFileSync(path.join(ROOT, 'package.json'), path.join(pkg, 'package.json'));
  fs.cpSync(path.join(ROOT, 'bin'), path.join(pkg, 'bin'), { recursive: true });
  fs.cpSync(path.join(ROOT, 'dist'), path.join(pkg, 'dist'), { recursive: true, filter: (s) => s !== path.join(ROOT, 'dist', 'path') });
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(pkg, 'node_modules'));
  writeGroup(home, '\r\n');
  // Wine's own processes (started by the first program of a fresh prefix) would inherit the
  // stdout of whichever command started them, and hold it open: start them with none.
  spawnSync(WINENODE, ['path'], { env: wineEnv(), stdio: 'ignore', timeout: 600_000 });
  const homeWin = winePath(home);
  const bin = (n) => winePath(path.join(pkg, 'bin', `${n}.js`));
  const svc = spawn(WINENODE, ['node', bin('armsd')], { env: wineEnv({ ARMS_HOME: homeWin }), stdio: 'ignore', detached: true });
  const arms = (a) => winenode(['node', bin('arms'), ...a], { ARMS_HOME: homeWin });
  try {
    for (let i = 0; (await arms(['service', 'status'])).code !== 0; i++) {
      if (i > 120) throw new Error('the Windows armsd did not answer');
      await sleep(1000);
    }
    for (let i = 0; i < RUNS; i++) {
      if ((await arms(['group', 'start', 'G'])).code !== 0) throw new Error('start failed');
      if ((await arms(['group', 'stop', 'G'])).code !== 0) throw new Error('stop failed');
      if ((await arms(['group', 'start', 'G'])).code !== 0) throw new Error('start failed');
      const f = await winenode(['node', bin('armfover'), '/W', 'G'], { ARMS_HOME: homeWin });
      if (f.code !== 0) throw new Error(`ARMFOVER failed: ${f.out}`);
      if ((await arms(['group', 'stop', 'G'])).code !== 0) throw new Error('stop failed');
    }
    await arms(['service', 'stop']);
    return figures(home);
  } finally {
    try {
      process.kill(-svc.pid, 'SIGKILL');
    } catch {}
    spawnSync('wineserver', ['-k'], { env: wineEnv() });
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

async function linux() {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'arms-bench-winstop-linux-'));
  writeGroup(home, '\n');
  const env = { ...process.env, ARMS_HOME: home, PATH: `${path.join(ROOT, 'dist', 'path')}${path.delimiter}${process.env.PATH}` };
  const svc = spawn(process.execPath, [path.join(ROOT, 'bin', 'armsd.js')], { env, stdio: 'ignore' });
  const run = (cmd, a) => spawnSync(path.join(ROOT, 'dist', 'path', cmd), a, { env, encoding: 'utf8' });
  try {
    for (let i = 0; run('arms', ['service', 'status']).status !== 0; i++) {
      if (i > 200) throw new Error('armsd did not answer');
      await sleep(50);
    }
    for (let i = 0; i < RUNS; i++) {
      run('arms', ['group', 'start', 'G']);
      run('arms', ['group', 'stop', 'G']);
      run('arms', ['group', 'start', 'G']);
      run('ARMFOVER', ['/W', 'G']);
      run('arms', ['group', 'stop', 'G']);
    }
    // (Not `arms service stop`: it waits for armsd's pid, which stays a zombie of this process
    // while spawnSync blocks it.)
    svc.kill('SIGTERM');
    await new Promise((r) => svc.once('exit', r));
    return figures(home);
  } finally {
    svc.kill('SIGKILL');
    fs.rmSync(home, { recursive: true, force: true });
  }
}

async function main() {
  const lin = await linux();
  const win = await windows();
  const view = (x) => ({
    stopMs: summary(x.stops),
    stopScriptsMs: summary(x.stopScripts),
    stopBeyondScriptsMs: summary(x.stops.map((v, i) => v - x.stopScripts[i])),
    failoverMs: summary(x.failovers),
    failoverScriptsMs: summary(x.failoverScripts),
    failoverBeyondScriptsMs: summary(x.failovers.map((v, i) => v - x.failoverScripts[i])),
  });
  const result = {
    runs: RUNS,
    linux: view(lin),
    wine: view(win),
    ratio: { stop: r2(median(win.stops) / median(lin.stops)), failover: r2(median(win.failovers) / median(lin.failovers)) },
    before: 'issue 15: 14.6-22 s per group stop or failover under Wine (ARMKILL waited its /T)',
  };
  const line = (what, w, l) => console.log(`${what}: Wine median ${w.median} ms, Linux ${l.median} ms`);
  line('group stop with ARMKILL          ', result.wine.stopMs, result.linux.stopMs);
  line('  of which the stop script ran    ', result.wine.stopScriptsMs, result.linux.stopScriptsMs);
  line('failover with ARMKILL            ', result.wine.failoverMs, result.linux.failoverMs);
  line('  of which the two scripts ran    ', result.wine.failoverScriptsMs, result.linux.failoverScriptsMs);
  console.log(`ratio Wine/Linux: stop x${result.ratio.stop}, failover x${result.ratio.failover}`);
  fs.mkdirSync(path.dirname(JSON_OUT), { recursive: true });
  fs.writeFileSync(JSON_OUT, JSON.stringify(result, null, 2) + '\n');
}

main().catch((e) => {
  console.error(`win-stop: ${e.message}`);
  process.exit(1);
});
