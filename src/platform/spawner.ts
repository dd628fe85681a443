// POSIX: the watched programs are started by a small resident native process (spawner.c, built into
// dist/platform/arms-spawner), not by forking armsd: a fork of a ~100 MB node process costs
// milliseconds on its event loop each time; the helper starts each with vfork (nothing copied), and
// many at once side by side, one thread per CPU. The helper starts a program exactly as node's
// spawn(file, args, {detached: true, cwd, env, uid, gid, stdio: ['ignore', log, log]}) would (see
// spawner.c), says its PID once it has exec'd, and how it ended. When armsd's restart policy
// already knows its answer to a program's next end (a restart left, no delay due), it approves that
// restart in advance: the helper starts the program again the moment it dies, without a round trip
// through armsd's event loop, and tells armsd afterwards (R).
// Windows, or a build without a C compiler: none (sharedSpawner() is null), armsd spawns.
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isAlive } from './process';

export interface ProgramStart {
  file: string;
  args: string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** stdout and stderr are appended to it (created 0640) */
  logFile: string;
  uid?: number;
  gid?: number;
  /** the helper keeps the request while the program runs, so that approve() can restart it */
  keep?: boolean;
}

export interface ProgramExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** started again by the helper on an approve (approve()): the new program, and how long the old one ran */
  next?: StartedProgram;
  ranMs?: number;
}

export interface StartedProgram {
  pid: number;
  /** Linux: its start time (clock ticks since boot), read by the helper once it had exec'd; else null */
  start: number | null;
  /** resolves once, when the program has ended (code and signal null: seen gone after the helper's own end) */
  exited: Promise<ProgramExit>;
  /**
   * The restart policy has already decided: when this program ends after at least `minRunMs`, the
   * helper starts it again at once, with `set` in its environment, and `exited` tells the new
   * program (`next`). Once: the new program needs an approve of its own. Only for a start with `keep`.
   */
  approve(minRunMs: number, set: Record<string, string>): void;
  /** no restart without armsd from now on; resolves once that holds (after any restart already made) */
  hold(): Promise<void>;
}

