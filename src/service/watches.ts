// The watches: what ARMLOAD started, each under its ID. The service spawns the program (never the
// command), in a process tree of its own, output to a per-watch log file; notices its end at once
// (the child's exit event, no polling); restarts it or escalates by its policy; ARMKILL stops it.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { groupLeaders, ProcessIdentity } from '../platform/process';
import { stopTree } from '../platform/tree';
import { nativeService, ServiceDef } from '../platform/services';
import { Logs } from './log';
import { decide, FinalAction, resetsAt, RestartCounters, RestartPolicy } from './restart-policy';
import { RotationPolicy } from './rotating-file';
import { End, programTarget, Running, serviceTarget, StartFailed, Target } from './targets';

export interface WatchRequest {
  /** as given by the caller; IDs compare case-insensitively */
  id: string;
  /** the group of the script that called ARMLOAD, or null */
  group: string | null;
  file: string;
  args: string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** /W: the caller waits for the end; the ID is released then */
  wait: boolean;
  policy: RestartPolicy;
  /** /SCR: restart by re-running the group instead of the program */
  scriptRestart: boolean;
  /** /WAIT s: an end within this long after a start is handled only once it has passed */
  graceMs: number;
  /** run as this account (POSIX, service running as root) */
  user?: { name: string; uid: number; gid: number };
  /** /S: `file` names a service; /A: do not wait for it to run */
  service?: { noWait: boolean };
  /** /INT: how often a service, or a process adopted after a service crash, is polled */
  intervalMs: number;
}

/** What the persisted state keeps of a watch, to take it back after a crash of the service. */
export interface SavedWatch {
  req: WatchRequest;
  pid: number | null;
  identity: ProcessIdentity | null;
  state: WatchState;
  since: number;
  startedAt: number;
  counters: RestartCounters;
  lastExit: WatchStatus['lastExit'];
  escalation: WatchStatus['escalation'];
}

export type WatchState = 'running' | 'ended' | 'exhausted' | 'escalated' | 'stopping';

/** One watch in `arms status --json` (docs/status.md): keep the names stable. */
export interface WatchStatus {
  id: string;
  group: string | null;
  pid: number | null;
  state: WatchState;
  command: string;
  since: string;
  restartsUsed: number;
  restartsAllowed: number;
  /** when the restart count returns to zero (ISO), or null */
  resetsAt: string | null;
  lastExit: { code: number | null; signal: string | null; at: string } | null;
  /** the final action taken (once), with its cause */
  escalation: { action: FinalAction; at: string; cause: string } | null;
  log: string;
}

export class WatchError extends Error {
  constructor(
    public code: 'usage' | 'conflict' | 'not_found' | 'cannot_start' | 'failed',
    message: string,
  ) {
    super(message);
  }
}

interface Watch {
  req: WatchRequest;
  key: string;
  target: Target;
  running: Running | null;
  state: WatchState;
  since: number;
  startedAt: number;
  counters: RestartCounters;
  lastExit: WatchStatus['lastExit'];
  escalation: WatchStatus['escalation'];
  logFile: string;
  /** /W callers waiting for the end */
  waiters: Array<(end: End) => void>;
  graceTimer: NodeJS.Timeout | null;
}

export interface Clock {
  now(): number;
}

export interface WatchesContext {
  logs: Logs;
  logDir: string;
  rotation: RotationPolicy;
  clock: Clock;
  /** the final action of a watch: fail its group over, or shut the server down */
  escalate(action: FinalAction, watch: WatchStatus, cause: string): void;
  /** /SCR: re-run the watch's group (stop script, then start script) */
  rerunGroup(group: string, cause: string): void;
  /** /S: what a service name means here (the config's services: map), else the OS's own service */
  serviceDef(name: string): ServiceDef | undefined;
  /** a watch is gone (ARMKILL, its group's stop, a /W end) */
  ended(id: string): void;
  /** something the persisted state keeps of this watch (its ID, upper case) has changed */
  changed(key: string): void;
}

export const ID_PATTERN = /^[A-Za-z0-9_]{1,255}$/;

