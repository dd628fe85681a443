// What a watch runs: a program (spawned by us, its end seen at once) or a service (started by the
// service manager, or by configured commands, its end seen by polling every /INT seconds).
import { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import { identify, identityOf, isSameProcess, ProcessIdentity } from '../platform/process';
import { serviceManager, ServiceDef } from '../platform/services';
import { spawnCommandLine } from '../platform/command-line';
import { SpawnFailed, sharedSpawner, Spawner, StartedProgram } from '../platform/spawner';
import { programStarted, spawnProgram, stopTree } from '../platform/tree';

export interface End {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** already running again, on the watch's approve(): the new run, and how long this one ran */
  next?: Running;
  ranMs?: number;
}

export interface Running {
  pid: number | null;
  /** what tells this process from a later one with its PID (persisted for re-adoption) */
  identity: ProcessIdentity | null;
  /** resolves once, when the target ends by itself or by stop() */
  ended: Promise<End>;
  /** polite, then forced after timeoutMs; resolves true once it is gone */
  stop(timeoutMs: number): Promise<boolean>;
  /** is it still what we started? (false once ended, or when its PID now names another process) */
  ours(): boolean;
  /**
   * Only for a program of the native spawner: the restart policy has decided that an end after at
   * least `minRunMs` is restarted at once; the spawner does it without waiting for the service,
   * and `ended` tells the new run (End.next). Once per run.
   */
  approve?(minRunMs: number, set: Record<string, string>): void;
  /** withdraws an approve; resolves once no restart can come without the service */
  hold?(): Promise<void>;
}

export class StartFailed extends Error {}

export interface Target {
  describe: string;
  /** `extraEnv`: per-run variables for a program (ARMS_WATCH_RUN) */
  start(extraEnv?: Record<string, string>): Promise<Running>;
  /**
   * Takes back what a previous service started (after its crash): the same process (same PID,
   * start time and boot) or the service, watched by polling every intervalMs since it is no longer
   * our child. null when it is gone (or its PID now names another process: never touched).
   */
  adopt(saved: { pid: number | null; identity: ProcessIdentity | null }, intervalMs: number): Running | null;
}

/** A process that is not our child: its end is seen by polling its identity. */
export function adoptedProcess(identity: ProcessIdentity, intervalMs: number): Running | null {
  if (!isSameProcess(identity)) return null;
  let over = false;
  let timer: NodeJS.Timeout | null = null;
  const ended = new Promise<End>((resolve) => {
    const poll = () => {
      if (!isSameProcess(identity)) {
        over = true;
        resolve({ code: null, signal: null });
        return;
      }
      timer = setTimeout(poll, intervalMs);
    };
    timer = setTimeout(poll, intervalMs);
  });
  return {
    pid: identity.pid,
    identity,
    ended,
    ours: () => !over && isSameProcess(identity),
    async stop(timeoutMs) {
      if (!isSameProcess(identity)) return true;
      await stopTree(identity.pid, timeoutMs);
      const gone = !isSameProcess(identity);
      if (gone && timer) {
        clearTimeout(timer);
        over = true;
      }
      return gone;
    },
  };
}

export interface ProgramSpec {
  file: string;
  args: string[];
  /** instead of file and args: a command line from the config, run through the system's shell as written */
  line?: string;
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** POSIX: uid and gid (the service runs as root); Windows: the account and its sealed credentials */
  user?: { uid: number; gid: number; name?: string; credentials?: string };
}

/** A program of our own: its own process tree, output appended to `logFile`. */
export function programTarget(spec: ProgramSpec, logFile: string): Target {
  return {
    describe: spec.line ?? [spec.file, ...spec.args].join(' '),
    // Only the very process that was saved (same PID, start time and boot); watch-adoption.ts
    // looks for a restart the crashed service had not written down.
    adopt: (saved, intervalMs) => (saved.identity ? adoptedProcess(saved.identity, intervalMs) : null),
    start: (extraEnv = {}) => {
      // Plain programs are started by the resident spawner, off the event loop; a command line of
      // the config and another account's credentials (Windows) go through node's spawn.
      const native = spec.line === undefined && !spec.user?.credentials ? sharedSpawner() : null;
      if (native) return startNative(native, { ...spec, env: { ...spec.env, ...extraEnv } }, logFile);
      return new Promise((resolve, reject) => {
        let out: number;
        try {
          out = fs.openSync(logFile, 'a', 0o640);
        } catch (e) {
          reject(new StartFailed(`cannot open the watch log ${logFile}: ${(e as Error).message}`));
          return;
        }
        const cannot = (e: NodeJS.ErrnoException) => {
          const why = e.code === 'ENOENT' ? 'not found' : e.code === 'EACCES' ? 'not executable (permission denied)' : e.message;
          return new StartFailed(`cannot start "${spec.file}": ${why}`);
        };
        let child: ChildProcess;
        try {
          const asUser = spec.user?.credentials ? { name: spec.user.name!, credentials: spec.user.credentials } : undefined;
          const ids = asUser ? {} : { uid: spec.user?.uid, gid: spec.user?.gid };
          const opts = { cwd: spec.cwd, env: { ...spec.env, ...extraEnv }, stdio: ['ignore', out, out] as ['ignore', number, number], ...ids };
          child = spec.line !== undefined ? spawnCommandLine(spec.line, { ...opts, tree: true }) : spawnProgram(spec.file, spec.args, opts, asUser);
        } catch (e) {
          fs.closeSync(out);
          reject(cannot(e as NodeJS.ErrnoException));
          return;
        }
        // The program has its own copy of the log file's descriptor.
        fs.closeSync(out);
        // Its end is caught from the start: a program may end before it is reported started.
        const exited = new Promise<End>((r) => child.once('exit', (code, signal) => r({ code, signal })));
        child.on('error', () => {}); // said through programStarted
        // Started only once it runs (Windows: the host said so, after the logon of /U): until
        // then a refusal is the start's failure (ARMLOAD exit 6), not a watch that ends.
        programStarted(child).then(
          () => {
            const pid = child.pid!;
            resolve(processRun(pid, identify(pid), exited));
          },
          (e: NodeJS.ErrnoException) => reject(e.code ? cannot(e) : new StartFailed(`cannot start "${spec.file}"${spec.user?.name ? ` as ${spec.user.name}` : ''}: ${e.message}`)),
        );
      });
    },
  };
}

/** The same as node's spawn above, through the native spawner (POSIX): off armsd's event loop. */
async function startNative(spawner: Spawner, spec: ProgramSpec, logFile: string): Promise<Running> {
  let started;
  try {
    started = await spawner.start({ file: spec.file, args: spec.args, cwd: spec.cwd, env: spec.env, logFile, uid: spec.user?.uid, gid: spec.user?.gid, keep: true });
  } catch (e) {
    if (!(e instanceof SpawnFailed)) throw e;
    // "cannot open the watch log ...", "cannot enter the working folder ...": said as they are
    if (e.message.startsWith('cannot open the watch log')) throw new StartFailed(e.message);
    const why = e.message.startsWith('cannot ') ? e.message : e.code === 'ENOENT' ? 'not found' : e.code === 'EACCES' ? 'not executable (permission denied)' : e.message;
    throw new StartFailed(`cannot start "${spec.file}": ${why}`);
  }
  return nativeRun(started);
}

function nativeRun(started: StartedProgram): Running {
  const { pid } = started;
  // Linux: the helper read its start time; elsewhere (no /proc) as identify() would say.
  const identity = started.start !== null ? identityOf(pid, started.start) : identify(pid);
  const exited = started.exited.then(({ code, signal, next, ranMs }): End => (next ? { code, signal, next: nativeRun(next), ranMs } : { code, signal }));
  return processRun(pid, identity, exited, started);
}

/**
 * A process we started (our child, or the native spawner's). With the spawner, a restart it made on
 * an approve (End.next) during a stop belongs to that stop: a watch being stopped does not take it.
 */
function processRun(pid: number, identity: ProcessIdentity | null, exited: Promise<End>, spawned?: StartedProgram): Running {
  let over = false;
  let next: Running | undefined;
  const ended = exited.then((end) => {
    over = true;
    next = end.next;
    return end;
  });
  return {
    pid,
    identity,
    ended,
    ours: () => !over && identity !== null && isSameProcess(identity),
    ...(spawned && { approve: (minRunMs: number, set: Record<string, string>) => spawned.approve(minRunMs, set), hold: () => spawned.hold() }),
    async stop(timeoutMs) {
      // no restart by the spawner from here on
      await spawned?.hold();
      if (over) await ended;
      else {
        await stopTree(pid, timeoutMs);
        await Promise.race([ended, new Promise((r) => setTimeout(r, 2000))]);
      }
      return next ? next.stop(timeoutMs) : over;
    },
  };
}

/** A service (/S): started and stopped by its manager or its configured commands, watched by polling. */
export function serviceTarget(name: string, def: ServiceDef, opts: { intervalMs: number; noWait: boolean; cwd: string; env: NodeJS.ProcessEnv; logFile: string }): Target {
  const manager = serviceManager(def, { cwd: opts.cwd, env: opts.env, logFile: opts.logFile });
  // Without a status command, the started process itself is what is watched.
  if (def.kind === 'commands' && !def.status) {
    const program = programTarget({ file: def.start, args: [], line: def.start, cwd: opts.cwd, env: opts.env }, opts.logFile);
    return {
      describe: `service ${name} (${def.start})`,
      adopt: program.adopt,
      async start(extraEnv) {
        const running = await program.start(extraEnv);
        return {
          ...running,
          async stop(timeoutMs) {
            if (def.stop) await manager.stop(timeoutMs);
            return running.stop(timeoutMs);
          },
        };
      },
    };
  }
  /** Polls the service until it is no longer running (or stop() is called). */
  const watch = (): Running => {
    let over = false;
    let stopping = false;
    let timer: NodeJS.Timeout | null = null;
    const ended = new Promise<End>((resolve) => {
      const poll = async () => {
        timer = null;
        if (over) return;
        if (!(await manager.running()) && !over) {
          over = true;
          resolve({ code: null, signal: null });
          return;
        }
        if (!over) timer = setTimeout(poll, opts.intervalMs);
      };
      timer = setTimeout(poll, opts.intervalMs);
    });
    return {
      pid: null,
      identity: null,
      ended,
      ours: () => !over,
      async stop(timeoutMs) {
        if (stopping) return over;
        stopping = true;
        over = true;
        if (timer) clearTimeout(timer);
        return manager.stop(timeoutMs);
      },
    };
  };
  return {
    describe: `service ${name}${def.kind === 'unit' ? ` (unit ${def.unit})` : def.kind === 'windows' ? '' : ` (${def.start})`}`,
    // Whether it still runs is the first poll's to say.
    adopt: () => watch(),
    async start() {
      const problem = await manager.start(opts.noWait);
      if (problem) throw new StartFailed(`service ${name} did not start: ${problem}`);
      return watch();
    },
  };
}
