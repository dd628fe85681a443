#!/usr/bin/env node
// Benchmark: the batch interpreter as the service runs a group script, against bash, in the same run.
// Issue 14, acceptance 5 (the headline): a 1,000-iteration FOR /F loop over a file and a 200-line
// IF/GOTO script, each at most 1.5x bash running the `arms migrate --to sh` output of the same script.
// Issue 7, acceptance 4 (kept): the 200-line script against a .sh written by hand, at most 2x.
//
//   node bench/batch.js [--runs N] [--json FILE] [--check]   (default 30 runs; needs `npm run build`)
//
// Both scripts are generated here (the same steps: SET /A, SET, IF ==, GOTO over an ECHO, IF GEQ,
// ECHO; the .sh as a person would write it, with if/then); their outputs are checked to be the same
// before timing.
// The headline: the scripts run as the service runs a group script, through the service's own
// runScript (dist/service/scripts.js: spawn or hand-off, output read line by line from pipes, to
// the exit), timed from the call to its result: bench.bat handed to the interpreter the service
// keeps waiting (dist/service/batch-spare.js; the next one is given a second to start and warm up
// between runs, as it is between a group's scripts), against `bash bench.sh` started by the same
// function; also bench.bat with no runner waiting (a runner of its own, started cold).
// Also, against a real armsd: a script of five ARMLOG lines as .bat (the lines run inside the
// interpreter) and as .sh under /bin/sh (an ARMLOG process each), 10 runs each.
// For scale, as processes from a shell (spawnSync, output to a pipe): the interpreter started cold
// (`node dist/batch/main.js bench.bat`, what `arms run` costs), bash, node starting an empty script
// (`node -e 0`, the floor of any node program), the interpreter on an empty .bat, and the .sh that
// `arms migrate --to sh` writes for bench.bat, run by bash. Runs alternate in order. Writes
// bench/results/batch.json. --check: exit 2 when the target is missed.
'use strict';

const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { median, pct, sleep } = require('./lib');

const ROOT = path.resolve(__dirname, '..');
const TARGET_RATIO = 2;
/** issue 14: against bash running what `arms migrate --to sh` writes for the same script */
const TARGET_MIGRATED = 1.5;
const MAIN = path.join(ROOT, 'dist', 'batch', 'main.js');

const args = process.argv.slice(2);
const opt = (name, dflt) => (args.includes(name) ? args[args.indexOf(name) + 1] : dflt);
const RUNS = Number(opt('--runs', 30));
const JSON_OUT = path.resolve(opt('--json', path.join(__dirname, 'results', 'batch.json')));
if (!Number.isInteger(RUNS) || RUNS < 1 || RUNS > 1000) throw new Error('--runs: 1 to 1000');
if (!fs.existsSync(MAIN)) {
  console.error('batch: dist/ is missing: run `npm run build` first');
  process.exit(1);
}

/** 25 steps of 8 lines: 200 lines of IF/GOTO/SET/ECHO, and the same in bash. */
function scripts() {
  const bat = [];
  const sh = [];
  for (let i = 1; i <= 25; i++) {
    bat.push(
      `:STEP${i}`,
      'SET /A N+=1',
      `SET V${i}=value %N%`,
      `IF "%V${i}%" == "value %N%" GOTO OK${i}`,
      `ECHO mismatch at step ${i}`,
      `:OK${i}`,
      `IF %N% GEQ 1000 GOTO END`,
      `ECHO step ${i}: %N% %V${i}%`,
    );
    sh.push(
      `# step ${i}`,
      'N=$((N + 1))',
      `V${i}="value $N"`,
      `if [ "$V${i}" != "value $N" ]; then`,
      `  echo "mismatch at step ${i}"`,
      'fi',
      `if [ "$N" -ge 1000 ]; then exit 0; fi`,
      `echo "step ${i}: $N $V${i}"`,
    );
  }
  return { bat: ['@ECHO OFF', ...bat, ':END', ''].join('\r\n'), sh: ['N=0', ...sh, ''].join('\n') };
}