export interface Watches {
  /** resolves once the program runs */
  start(req: WatchRequest): Promise<{ pid: number | null }>;
  /** /W: resolves when the watch's program ends */
  waitEnd(id: string): Promise<End>;
  kill(id: string, timeoutMs: number, callerGroup: string | null): Promise<'stopped' | 'had-ended'>;
  list(): WatchStatus[];
  /** stops the group's watches still running (after its stop script); returns their IDs */
  stopGroup(group: string, timeoutMs: number): Promise<string[]>;
  stopAll(timeoutMs: number): Promise<void>;
  /** stops the log rotation timer */
  close(): void;
  /** for the persisted state */
  saved(): SavedWatch[];
  /** for the persisted state: one watch (its ID, upper case), null when there is none */
  savedOne(key: string): SavedWatch | null;
  /** after a crash of the service: takes back the watches whose process still runs, handles the others by their policy */
  adopt(saved: SavedWatch[]): { adopted: string[]; gone: string[] };
  /**
   * After a crash, once adopt() has run: stops the programs marked as started for a watch of this
   * home whose ID no watch has (the service ended between starting one and writing it down, so its
   * ARMLOAD never got an answer). Returns them. Linux only (it reads the marks in /proc).
   */
  sweep(graceMs: number): Promise<Array<{ id: string; pid: number; command: string }>>;
}

/** How often the watch logs are checked against their size limit, and how many at most each time. */
const ROTATE_CHECK_MS = 5000;
const ROTATE_CHECKS = 500;

