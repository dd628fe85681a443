// Test harness: real services in temporary homes, real command binaries, the real log files.
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { call } from '../src/client/client';
import { resolveHome } from '../src/platform/home';

export const ROOT = path.resolve(__dirname, '..');
export const COMMANDS = path.join(ROOT, 'dist', 'path');

export interface Result {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export function tempDir(prefix = 'arms-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** The environment a command sees: the home, and the commands folder first on PATH. */
export function envFor(home: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ARMS_HOME: home, PATH: `${COMMANDS}${path.delimiter}${process.env.PATH}` };
  delete env.ARMS_PIPE;
  delete env.ARMS_GROUPNAME;
  return { ...env, ...extra };
}

/** Runs a command by name from the commands folder (armlog, ARMLOG, arms, ...). */
export function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, opts: { timeoutMs?: number; input?: string } = {}): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(path.join(COMMANDS, cmd), args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 30_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    child.stdin.end(opts.input ?? '');
  });
}

export interface Service {
  home: string;
  env: NodeJS.ProcessEnv;
  pipe: string;
  proc: ChildProcess;
  output(): string;
  /** resolves with the exit code once the process has ended */
  exited: Promise<number | null>;
  stop(): Promise<void>;
}

const running = new Set<Service>();

/** Starts armsd in the foreground in `home` (a new temp home by default) and waits for its pipe. */
export async function startService(opts: { home?: string; config?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Service> {
  const home = opts.home ?? tempDir();
  if (opts.config !== undefined) fs.writeFileSync(path.join(home, 'arms.yaml'), opts.config);
  const env = envFor(home, opts.env);
  const proc = spawn(process.execPath, [path.join(ROOT, 'bin', 'armsd.js')], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  let pipe = resolveHome(env).pipe;
  const svc: Service = {
    home,
    env,
    pipe,
    proc,
    output: () => out,
    exited,
    async stop() {
      running.delete(svc);
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGTERM');
        await exited;
      }
    },
  };
  running.add(svc);
  const deadline = Date.now() + 15_000;
  let ended = false;
  exited.then(() => (ended = true));
  for (;;) {
    if (ended) throw new Error(`armsd exited before answering: ${out}`);
    try {
      // A deep home's socket path is known once the service has made its folder.
      pipe = resolveHome(env).pipe;
      await call(pipe, 'ping', {}, 2000);
      svc.pipe = pipe;
      return svc;
    } catch {
      if (Date.now() > deadline) throw new Error(`armsd did not answer on ${pipe}: ${out}`);
      await sleep(25);
    }
  }
}

export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((s) => s.stop()));
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Asks `what` again every 25 ms until `ok` says yes or `ms` have passed; returns the last answer. */
export async function until<T>(what: () => Promise<T>, ok: (v: T) => boolean, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await what();
    if (ok(v) || Date.now() > deadline) return v;
    await sleep(25);
  }
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export interface LogRecord {
  level: number;
  time: string;
  server: string;
  src: string;
  msg: string;
  group?: string;
  pid?: number;
  ppid?: number;
  alert?: boolean;
  [k: string]: unknown;
}

export function readLog(home: string, which: 'cluster' | 'alert' = 'cluster'): LogRecord[] {
  const file = path.join(home, 'log', `${which}.log`);
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as LogRecord);
}

export function fromArmlog(home: string, which: 'cluster' | 'alert' = 'cluster'): LogRecord[] {
  return readLog(home, which).filter((r) => r.src === 'ARMLOG');
}

/** PIDs of the processes running exactly `sleep <arg>`, by /proc (Linux). */
export function sleepers(arg: string): number[] {
  const out: number[] = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (fs.readFileSync(`/proc/${d}/cmdline`, 'utf8') === `sleep\0${arg}\0`) out.push(Number(d));
    } catch {
      /* gone */
    }
  }
  return out;
}
