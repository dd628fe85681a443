// Runs one script (or a config command line) to its end: its own process tree, its output line by
// line to a callback, a timeout that stops the whole tree and counts as failure.
import { ChildProcess } from 'node:child_process';
import { StringDecoder } from 'node:string_decoder';
import { Readable } from 'node:stream';
import { spawnCommandLine } from '../platform/command-line';
import { ScriptCommand } from '../platform/script-command';
import { signalTree, spawnTree, stopTree } from '../platform/tree';
import { RUNNER_STDIO, takeBatchSpare } from './batch-spare';

export interface ScriptResult {
  /** the exit code; null when killed by a signal, timed out, or never started */
  code: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  /** it could not be started at all (not found, not executable) */
  spawnError?: string;
  pid?: number;
  ms: number;
}

export type LineSink = (stream: 'out' | 'err', line: string) => void;

/** A longer line is cut into pieces of this many characters, so one line cannot hold memory. */
const MAX_LINE = 8192;
/** After the script exits, how long its output may still drain (a background child may hold it open). */
const DRAIN_MS = 200;
/** Between the polite and the forced stop of a script's tree at its timeout. */
const KILL_GRACE_MS = 2000;

export function succeeded(r: ScriptResult): boolean {
  return r.code === 0 && !r.timedOut;
}

export function describeResult(r: ScriptResult, timeoutS: number): string {
  if (r.spawnError) return `could not be started: ${r.spawnError}`;
  if (r.timedOut) return `timed out after ${timeoutS} s and was stopped with everything it started`;
  if (r.signal) return `was killed by ${r.signal}`;
  return `exited with code ${r.code}`;
}

export function runScript(
  cmd: ScriptCommand,
  opts: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs: number; onLine: LineSink; signal?: AbortSignal; graceMs?: number },
): Promise<ScriptResult> {
  const began = Date.now();
  return new Promise((resolve) => {
    let child: ChildProcess;
    try {
      const stdio: ['ignore', 'pipe', 'pipe'] = ['ignore', 'pipe', 'pipe'];
      child = cmd.batch
        ? startBatch(cmd, opts)
        : cmd.line !== undefined
          ? spawnCommandLine(cmd.line, { cwd: opts.cwd, env: opts.env, stdio, tree: true })
          : spawnTree(cmd.file, cmd.args, { cwd: opts.cwd, env: opts.env, stdio, verbatim: cmd.verbatim });
    } catch (e) {
      resolve({ code: null, signal: null, timedOut: false, spawnError: (e as Error).message, ms: Date.now() - began });
      return;
    }
    const flushOut = lines(child.stdout!, (l) => opts.onLine('out', l));
    const flushErr = lines(child.stderr!, (l) => opts.onLine('err', l));
    let timedOut = false;
    let settled = false;
    const timer = setTimeout(() => {
      timedOut = true;
      if (child.pid) void stopTree(child.pid, opts.graceMs ?? KILL_GRACE_MS);
    }, opts.timeoutMs);
    // Cut short (a fencing server): the whole tree is killed at once.
    const onAbort = () => {
      if (child.pid) void signalTree(child.pid, true);
    };
    opts.signal?.addEventListener('abort', onAbort, { once: true });

    const finish = (r: Omit<ScriptResult, 'ms' | 'timedOut'>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      // Output still in the pipes is read first; a background child holding them open is not waited for.
      const outputEnded = Promise.all([child.stdout!, child.stderr!].map((s) => (s.readableEnded ? null : new Promise((r) => s.once('close', r)))));
      void Promise.race([outputEnded, new Promise((r) => setTimeout(r, DRAIN_MS))]).then(() => {
        flushOut();
        flushErr();
        child.stdout!.destroy();
        child.stderr!.destroy();
        child.stdio[3]?.destroy();
        resolve({ ...r, timedOut, pid: child.pid, ms: Date.now() - began });
      });
    };
    child.once('error', (e) => finish({ code: null, signal: null, spawnError: e.message }));
    child.once('exit', (code, signal) => finish({ code, signal }));
    // A batch runner says when its script has ended, before node tears its process down.
    if (cmd.batch) child.stdio[3]?.on('data', (d: Buffer) => {
      const m = /^exit (\d+)$/m.exec(d.toString());
      if (m) finish({ code: Number(m[1]), signal: null });
    });
  });
}

/** A .bat script: the waiting runner when the service keeps one, else a runner of its own; the job goes to its stdin. */
function startBatch(cmd: ScriptCommand, opts: { cwd: string; env: NodeJS.ProcessEnv }): ChildProcess {
  const child = takeBatchSpare() ?? spawnTree(cmd.file, cmd.args, { cwd: opts.cwd, env: opts.env, stdio: RUNNER_STDIO });
  child.stdio[3]?.on('error', () => undefined);
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(opts.env)) if (v !== undefined) env[k] = v;
  child.stdin!.on('error', () => undefined); // a runner that died: its exit says so
  child.stdin!.end(JSON.stringify({ file: cmd.batch!.script, args: [], env, cwd: opts.cwd, trace: cmd.batch!.trace }));
  return child;
}

/** Feeds whole lines (UTF-8, CR dropped, long ones cut) to `sink`; the returned function flushes the rest. */
function lines(stream: Readable, sink: (line: string) => void): () => void {
  const decoder = new StringDecoder('utf8');
  let partial = '';
  const emit = (text: string) => {
    const parts = text.split('\n');
    partial = parts.pop()!;
    for (let l of parts) {
      if (l.endsWith('\r')) l = l.slice(0, -1);
      // An empty line (ECHO., the blank line before each command under ECHO ON) is a line too.
      if (l === '') sink('');
      for (let i = 0; i < l.length; i += MAX_LINE) sink(l.slice(i, i + MAX_LINE));
    }
    while (partial.length > MAX_LINE) {
      sink(partial.slice(0, MAX_LINE));
      partial = partial.slice(MAX_LINE);
    }
  };
  stream.on('data', (chunk: Buffer) => emit(partial + decoder.write(chunk)));
  let flushed = false;
  return () => {
    if (flushed) return;
    flushed = true;
    const rest = partial + decoder.end();
    partial = '';
    if (rest.length > 0) sink(rest.replace(/\r$/, ''));
  };
}