export function openWatches(ctx: WatchesContext): Watches {
  const watches = new Map<string, Watch>();
  const remove = (w: Watch) => {
    if (watches.get(w.key) !== w) return;
    watches.delete(w.key);
    ctx.ended(w.req.id);
    ctx.changed(w.key);
  };
  /** counters carried across a /SCR group restart, which ARMKILLs and ARMLOADs the watch again */
  const carried = new Map<string, RestartCounters>();
  fs.mkdirSync(ctx.logDir, { recursive: true, mode: 0o750 });

  // The programs write their log files themselves (so they outlive the service): rotate by
  // copying the file aside and truncating it; they write with O_APPEND, so they go on at its start.
  // At most ROTATE_CHECKS logs a turn (a stat each), in turn: the idle cost stays flat with
  // thousands of watches (each log is then checked every ROTATE_CHECK_MS x watches / ROTATE_CHECKS).
  let rotateNext = 0;
  const rotateTimer = setInterval(() => {
    const all = [...watches.values()];
    const n = Math.min(all.length, ROTATE_CHECKS);
    for (let i = 0; i < n; i++) {
      const w = all[(rotateNext + i) % all.length];
      if (w.running) rotateWatchLog(w.logFile, ctx.rotation);
    }
    rotateNext = all.length ? (rotateNext + n) % all.length : 0;
  }, ROTATE_CHECK_MS);
  rotateTimer.unref();

  const iso = (ms: number) => new Date(ms).toISOString();
  const active = (w: Watch) => w.state === 'running' || w.state === 'stopping';

  const status = (w: Watch): WatchStatus => {
    const reset = resetsAt(w.req.policy, w.counters);
    return {
      id: w.req.id,
      group: w.req.group,
      pid: w.running?.pid ?? null,
      state: w.state,
      command: w.target.describe,
      since: iso(w.since),
      restartsUsed: w.counters.used,
      restartsAllowed: w.req.policy.restarts,
      resetsAt: reset === null ? null : iso(reset),
      lastExit: w.lastExit,
      escalation: w.escalation,
      log: w.logFile,
    };
  };

  const fields = (w: Watch, extra: Record<string, unknown> = {}) => ({ src: 'watch', group: w.req.group ?? undefined, watch: w.req.id, ...extra });

  const setState = (w: Watch, state: WatchState) => {
    w.state = state;
    w.since = ctx.clock.now();
    ctx.changed(w.key);
  };

  const targetFor = (req: WatchRequest, logFile: string): Target =>
    req.service
      ? serviceTarget(req.file, ctx.serviceDef(req.file) ?? nativeService(req.file), { intervalMs: req.intervalMs, noWait: req.service.noWait, cwd: req.cwd, env: req.env, logFile })
      : programTarget(
          { ...req, env: { ...req.env, ARMS_WATCH_ID: req.id, ARMS_WATCH_LOG: logFile }, marks: [`ARMS_WATCH_ID=${req.id}`, `ARMS_WATCH_LOG=${logFile}`] },
          logFile,
        );

  /** From now on, the watch follows this running target. */
  const follow = (w: Watch, running: Running) => {
    w.running = running;
    void running.ended.then((end) => ended(w, running, end));
    ctx.changed(w.key);
  };

  /** Starts the target; rejects with a WatchError when it cannot be started. */
  const launch = async (w: Watch): Promise<number | null> => {
    let running: Running;
    try {
      running = await w.target.start();
    } catch (e) {
      throw e instanceof StartFailed ? new WatchError('cannot_start', e.message) : e;
    }
    w.startedAt = ctx.clock.now();
    follow(w, running);
    return running.pid;
  };

  const ended = (w: Watch, running: Running, end: End) => {
    if (w.running !== running) return;
    w.running = null;
    const { code, signal } = end;
    w.lastExit = { code, signal, at: iso(ctx.clock.now()) };
    for (const wake of w.waiters.splice(0)) wake(end);
    if (w.state === 'stopping') return; // ARMKILL: not an end that counts
    if (w.req.wait) {
      remove(w);
      ctx.logs.write('INFO', fields(w, { exitCode: code, signal }), `watch ${w.req.id} (${w.req.file}) ended: ${describeEnd(code, signal)}; ID released (/W)`);
      return;
    }
    const sinceStart = ctx.clock.now() - w.startedAt;
    if (sinceStart < w.req.graceMs) {
      // /WAIT: monitoring begins when the grace period is over.
      setState(w, 'ended');
      w.graceTimer = setTimeout(() => {
        w.graceTimer = null;
        if (w.state === 'ended' && watches.get(w.key) === w) react(w, code, signal);
      }, w.req.graceMs - sinceStart);
      return;
    }
    react(w, code, signal);
  };

  /** The restart policy's answer to an end. */
  const react = (w: Watch, code: number | null, signal: NodeJS.Signals | null) => {
    const d = decide(w.req.policy, w.counters, ctx.clock.now());
    w.counters = d.counters;
    ctx.changed(w.key);
    const how = describeEnd(code, signal);
    switch (d.action) {
      case 'none':
        setState(w, 'ended');
        ctx.logs.write('WARN', fields(w, { exitCode: code, signal }), `watch ${w.req.id} (${w.req.file}) ended: ${how}; not monitored for restarts`);
        return;
      case 'restart': {
        const n = `${d.counters.used} of ${w.req.policy.restarts}`;
        if (w.req.scriptRestart && w.req.group) {
          setState(w, 'ended');
          carried.set(w.key, d.counters);
          ctx.logs.alert('WARN', fields(w, { exitCode: code, signal }), `watch ${w.req.id} ended (${how}); restarting group ${w.req.group} by its scripts (/SCR, restart ${n})`);
          ctx.rerunGroup(w.req.group, `watch ${w.req.id} ended (${how}), restart ${n}`);
          return;
        }
        ctx.logs.write('WARN', fields(w, { exitCode: code, signal }), `watch ${w.req.id} ended (${how}); restarting it (restart ${n})`);
        launch(w).then(
          (pid) => ctx.logs.write('INFO', fields(w, { pid }), `watch ${w.req.id} restarted${pid === null ? '' : `, pid ${pid}`}`),
          (e: Error) => {
            ctx.logs.alert('ERR', fields(w), `watch ${w.req.id}: restart failed: ${e.message}`);
            // A program that cannot start again ends again: the policy counts it like any end.
            setImmediate(() => react(w, null, null));
          },
        );
        return;
      }
      case 'final': {
        setState(w, 'escalated');
        const window = w.req.policy.windowMs === null ? 'no reset window' : `window ${humanMs(w.req.policy.windowMs)}`;
        const cause = w.req.policy.monitorOnly
          ? `watch ${w.req.id} ended (${how}); monitored without restarts (/M)`
          : `watch ${w.req.id} ended (${how}) after ${d.counters.used} of ${w.req.policy.restarts} restarts (${window})`;
        w.escalation = { action: d.final, at: iso(ctx.clock.now()), cause };
        ctx.logs.alert('ERR', fields(w, { action: d.final, restartsUsed: d.counters.used, restartsAllowed: w.req.policy.restarts }), `${cause}: ${d.final === 'failover' ? 'failing the group over' : 'shutting the server down'}`);
        ctx.escalate(d.final, status(w), cause);
        return;
      }
      case 'give-up':
        setState(w, 'exhausted');
        ctx.logs.alert('ERR', fields(w, { restartsUsed: d.counters.used }), `watch ${w.req.id} ended (${how}); its ${w.req.policy.restarts} restarts are used up and it has no final action: monitoring stops`);
        return;
    }
  };

  const saved = (w: Watch): SavedWatch => ({
    req: w.req,
    pid: w.running?.pid ?? null,
    identity: w.running?.identity ?? null,
    state: w.state === 'stopping' ? 'running' : w.state,
    since: w.since,
    startedAt: w.startedAt,
    counters: w.counters,
    lastExit: w.lastExit,
    escalation: w.escalation,
  });

  const stopWatch = async (w: Watch, timeoutMs: number): Promise<'stopped' | 'had-ended'> => {
    if (w.graceTimer) clearTimeout(w.graceTimer);
    const running = w.running;
    // Never signal what is no longer ours: an ended program's PID may name a stranger now.
    if (!running || !running.ours()) {
      remove(w);
      return 'had-ended';
    }
    setState(w, 'stopping');
    if (!(await running.stop(timeoutMs))) {
      setState(w, 'running');
      throw new WatchError('failed', `watch ${w.req.id}: ${running.pid === null ? w.target.describe : `pid ${running.pid}`} did not stop, even when forced`);
    }
    remove(w);
    return 'stopped';
  };

  return {
    async start(req) {
      if (!ID_PATTERN.test(req.id)) throw new WatchError('usage', `watch ID "${req.id}" must be 1-255 letters, digits or "_"`);
      const key = req.id.toUpperCase();
      if (key.startsWith('NEC_')) throw new WatchError('usage', `watch IDs beginning with NEC_ are reserved ("${req.id}")`);
      const existing = watches.get(key);
      if (existing && active(existing)) {
        throw new WatchError('conflict', `watch ID "${existing.req.id}" is already in use${existing.req.group ? ` (group ${existing.req.group})` : ''}`);
      }
      if (existing?.graceTimer) clearTimeout(existing.graceTimer);
      const now = ctx.clock.now();
      const logFile = path.join(ctx.logDir, `${key}.log`);
      const target = targetFor(req, logFile);
      const w: Watch = {
        req,
        key,
        target,
        running: null,
        state: 'running',
        since: now,
        startedAt: now,
        counters: carried.get(key) ?? { used: 0, windowStart: null },
        lastExit: null,
        escalation: null,
        logFile,
        waiters: [],
        graceTimer: null,
      };
      carried.delete(key);
      watches.set(key, w);
      try {
        const pid = await launch(w);
        ctx.logs.write('INFO', fields(w, { pid }), `watch ${req.id} started: ${target.describe}${pid === null ? '' : ` (pid ${pid})`}`);
        return { pid };
      } catch (e) {
        watches.delete(key);
        throw e;
      }
    },

    waitEnd(id) {
      const w = watches.get(id.toUpperCase());
      if (!w || !w.running) return Promise.resolve({ code: w?.lastExit?.code ?? null, signal: (w?.lastExit?.signal as NodeJS.Signals) ?? null });
      return new Promise((resolve) => w.waiters.push(resolve));
    },

    async kill(id, timeoutMs, callerGroup) {
      const w = watches.get(id.toUpperCase());
      if (!w) throw new WatchError('not_found', `no watch "${id}"`);
      if (callerGroup && w.req.group && callerGroup.toUpperCase() !== w.req.group.toUpperCase()) {
        throw new WatchError('conflict', `watch "${w.req.id}" belongs to group ${w.req.group}, not ${callerGroup}`);
      }
      const how = await stopWatch(w, timeoutMs);
      ctx.logs.write('INFO', fields(w), how === 'stopped' ? `watch ${w.req.id} stopped (ARMKILL)` : `watch ${w.req.id} released (ARMKILL; its program had ended)`);
      return how;
    },

    list: () => [...watches.values()].map(status),

    async stopGroup(group, timeoutMs) {
      const mine = [...watches.values()].filter((w) => w.req.group?.toUpperCase() === group.toUpperCase());
      const forgotten: string[] = [];
      await Promise.all(
        mine.map(async (w) => {
          const how = await stopWatch(w, timeoutMs).catch((e: Error) => (ctx.logs.alert('ERR', fields(w), e.message), 'failed'));
          if (how === 'stopped') {
            forgotten.push(w.req.id);
            ctx.logs.alert('WARN', fields(w), `watch ${w.req.id} was still running after group ${group}'s stop script: stopped by the service (add ARMKILL ${w.req.id} to the stop script)`);
          }
        }),
      );
      return forgotten;
    },

    async stopAll(timeoutMs) {
      await Promise.all([...watches.values()].map((w) => stopWatch(w, timeoutMs).catch(() => undefined)));
    },

    close() {
      clearInterval(rotateTimer);
    },

    saved: () => [...watches.values()].map(saved),
    savedOne(key) {
      const w = watches.get(key);
      return w ? saved(w) : null;
    },

    adopt(saved) {
      const adopted: string[] = [];
      const gone: string[] = [];
      for (const s of saved) {
        const key = s.req.id.toUpperCase();
        if (watches.has(key)) continue;
        const logFile = path.join(ctx.logDir, `${key}.log`);
        const w: Watch = {
          req: s.req,
          key,
          target: targetFor(s.req, logFile),
          running: null,
          state: s.state,
          since: s.since,
          startedAt: s.startedAt,
          counters: s.counters,
          lastExit: s.lastExit,
          escalation: s.escalation,
          logFile,
          waiters: [],
          graceTimer: null,
        };
        watches.set(key, w);
        if (s.state !== 'running') continue; // ended, exhausted, escalated: kept as they were
        const running = w.target.adopt({ pid: s.pid, identity: s.identity }, s.req.intervalMs);
        if (running) {
          if (s.pid !== null && running.pid !== s.pid) {
            // A restart the crashed service made just before its end, not yet written down: count it.
            const d = decide(s.req.policy, s.counters, ctx.clock.now());
            if (d.action === 'restart') w.counters = d.counters;
          }
          follow(w, running);
          adopted.push(s.req.id);
          ctx.logs.write('INFO', fields(w, { pid: running.pid }), `watch ${s.req.id} taken back after the service's restart${running.pid === null ? '' : ` (pid ${running.pid})`}`);
        } else {
          gone.push(s.req.id);
          ctx.logs.alert('WARN', fields(w, { pid: s.pid }), `watch ${s.req.id}: its program ended while the service was down`);
          if (s.req.wait) remove(w);
          else react(w, null, null);
        }
      }
      return { adopted, gone };
    },

    async sweep(graceMs) {
      const logMark = `ARMS_WATCH_LOG=${ctx.logDir}${path.sep}`;
      const idOf = (env: string[]) => env.find((e) => e.startsWith('ARMS_WATCH_ID='))?.slice('ARMS_WATCH_ID='.length) ?? '';
      // A known ID is left alone, even with another PID: a program the watched one started in a
      // session of its own carries the same marks.
      const strays = groupLeaders((env) => env.some((e) => e.startsWith(logMark)) && !watches.has(idOf(env).toUpperCase()));
      await Promise.all(strays.map((p) => stopTree(p.identity.pid, graceMs)));
      return strays.map((p) => {
        const id = idOf(p.env);
        ctx.logs.alert('WARN', { src: 'watch', watch: id, pid: p.identity.pid }, `program ${p.identity.pid} (${p.cmdline}) was started for watch ${id} just before the service ended, which never wrote it down (its ARMLOAD got no answer): stopped`);
        return { id, pid: p.identity.pid, command: p.cmdline };
      });
    },
  };
}

export function rotateWatchLog(file: string, policy: RotationPolicy): void {
  try {
    if (fs.statSync(file).size < policy.maxBytes) return;
  } catch {
    return;
  }
  for (let i = policy.keep - 1; i >= 1; i--) {
    try {
      fs.renameSync(`${file}.${i}`, `${file}.${i + 1}`);
    } catch {
      /* not there yet */
    }
  }
  try {
    if (policy.keep >= 1) fs.copyFileSync(file, `${file}.1`);
    fs.truncateSync(file, 0);
  } catch {
    /* gone meanwhile, or the disk is full: tried again at the next check */
  }
}

function humanMs(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000} h`;
  if (ms % 60_000 === 0) return `${ms / 60_000} min`;
  return `${ms / 1000} s`;
}

export function describeEnd(code: number | null, signal: NodeJS.Signals | null): string {
  return signal ? `killed by ${signal}` : `exit code ${code}`;
}
