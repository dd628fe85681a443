#!/usr/bin/env node
// Benchmark: the batch interpreter (issue 7, acceptance 4): its start-up plus a 200-line script of
// IF/GOTO/SET/ECHO, against bash running the equivalent .sh, in the same run. Target: at most 2x
// bash's time.
//
//   node bench/batch.js [--runs N] [--json FILE]      (default 30 runs; needs `npm run build`)
//
// Both scripts are generated here (the same steps: SET /A, SET, IF ==, GOTO over an ECHO, IF GEQ,
// ECHO; the .sh as a person would write it, with if/then); their outputs are checked to be the same
// before timing. Each run times `node dist/batch/main.js bench.bat` and `bash bench.sh` (spawn to
// exit, output to a pipe), in alternating order. For scale, also timed: node starting an empty
// script (`node -e 0`, the floor of any node program), the interpreter on an empty .bat, and the
// .sh that `arms migrate --to sh` writes for bench.bat, run by bash. Writes bench/results/batch.json.
'use strict';

const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const TARGET_RATIO = 2;
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
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil((p / 100) * xs.length) - 1)];

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

function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'arms-bench-batch-'));
  try {
    const s = scripts();
    fs.writeFileSync(path.join(dir, 'bench.bat'), s.bat);
    fs.writeFileSync(path.join(dir, 'bench.sh'), s.sh);
    fs.writeFileSync(path.join(dir, 'empty.bat'), '@ECHO OFF\r\n');
    const lines = s.bat.split('\r\n').filter(Boolean).length;
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
    const ms = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
    const order = Object.keys(cases);
    for (let run = 0; run < RUNS; run++) {
      const turn = run % 2 === 0 ? order : [...order].reverse();
      for (const k of turn) ms[k].push(cases[k]().ms);
    }
    const stat = (xs) => ({ median: median(xs), p95: pct(xs, 95), min: Math.min(...xs) });
    const ratio = median(ms.interpreter) / median(ms.bash);
    const result = {
      benchmark: 'batch',
      date: new Date().toISOString(),
      machine: { cpu: os.cpus()[0]?.model, cpus: os.cpus().length, memoryGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version, os: `${os.type()} ${os.release()}` },
      runs: RUNS,
      scriptLines: lines,
      interpreterMs: stat(ms.interpreter),
      bashMs: stat(ms.bash),
      ratioToBash: ratio,
      targetRatio: TARGET_RATIO,
      met: ratio <= TARGET_RATIO,
      forScale: {
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
    console.log(`batch: start-up plus a ${lines}-line script of IF/GOTO/SET/ECHO, ${RUNS} runs each`);
    console.log(`  interpreter    median ${f(result.interpreterMs.median)} ms, p95 ${f(result.interpreterMs.p95)} ms`);
    console.log(`  bash (.sh)     median ${f(result.bashMs.median)} ms, p95 ${f(result.bashMs.p95)} ms  <- reference`);
    console.log(`  ratio          ${ratio.toFixed(2)} x bash's time`);
    console.log(`  for scale      node -e 0: ${f(result.forScale.nodeEmptyMs.median)} ms; interpreter, empty .bat: ${f(result.forScale.interpreterEmptyBatMs.median)} ms; arms migrate --to sh output under bash: ${f(result.forScale.migratedShUnderBashMs.median)} ms`);
    console.log(`  target: at most ${TARGET_RATIO} x bash: ${result.met ? 'met' : 'MISSED'}`);
    return args.includes('--check') && !result.met ? 2 : 0;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

try {
  process.exitCode = main();
} catch (e) {
  console.error(`batch: ${e.message}`);
  process.exit(1);
}