function time(file, argv, cwd) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(file, argv, { cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, N: '' } });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${file} ${argv.join(' ')}: exit ${r.status}: ${r.stderr}`);
  return { ms, out: r.stdout.toString() };
}

/** One call of the service's runScript: ms from the call to its result, and the lines it read. */
async function viaService(runScript, cmd, cwd, env = process.env) {
  const out = [];
  const t0 = process.hrtime.bigint();
  const r = await runScript(cmd, { cwd, env: { ...env, N: '' }, timeoutMs: 30_000, onLine: (stream, line) => out.push(line) });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.code !== 0) throw new Error(`${cmd.file} ${cmd.args.join(' ')}: ${r.spawnError ?? `exit ${r.code}`}: ${out.join('\n')}`);
  return { ms, out: out.join('\n') + '\n' };
}


/** A real armsd in DIR/home (default config), once it answers. */
async function startArmsd(dir) {
  const { spawn } = require('node:child_process');
  const client = require('../dist/client/client.js');
  const home = path.join(dir, 'home');
  fs.mkdirSync(home, { recursive: true });
  const env = { ...process.env, ARMS_HOME: home };
  const proc = spawn(process.execPath, [path.join(ROOT, 'bin', 'armsd.js')], { env, stdio: 'ignore' });
  const pipe = require('../dist/platform/home.js').resolveHome(env).pipe;
  for (let i = 0; i < 200; i++) {
    try {
      await client.call(pipe, 'ping', {}, 1000);
      return proc;
    } catch {
      await sleep(50);
    }
  }
  proc.kill('SIGKILL');
  throw new Error('armsd did not answer');
}

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'arms-bench-batch-'));
  try {
    const s = scripts();
    fs.writeFileSync(path.join(dir, 'bench.bat'), s.bat);
    fs.writeFileSync(path.join(dir, 'bench.sh'), s.sh);
    fs.writeFileSync(path.join(dir, 'empty.bat'), '@ECHO OFF\r\n');
    const five = [1, 2, 3, 4, 5].map((i) => `ARMLOG "line ${i}"`);
    fs.writeFileSync(path.join(dir, 'armlog.bat'), ['@ECHO OFF', ...five, ''].join('\r\n'));
    fs.writeFileSync(path.join(dir, 'armlog.sh'), [...five, ''].join('\n'));
    const lines = s.bat.split('\r\n').filter(Boolean).length;
    // The FOR /F script: 1,000 lines of a CSV file, a sum and a match, as group scripts read a server list.
    fs.writeFileSync(path.join(dir, 'servers.csv'), Array.from({ length: 1000 }, (_, i) => `host${i + 1},${i + 1}\r\n`).join(''));
    fs.writeFileSync(
      path.join(dir, 'forf.bat'),
      ['@ECHO OFF', 'SET SUM=0', 'FOR /F "tokens=1,2 delims=," %%A IN (servers.csv) DO (', '  SET /A SUM+=%%B', '  IF "%%A"=="host500" ECHO found %%A', ')', 'ECHO sum %SUM%', ''].join('\r\n'),
    );
    const migratedForF = spawnSync(process.execPath, [path.join(ROOT, 'bin', 'arms.js'), 'migrate', 'forf.bat', '--to', 'sh', '-o', 'forf.sh'], { cwd: dir, encoding: 'utf8' });
    if (migratedForF.status !== 0) throw new Error(`arms migrate forf.bat: ${migratedForF.stdout}${migratedForF.stderr}`);
    const migrated = spawnSync(process.execPath, [path.join(ROOT, 'bin', 'arms.js'), 'migrate', 'bench.bat', '--to', 'sh', '-o', 'migrated.sh'], { cwd: dir, encoding: 'utf8' });
    if (migrated.status !== 0) throw new Error(`arms migrate: ${migrated.stdout}${migrated.stderr}`);
    const cases = {
      interpreter: () => time(process.execPath, [MAIN, 'bench.bat'], dir),
      bash: () => time('bash', ['bench.sh'], dir),
      nodeEmpty: () => time(process.execPath, ['-e', '0'], dir),
      interpreterEmpty: () => time(process.execPath, [MAIN, 'empty.bat'], dir),
      migratedBash: () => time('bash', ['migrated.sh'], dir),
    };
    const a = cases.interpreter().out;
    const b = cases.bash().out;
    const c = cases.migratedBash().out;
    if (a !== b || a !== c || !a.includes('step 25: 25 value 25')) throw new Error(`the scripts disagree:\n${a}\n---\n${b}\n---\n${c}`);
    for (const f of Object.values(cases)) f(); // warm-up (disk cache)

    // As the service runs a group script.
    const { runScript } = require('../dist/service/scripts.js');
    const { keepBatchSpare, dropBatchSpare, batchSpareReady } = require('../dist/service/batch-spare.js');
    /** At least a second (as between two scripts of a group), and until the next runner has warmed up (a busy machine takes longer). */
    const spareReady = async () => {
      await sleep(1000);
      for (let i = 0; i < 200 && !batchSpareReady(); i++) await sleep(50);
    };
    const { scriptCommand } = require('../dist/platform/script-command.js');
    const batCmd = scriptCommand(path.join(dir, 'bench.bat'));
    const bashCmd = { file: 'bash', args: ['bench.sh'] };
    const svc = { spare: [], cold: [], bash: [], migrated: [], spareForF: [], migratedForF: [], armlogBat: [], armlogSh: [] };
    const migratedCmd = { file: 'bash', args: ['migrated.sh'] };
    const forfCmd = scriptCommand(path.join(dir, 'forf.bat'));
    const forfShCmd = { file: 'bash', args: ['forf.sh'] };
    try {
      for (const [k, cmd] of [['bash', bashCmd], ['cold', batCmd], ['migrated', migratedCmd]]) {
        const got = (await viaService(runScript, cmd, dir)).out;
        if (got !== a) throw new Error(`${k} through runScript gave other output:\n${got}`);
      }
      const forfOut = (await viaService(runScript, forfCmd, dir)).out;
      const forfShOut = (await viaService(runScript, forfShCmd, dir)).out;
      if (forfOut !== 'found host500\nsum 500500\n' || forfShOut !== forfOut) throw new Error(`the FOR /F scripts disagree:\n${forfOut}---\n${forfShOut}`);
      keepBatchSpare(true);
      await sleep(1500);
      const got = (await viaService(runScript, batCmd, dir)).out;
      if (got !== a) throw new Error(`the waiting runner gave other output:\n${got}`);
      const cmds = { spare: batCmd, bash: bashCmd, migrated: migratedCmd, spareForF: forfCmd, migratedForF: forfShCmd };
      for (let run = 0; run < RUNS; run++) {
        for (const group of [['spare', 'bash', 'migrated'], ['spareForF', 'migratedForF']]) {
          await spareReady(); // the next runner starts and warms up, as between two group scripts
          const turn = run % 2 === 0 ? group : [...group].reverse();
          for (const k of turn) svc[k].push((await viaService(runScript, cmds[k], dir)).ms);
        }
      }
      // Five ARMLOG lines against a real armsd: in the .bat they run inside the interpreter, in the
      // .sh each is a node process (both as the service runs a group script).
      const armsd = await startArmsd(dir);
      try {
        const env = { ...process.env, ARMS_HOME: path.join(dir, 'home'), PATH: `${path.join(ROOT, 'dist', 'path')}${path.delimiter}${process.env.PATH}` };
        const logBat = scriptCommand(path.join(dir, 'armlog.bat'));
        const logSh = { file: '/bin/sh', args: ['armlog.sh'] };
        await sleep(1000);
        for (let run = 0; run < Math.min(RUNS, 10); run++) {
          await sleep(1000);
          for (const [k, cmd] of run % 2 === 0 ? [['armlogBat', logBat], ['armlogSh', logSh]] : [['armlogSh', logSh], ['armlogBat', logBat]]) {
            svc[k].push((await viaService(runScript, cmd, dir, env)).ms);
          }
        }
      } finally {
        armsd.kill('SIGTERM');
        await new Promise((r) => armsd.once('exit', r));
      }
      dropBatchSpare();
      keepBatchSpare(false);
      for (let run = 0; run < RUNS; run++) svc.cold.push((await viaService(runScript, batCmd, dir)).ms);
    } finally {
      dropBatchSpare();
      keepBatchSpare(false);
    }

    const ms = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
    const order = Object.keys(cases);
    for (let run = 0; run < RUNS; run++) {
      const turn = run % 2 === 0 ? order : [...order].reverse();
      for (const k of turn) ms[k].push(cases[k]().ms);
    }
    const stat = (xs) => ({ median: median(xs), p95: pct(xs, 95), min: Math.min(...xs) });
    const ratio = median(svc.spare) / median(svc.bash);
    const ratioMigrated = median(svc.spare) / median(svc.migrated);
    const ratioForF = median(svc.spareForF) / median(svc.migratedForF);
    const result = {
      benchmark: 'batch',
      date: new Date().toISOString(),
      machine: { cpu: os.cpus()[0]?.model, cpus: os.cpus().length, memoryGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version, os: `${os.type()} ${os.release()}` },
      runs: RUNS,
      scriptLines: lines,
      asTheServiceRunsIt: {
        waitingInterpreterMs: stat(svc.spare),
        bashMs: stat(svc.bash),
        coldInterpreterMs: stat(svc.cold),
        coldRatioToBash: median(svc.cold) / median(svc.bash),
        fiveArmlogLinesBatMs: stat(svc.armlogBat),
        fiveArmlogLinesShMs: stat(svc.armlogSh),
      },
      issue14: {
        forF1000: { waitingInterpreterMs: stat(svc.spareForF), migratedShUnderBashMs: stat(svc.migratedForF), ratio: ratioForF },
        ifGoto200: { waitingInterpreterMs: stat(svc.spare), migratedShUnderBashMs: stat(svc.migrated), ratio: ratioMigrated },
        targetRatio: TARGET_MIGRATED,
        met: ratioForF <= TARGET_MIGRATED && ratioMigrated <= TARGET_MIGRATED,
      },
      ratioToBash: ratio,
      targetRatio: TARGET_RATIO,
      met: ratio <= TARGET_RATIO && ratioForF <= TARGET_MIGRATED && ratioMigrated <= TARGET_MIGRATED,
      forScale: {
        interpreterColdMs: stat(ms.interpreter),
        bashMs: stat(ms.bash),
        interpreterColdRatioToBash: median(ms.interpreter) / median(ms.bash),
        nodeEmptyMs: stat(ms.nodeEmpty),
        interpreterEmptyBatMs: stat(ms.interpreterEmpty),
        migratedShUnderBashMs: stat(ms.migratedBash),
        /** the interpreter's time past node's own start-up */
        interpreterPastNodeStartMs: median(ms.interpreter) - median(ms.nodeEmpty),
      },
    };
    fs.mkdirSync(path.dirname(JSON_OUT), { recursive: true });
    fs.writeFileSync(JSON_OUT, JSON.stringify(result, null, 2) + '\n');
    const f = (x) => x.toFixed(1);
    const sv = result.asTheServiceRunsIt;
    const fs2 = result.forScale;
    const i14 = result.issue14;
    console.log(`batch: as the service runs a group script, against bash running the arms migrate --to sh output (${RUNS} runs each):`);
    console.log(`    FOR /F over 1,000 lines  interpreter median ${f(i14.forF1000.waitingInterpreterMs.median)} ms, bash ${f(i14.forF1000.migratedShUnderBashMs.median)} ms: ${ratioForF.toFixed(2)} x`);
    console.log(`    ${lines}-line IF/GOTO       interpreter median ${f(i14.ifGoto200.waitingInterpreterMs.median)} ms, bash ${f(i14.ifGoto200.migratedShUnderBashMs.median)} ms: ${ratioMigrated.toFixed(2)} x`);
    console.log(`  target: at most ${TARGET_MIGRATED} x: ${i14.met ? 'met' : 'MISSED'}`);
    console.log(`batch: start-up plus a ${lines}-line script of IF/GOTO/SET/ECHO, ${RUNS} runs each`);
    console.log('  as the service runs a group script (runScript, call to result):');
    console.log(`    waiting interpreter  median ${f(sv.waitingInterpreterMs.median)} ms, p95 ${f(sv.waitingInterpreterMs.p95)} ms`);
    console.log(`    bash (.sh)           median ${f(sv.bashMs.median)} ms, p95 ${f(sv.bashMs.p95)} ms  <- reference`);
    console.log(`    ratio                ${ratio.toFixed(2)} x bash's time`);
    console.log(`    no runner waiting    median ${f(sv.coldInterpreterMs.median)} ms (${sv.coldRatioToBash.toFixed(1)} x bash)`);
    console.log(`    5 ARMLOG lines       .bat (in the interpreter) median ${f(sv.fiveArmlogLinesBatMs.median)} ms; .sh (an ARMLOG process each) ${f(sv.fiveArmlogLinesShMs.median)} ms`);
    console.log('  as processes from a shell (spawnSync, spawn to exit):');
    console.log(`    interpreter, cold    median ${f(fs2.interpreterColdMs.median)} ms (${fs2.interpreterColdRatioToBash.toFixed(1)} x bash's ${f(fs2.bashMs.median)} ms)`);
    console.log(`    node -e 0: ${f(fs2.nodeEmptyMs.median)} ms; interpreter, empty .bat: ${f(fs2.interpreterEmptyBatMs.median)} ms; arms migrate --to sh output under bash: ${f(fs2.migratedShUnderBashMs.median)} ms`);
    console.log(`  target: at most ${TARGET_RATIO} x bash: ${result.met ? 'met' : 'MISSED'}`);
    return args.includes('--check') && !result.met ? 2 : 0;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(`batch: ${e.message}`);
    process.exit(1);
  },
);
