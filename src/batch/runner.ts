// A batch interpreter started ahead of need. The service keeps one of these waiting (--warm: it
// first warms the interpreter up, see warmup.ts), so that a group's START.BAT runs at once, in a
// process of its own (its own process group, output pipes and exit code, so a timeout still stops
// its whole tree), without paying node's start-up on the failover's critical path. Started
// without --warm it is simply the interpreter taking its job on stdin (`arms run`, or no spare).
//
// The job is one JSON object on stdin, which the parent then closes (a --warm --report runner says
// "ready" on fd 3 first):
//   {"file":"/srv/app/START.BAT","args":[],"env":{...},"cwd":"/srv/app","trace":false}
// The exit code is the batch's, as for main.js; 2 for a job that cannot be read. With --report the
// runner also closes its output and writes "exit CODE" on fd 3 as soon as the script has ended:
// the service then need not wait for node to tear the process down (a few ms, bench/batch.js).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { exitCodeOf, Interpreter } from './exec';
import { writeFd } from './io';
import { warmUp } from './warmup';

export interface BatchJob {
  file: string;
  args: string[];
  env: Record<string, string>;
  cwd: string;
  trace?: boolean;
}

/** Rounds of the warm-up script: past ~30 the first real run no longer gets faster (bench/batch.js). */
const WARM_ROUNDS = 40;

/** Reads fd 0 to its end, blocking: once warm, this process has nothing else to do. */
function readAll(fd: number): string {
  const chunks: Buffer[] = [];
  const buf = Buffer.alloc(65536);
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (;;) {
    let n: number;
    try {
      n = fs.readSync(fd, buf, 0, buf.length, null);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EAGAIN') {
        Atomics.wait(pause, 0, 0, 1); // a non-blocking stdin (not the service's pipe): wait for data
        continue;
      }
      if (code === 'EOF') break;
      throw e;
    }
    if (n === 0) break;
    chunks.push(Buffer.from(buf.subarray(0, n)));
  }
  return Buffer.concat(chunks).toString('utf8');
}

export function parseJob(text: string): BatchJob {
  const j = JSON.parse(text) as BatchJob;
  const strings = (xs: unknown) => Array.isArray(xs) && xs.every((x) => typeof x === 'string');
  if (typeof j?.file !== 'string' || typeof j.cwd !== 'string' || !strings(j.args) || typeof j.env !== 'object' || j.env === null) {
    throw new Error('a job needs file, args, env and cwd');
  }
  return j;
}

async function main(argv: string[]): Promise<number> {
  const reporting = argv.includes('--report');
  if (argv.includes('--warm')) {
    await warmUp(WARM_ROUNDS);
    // The service hands a job only to a runner that said this (a job sent earlier would wait for the warm-up).
    if (reporting) writeFd(3, 'ready\n');
  }
  let job: BatchJob;
  try {
    const text = readAll(0);
    if (text === '') return 2; // the service went away before giving a job: nothing to say to anyone
    job = parseJob(text);
  } catch (e) {
    writeFd(2, `batch: no job to run: ${(e as Error).message}\n`);
    return 2;
  }
  // The one variable node itself reads while the script runs: the time zone of %DATE% and %TIME%.
  if (job.env.TZ === undefined) delete process.env.TZ;
  else process.env.TZ = job.env.TZ;
  try {
    process.chdir(job.cwd);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    writeFd(2, `batch: cannot change to the folder ${job.cwd} (${err.code ?? err.message})\n`);
    return 1;
  }
  process.title = `arms-batch ${path.basename(job.file)}`;
  const entry = path.join(__dirname, 'main.js');
  const sh = new Interpreter({ env: job.env, cwd: job.cwd, traceFd: job.trace ? 2 : undefined, entry });
  const code = exitCodeOf(await sh.run(path.resolve(job.cwd, job.file), job.file, job.args, { in: 0, out: 1, err: 2 }));
  if (reporting) report(code);
  return code;
}

/** The script has ended: its output is closed (a program it left running may still hold it) and its code said on fd 3. */
function report(code: number): void {
  for (const fd of [1, 2]) {
    try {
      fs.closeSync(fd);
    } catch {
      // already closed
    }
  }
  writeFd(3, `exit ${code}\n`);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(`batch: internal error: ${(e as Error).stack ?? e}\n`);
    process.exit(1);
  },
);
