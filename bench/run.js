#!/usr/bin/env node
// Runs every benchmark in bench/ (each *.js file here but this one and lib.js), one after the other, each in a
// node process of its own. `npm run bench` builds first and then runs this. Arguments are passed on
// to every benchmark (e.g. `node bench/run.js --check`). Exit code: 0 when every benchmark ran (and,
// with --check, met its targets), else the first failing benchmark's code.
'use strict';

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const LIMIT_MS = 15 * 60_000; // one benchmark may not run longer than this

if (!fs.existsSync(path.join(ROOT, 'dist', 'client', 'client.js'))) {
  process.stderr.write('bench: dist/ is missing: build first with "npm run build" (or use "npm run bench", which builds and then runs this)\n');
  process.exit(1);
}

const benches = fs
  .readdirSync(__dirname)
  .filter((f) => f.endsWith('.js') && f !== path.basename(__filename) && f !== 'lib.js')
  .sort();

function runOne(file) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(__dirname, file), ...process.argv.slice(2)], { cwd: ROOT, stdio: 'inherit' });
    const timer = setTimeout(() => {
      process.stderr.write(`bench: ${file} ran longer than ${LIMIT_MS / 60_000} minutes; stopping it\n`);
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 10_000).unref();
    }, LIMIT_MS);
    child.on('error', (e) => {
      clearTimeout(timer);
      process.stderr.write(`bench: cannot run ${file}: ${e.message}\n`);
      resolve(1);
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve(code ?? (signal ? 1 : 0));
    });
  });
}

// Ctrl-C reaches the benchmark too (same process group); it cleans up after itself. Wait for it.
process.on('SIGINT', () => {});

(async () => {
  let status = 0;
  for (const file of benches) {
    process.stdout.write(`\n=== bench/${file}\n`);
    const code = await runOne(file);
    if (code !== 0) {
      process.stderr.write(`bench: ${file} exited ${code}\n`);
      if (status === 0) status = code;
    }
  }
  process.exitCode = status;
})();
