// The batch interpreter kept waiting for the next .bat group script (src/batch/runner.ts), so that a
// failover does not wait for node to start and the interpreter to warm up: ~90 ms cold against a
// few ms (bench/batch.js). One spare at most; taking it starts the next one at once, which is ready
// about 0.3 s later (groups starting together before that start runners of their own, cold, as
// without a spare). POSIX only: on Windows
// cmd.exe runs .bat files. The spare's folder is / so that it never holds a disk that a group is
// about to unmount; it reads its job from stdin and so ends by itself if the service goes away.
import { ChildProcess } from 'node:child_process';
import { BATCH_RUNNER } from '../platform/script-command';
import { spawnTree } from '../platform/tree';

/** stdin: the job; stdout, stderr: the script's; fd 3: the runner's "exit CODE" (runner.ts --report). */
export const RUNNER_STDIO: Array<'pipe'> = ['pipe', 'pipe', 'pipe', 'pipe'];

let wanted = false;
let spare: ChildProcess | null = null;
/** the spare has said "ready": warmed up, reading its stdin */
let ready = false;

/** On when some group's script is a .bat or .cmd (and not on Windows); off stops the spare. */
export function keepBatchSpare(on: boolean): void {
  wanted = on && process.platform !== 'win32';
  if (wanted) spare ??= startSpare();
  else dropBatchSpare();
}

/**
 * The waiting runner, or null: none kept, it died, or it is still warming up (a script handed to it
 * would wait for that: one started cold is sooner). A new one is started in place of the one taken.
 */
export function takeBatchSpare(): ChildProcess | null {
  const s = spare;
  if (!s || s.exitCode !== null || s.signalCode !== null) {
    spare = startSpare(); // it died while waiting (killed by hand, out of memory): a new one for the next script
    return null;
  }
  if (!ready) return null;
  s.removeAllListeners('exit');
  s.stdio[3]!.removeAllListeners('data');
  spare = startSpare();
  return s;
}

/** A spare is waiting and warmed up (bench/batch.js waits for this between runs on a busy machine). */
export function batchSpareReady(): boolean {
  return spare !== null && ready;
}

/** Stops the spare (the service is stopping, or no group needs one any more). */
export function dropBatchSpare(): void {
  const s = spare;
  spare = null;
  if (!s) return;
  s.removeAllListeners('exit');
  s.stdin?.destroy();
  s.kill('SIGKILL');
  ready = false;
}

function startSpare(): ChildProcess | null {
  ready = false;
  if (!wanted) return null;
  let child: ChildProcess;
  try {
    child = spawnTree(process.execPath, [BATCH_RUNNER, '--warm', '--report'], { cwd: '/', env: process.env, stdio: RUNNER_STDIO });
  } catch {
    return null; // the script then starts its own runner, which says what is wrong
  }
  child.once('error', () => undefined);
  child.stdin!.on('error', () => undefined);
  child.stdio[3]!.on('error', () => undefined);
  child.stdio[3]!.on('data', (d: Buffer) => {
    if (spare === child && d.toString().startsWith('ready\n')) ready = true;
  });
  // One that dies while waiting is replaced at the next take, not at once: a runner that cannot
  // start (a broken install) must not be started again and again.
  child.once('exit', () => {
    if (spare !== child) return;
    spare = null;
    ready = false;
  });
  return child;
}