/** The program was not started; `code` is the errno name (ENOENT, EACCES, ...). */
export class SpawnFailed extends Error {
  constructor(
    public code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface Spawner {
  start(p: ProgramStart): Promise<StartedProgram>;
  /** the helper's PID while it runs (its programs are its children), else null */
  pid(): number | null;
  /** starts the helper now, so that the first watch does not wait for it */
  warm(): void;
  /** ends the helper; the programs it started go on */
  close(): void;
}

export const SPAWNER_BINARY = path.join(__dirname, 'arms-spawner');

/** How often the programs of a helper that ended unexpectedly are looked at, to see them end. */
const ORPHAN_POLL_MS = 200;

const SIGNAL_NAMES = new Map<number, NodeJS.Signals>(Object.entries(os.constants.signals).map(([name, n]) => [n, name as NodeJS.Signals]));

export function openSpawner(binary = SPAWNER_BINARY): Spawner {
  let helper: ChildProcess | null = null;
  let nextId = 1;
  /** starts waiting for their P or E line */
  const starting = new Map<string, { resolve(p: StartedProgram): void; reject(e: Error): void }>();
  /** programs started, by PID, waiting for their X line */
  const running = new Map<number, (e: ProgramExit) => void>();
  /** holds waiting for their H line */
  const holding = new Map<string, () => void>();

  const send = (fields: string[]): boolean => {
    const payload = Buffer.from(fields.join('\0') + '\0', 'utf8');
    const head = Buffer.alloc(4);
    head.writeUInt32LE(payload.length);
    if (!helper) return false;
    helper.stdin!.write(Buffer.concat([head, payload]));
    return true;
  };

  const program = (pid: number, start: number): StartedProgram => {
    const exited = new Promise<ProgramExit>((r) => running.set(pid, r));
    return {
      pid,
      start: Number.isInteger(start) && start >= 0 ? start : null,
      exited,
      approve(minRunMs, set) {
        if (!running.has(pid)) return;
        const vars = Object.entries(set).map(([k, v]) => `${k}=${v}`);
        if (vars.some((v) => v.includes('\0'))) return;
        send(['approve', String(pid), String(Math.max(0, Math.round(minRunMs))), String(vars.length), ...vars]);
      },
      hold() {
        // Ended already: resolved after that end is told (it is on its way, in a later turn).
        if (!helper || !running.has(pid)) return new Promise((resolve) => setImmediate(resolve));
        const id = `h${nextId++}`;
        return new Promise<void>((resolve) => {
          holding.set(id, resolve);
          refresh();
          if (!send(['hold', id, String(pid)])) {
            holding.delete(id);
            resolve();
          }
        });
      },
    };
  };

  const line = (text: string) => {
    const [kind, a, b, ...rest] = text.split(' ');
    if (kind === 'H') {
      const done = holding.get(a);
      holding.delete(a);
      // After the end of an R that came before it (told in a later turn, see below), never before.
      if (done) setImmediate(done);
      refresh();
      return;
    }
    if (kind === 'X' || kind === 'R') {
      // X PID CODE SIGNAL: ended. R PID CODE SIGNAL RANMS NEWPID START: ended, and already running
      // again (approved).
      const pid = Number(a);
      const done = running.get(pid);
      running.delete(pid);
      const code = Number(b);
      const sig = Number(rest[0]);
      const end: ProgramExit = { code: code >= 0 ? code : null, signal: sig >= 0 ? (SIGNAL_NAMES.get(sig) ?? (`SIG${sig}` as NodeJS.Signals)) : null };
      if (kind === 'R') Object.assign(end, { next: program(Number(rest[2]), Number(rest[3])), ranMs: Number(rest[1]) });
      // As with node's spawn, an end is told in a later turn than the start, even when both lines came together.
      if (done) setImmediate(() => done(end));
      refresh();
      return;
    }
    const waiting = starting.get(a);
    if (!waiting) return;
    starting.delete(a);
    if (kind === 'P') {
      waiting.resolve(program(Number(b), Number(rest[0])));
    } else {
      waiting.reject(new SpawnFailed(b, rest.join(' ')));
    }
    refresh();
  };

  /** The helper ended (crashed, killed): its programs are no longer its children; watched by polling. */
  const lost = (why: string) => {
    helper = null;
    for (const w of starting.values()) w.reject(new SpawnFailed('ESRCH', `the spawner ended (${why})`));
    starting.clear();
    // Nothing restarts without armsd any more: every hold holds.
    for (const done of holding.values()) done();
    holding.clear();
    for (const [pid, done] of running) {
      const poll = () => (isAlive(pid) && !isZombie(pid) ? setTimeout(poll, ORPHAN_POLL_MS).unref() : done({ code: null, signal: null }));
      poll();
    }
    running.clear();
  };

  const ensure = (): ChildProcess => {
    if (helper) return helper;
    const h = spawn(binary, [], { stdio: ['pipe', 'pipe', 'inherit'] });
    let buffered = '';
    h.stdout!.setEncoding('utf8');
    h.stdout!.on('data', (d: string) => {
      buffered += d;
      let nl: number;
      while ((nl = buffered.indexOf('\n')) !== -1) {
        line(buffered.slice(0, nl));
        buffered = buffered.slice(nl + 1);
      }
    });
    h.stdin!.on('error', () => undefined); // its end is handled on 'exit'
    h.once('error', (e) => h === helper && lost(e.message));
    h.once('exit', (code, signal) => h === helper && lost(signal ? `killed by ${signal}` : `exit code ${code}`));
    // The helper keeps node alive only while a start is pending or a program runs (refresh()).
    h.unref();
    (h.stdin as unknown as { unref(): void }).unref();
    helper = h;
    refresh();
    return h;
  };
  const refresh = () => {
    const out = helper?.stdout as unknown as { ref(): void; unref(): void } | undefined;
    if (starting.size > 0 || running.size > 0 || holding.size > 0) out?.ref();
    else out?.unref();
  };

  return {
    start(p) {
      const fields = [p.file, p.cwd, p.logFile, p.uid === undefined ? '' : String(p.uid), p.gid === undefined ? '' : String(p.gid), p.keep ? '1' : '0', String(p.args.length), ...p.args];
      const env = Object.entries(p.env)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => `${k}=${v}`);
      if ([...fields, ...env].some((f) => f.includes('\0'))) {
        return Promise.reject(new SpawnFailed('EINVAL', 'an argument or an environment value holds a NUL character'));
      }
      const id = String(nextId++);
      try {
        ensure();
      } catch (e) {
        return Promise.reject(new SpawnFailed('ESRCH', `cannot start the spawner: ${(e as Error).message}`));
      }
      return new Promise((resolve, reject) => {
        starting.set(id, { resolve, reject });
        refresh();
        send(['spawn', id, ...fields, String(env.length), ...env]);
      });
    },
    pid: () => helper?.pid ?? null,
    warm() {
      try {
        ensure();
      } catch {
        /* the first start says why */
      }
    },
    close() {
      const h = helper;
      helper = null;
      h?.stdin?.end();
    },
  };
}

function isZombie(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z';
  } catch {
    return false;
  }
}

let shared: Spawner | null | undefined;
/**
 * The spawner armsd's watches use: null on Windows, where the helper was not built, or when
 * ARMS_SPAWNER=node (then node's spawn starts the programs, as it does for the scripts).
 */
export function sharedSpawner(): Spawner | null {
  if (shared === undefined) {
    shared = process.platform !== 'win32' && process.env.ARMS_SPAWNER !== 'node' && fs.existsSync(SPAWNER_BINARY) ? openSpawner() : null;
  }
  return shared;
}
