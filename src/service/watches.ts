// The watches: what ARMLOAD started, each under its ID. The service spawns the program (never the
// command), in a process tree of its own, output to a per-watch log file; notices its end at once
// (the child's exit event, no polling); restarts it or escalates by its policy; ARMKILL stops it.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ProcessIdentity } from '../platform/process';
import { groupLeft, stopSessions } from '../platform/tree';
import { nativeService, ServiceDef } from '../platform/services';
import { Logs } from './log';
import { afterRun, decide, DEFAULT_PACING, FinalAction, immediateRestartAfter, Pacing, restartDelay, resetsAt, RestartCounters, RestartPolicy } from './restart-policy';
import { openGate } from './restart-gate';
import { RotationPolicy } from './rotating-file';
import { End, programTarget, Running, serviceTarget, StartFailed, Target } from './targets';
import { adoptWatches, adoptOrphans, sweepStrays } from './watch-adoption';

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
  user?: { name: string; uid: number; gid: number; credentials?: string };
  /** /S: `file` names a service; /A: do not wait for it to run */
  service?: { noWait: boolean };
  /** /INT: how often a service, or a process adopted after a service crash, is polled */
  intervalMs: number;
  /** the delays between restarts (config: watchDefaults, watches.ID); absent in older state files */
  pacing?: Pacing;
}

/** What the persisted state keeps of a watch, to take it back after a crash of the service. */
export interface SavedWatch {
  req: WatchRequest;
  pid: number | null;
  identity: ProcessIdentity | null;
  state: WatchState;
  since: number;
  /** `since` as status shows it, kept while `since` does not change (status of 1000 watches is read often) */
  sinceText?: [number, string];
  startedAt: number;
  counters: RestartCounters;
  lastExit: WatchStatus['lastExit'];
  escalation: WatchStatus['escalation'];
  /** the number of the last run started (ARMS_WATCH_RUN in its environment) */
  run?: number;
  /** the leaders of the runs whose groups or sessions may still hold processes */
  sessions?: ProcessIdentity[];
  /** maintenance (`arms watch suspend`); held: its program ended meanwhile and waits for the resume */
  suspended?: boolean;
  held?: boolean;
  /** taken back without its request after the state was lost (see Watch.orphan) */
  orphan?: { cmdline: string } | null;
}

/** failed: its program exited with a usage error (2) within its first second; not restarted */
export type WatchState = 'running' | 'ended' | 'exhausted' | 'escalated' | 'stopping' | 'failed';

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
  /** when a paced restart is due (ISO), or null */
  restartAt: string | null;
  lastExit: { code: number | null; signal: string | null; at: string } | null;
  /** the final action taken (once), with its cause */
  escalation: { action: FinalAction; at: string; cause: string } | null;
  log: string;
  /** maintenance: an end is neither restarted nor counted until `arms watch resume` */
  suspended: boolean;
}

export class WatchError extends Error {
  constructor(
    public code: 'usage' | 'conflict' | 'not_found' | 'cannot_start' | 'failed',
    message: string,
  ) {
    super(message);
  }
}

/** One watch, as the watch modules (this one, watch-adoption.ts) hold it. */
export interface Watch {
  req: WatchRequest;
  key: string;
  target: Target;
  running: Running | null;
  state: WatchState;
  since: number;
  /** `since` as status shows it, kept while `since` does not change (status of 1000 watches is read often) */
  sinceText?: [number, string];
  startedAt: number;
  counters: RestartCounters;
  lastExit: WatchStatus['lastExit'];
  escalation: WatchStatus['escalation'];
  logFile: string;
  /** /W callers waiting for the end */
  waiters: Array<(end: End) => void>;
  graceTimer: NodeJS.Timeout | null;
  /** a paced restart waiting for its time, and when */
  restartTimer: NodeJS.Timeout | null;
  restartAt: number | null;
  /** runs started so far (ARMS_WATCH_RUN of the last one) */
  run: number;
  /** leaders of the runs whose groups/sessions may still hold processes (ended by ARMKILL) */
  sessions: ProcessIdentity[];
  /** taken back without its request after the state was lost: a same-ID ARMLOAD takes it over */
  orphan: { cmdline: string } | null;
  suspended: boolean;
  /** its program ended while suspended: started again at the resume */
  held: boolean;
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
  /** something the persisted state keeps of this watch (its key: ID, upper case) has changed */
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
  /** one watch, by its ID in any case (cheaper than list() for a monitor's every check) */
  find(id: string): { pid: number | null; group: string | null; state: WatchState } | undefined;
  /** stops the group's watches still running (after its stop script); returns their IDs */
  stopGroup(group: string, timeoutMs: number): Promise<string[]>;
  stopAll(timeoutMs: number): Promise<void>;
  /** stops the log rotation timer */
  close(): void;
  /** for the persisted state */
  saved(): SavedWatch[];
  /** for the persisted state: one watch (its key: ID, upper case), null when there is none */
  savedOne(key: string): SavedWatch | null;
  /** the watches' keys (IDs, upper case) */
  keys(): Iterable<string>;
  /** after a crash of the service: takes back the watches whose process still runs, handles the others by their policy */
  adopt(saved: SavedWatch[]): { adopted: string[]; gone: string[] };
  /**
   * After the state was lost (both copies unreadable): takes back, as watches without a restart
   * policy, the programs marked as this home's watches; ARMLOAD of the same ID takes one over
   * rather than start a second copy. Linux only. Returns their IDs.
   */
  adoptOrphans(): string[];
  /**
   * After a crash, once adopt() has run: stops the programs marked as started for a watch of this
   * home whose ID no watch has (the service ended between starting one and writing it down, so its
   * ARMLOAD never got an answer). Returns them. Linux only (it reads the marks in /proc).
   */
  sweep(graceMs: number): Promise<Array<{ id: string; pid: number; command: string }>>;
  /** maintenance: suspends or resumes the watch (a resume starts a program that ended meanwhile) */
  suspend(id: string, on: boolean): Promise<{ changed: boolean; status: WatchStatus }>;
  /** a monitor's recovery: stops the program and starts it again, outside its /R count */
  restart(id: string, cause: string, timeoutMs: number): Promise<number | null>;
}

/** How often the watch logs are checked against their size limit, and how many at most each time. */
const ROTATE_CHECK_MS = 5000;
const ROTATE_CHECKS = 500;

/** A program that exits with a usage error (2) this soon after its start is not restarted. */
export const USAGE_ERROR_WINDOW_MS = 1000;

/** At most this many runs with something left in their process group are remembered per watch. */
const MAX_SESSIONS = 16;

/** What watch-adoption.ts needs of the watches' internals. */
export interface WatchCore {
  ctx: WatchesContext;
  watches: Map<string, Watch>;
  make(req: WatchRequest, init?: Partial<Watch>): Watch;
  follow(w: Watch, running: Running): void;
  react(w: Watch, code: number | null, signal: NodeJS.Signals | null, ranMs: number): void;
  /** maintenance: an end while suspended, kept for the resume */
  hold(w: Watch, how: string): void;
  remove(w: Watch): void;
  fields(w: Watch, extra?: Record<string, unknown>): Record<string, unknown> & { src: string };
  marks(w: Watch): string[];
}

export function openWatches(ctx: WatchesContext): Watches {
  const watches = new Map<string, Watch>();
  /** set by stopAll: no more restarts */
  let closing = false;
  const gate = openGate();
  const remove = (w: Watch) => {
    if (watches.get(w.key) !== w) return;
    clearTimers(w);
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
  const pacing = (w: Watch) => w.req.pacing ?? DEFAULT_PACING;
  const clearTimers = (w: Watch) => {
    if (w.graceTimer) clearTimeout(w.graceTimer);
    if (w.restartTimer) clearTimeout(w.restartTimer);
    w.graceTimer = null;
    w.restartTimer = null;
    w.restartAt = null;
  };

  const status = (w: Watch): WatchStatus => {
    const reset = resetsAt(w.req.policy, w.counters);
    return {
      id: w.req.id,
      group: w.req.group,
      pid: w.running?.pid ?? null,
      state: w.state,
      command: w.target.describe,
      since: (w.sinceText?.[0] === w.since ? w.sinceText : (w.sinceText = [w.since, iso(w.since)]))[1],
      restartsUsed: w.counters.used,
      restartsAllowed: w.req.policy.restarts,
      resetsAt: reset === null ? null : iso(reset),
      restartAt: w.restartAt === null ? null : iso(w.restartAt),
      lastExit: w.lastExit,
      escalation: w.escalation,
      log: w.logFile,
      suspended: w.suspended,
    };
  };

  const fields = (w: Watch, extra: Record<string, unknown> = {}) => ({ src: 'watch', group: w.req.group ?? undefined, watch: w.req.id, ...extra });
  const marks = (w: Watch) => [`ARMS_WATCH_ID=${w.req.id}`, `ARMS_WATCH_LOG=${w.logFile}`];

  const savedOf = (w: Watch): SavedWatch => ({
    req: w.req,
    pid: w.running?.pid ?? null,
    identity: w.running?.identity ?? null,
    state: w.state === 'stopping' ? 'running' : w.state,
    since: w.since,
    startedAt: w.startedAt,
    counters: w.counters,
    lastExit: w.lastExit,
    escalation: w.escalation,
    run: w.run,
    sessions: w.sessions,
    suspended: w.suspended,
    held: w.held,
    orphan: w.orphan,
  });

  const setState = (w: Watch, state: WatchState) => {
    w.state = state;
    w.since = ctx.clock.now();
    ctx.changed(w.key);
  };

  const targetFor = (req: WatchRequest, logFile: string): Target =>
    req.service
      ? serviceTarget(req.file, ctx.serviceDef(req.file) ?? nativeService(req.file), { intervalMs: req.intervalMs, noWait: req.service.noWait, cwd: req.cwd, env: req.env, logFile })
      : programTarget({ ...req, env: { ...req.env, ARMS_WATCH_ID: req.id, ARMS_WATCH_LOG: logFile } }, logFile);

  const make = (req: WatchRequest, init: Partial<Watch> = {}): Watch => {
    const key = req.id.toUpperCase();
    const logFile = path.join(ctx.logDir, `${key}.log`);
    const now = ctx.clock.now();
    return {
      req,
      key,
      target: targetFor(req, logFile),
      running: null,
      state: 'running',
      since: now,
      startedAt: now,
      counters: { used: 0, windowStart: null, streak: 0 },
      lastExit: null,
      escalation: null,
      logFile,
      waiters: [],
      graceTimer: null,
      restartTimer: null,
      restartAt: null,
      run: 0,
      sessions: [],
      orphan: null,
      suspended: false,
      held: false,
      ...init,
    };
  };

  /** From now on, the watch follows this running target. */
  const follow = (w: Watch, running: Running) => {
    w.running = running;
    void running.ended.then((end) => ended(w, running, end));
    ctx.changed(w.key);
  };

  /** Its group and session are where its leftovers will be looked for (ARMKILL, a group's stop). */
  const remember = (w: Watch, leader: ProcessIdentity) => {
    // Runs whose process group is empty are forgotten (one syscall each), so that a crash loop
    // keeps one or two, not its whole history, in memory and in the state file.
    w.sessions = [...w.sessions.filter(groupLeft), leader].slice(-MAX_SESSIONS);
  };
  const runs = (w: Watch) => ({ leaders: w.sessions, marks: marks(w) });

  /** Starts the target; rejects with a WatchError when it cannot be started. */
  const launch = async (w: Watch): Promise<number | null> => {
    let running: Running;
    const run = w.run + 1;
    try {
      running = await w.target.start({ ARMS_WATCH_RUN: String(run) });
    } catch (e) {
      throw e instanceof StartFailed ? new WatchError('cannot_start', e.message) : e;
    }
    w.run = run;
    w.startedAt = ctx.clock.now();
    if (running.identity) remember(w, running.identity);
    follow(w, running);
    approve(w);
    return running.pid;
  };

  /**
   * Tells the native spawner which end of the current run it may restart by itself, at once, when
   * the policy's answer is already known: a killed program runs again without waiting for this
   * event loop (respawned() then counts it). Anything the policy must judge comes here as an end.
   */
  const approve = (w: Watch) => {
    const r = w.running;
    if (!r?.approve || closing || w.state !== 'running' || w.suspended || w.req.wait || w.req.scriptRestart || w.req.service) return;
    const after = immediateRestartAfter(w.req.policy, pacing(w), w.counters);
    if (after !== null) r.approve(Math.max(after, w.req.graceMs), { ARMS_WATCH_RUN: String(w.run + 1) });
  };

  /** The spawner restarted the program on its approve: counted and logged as a restart made here. */
  const respawned = (w: Watch, next: Running, code: number | null, signal: NodeJS.Signals | null, ranMs: number) => {
    if (watches.get(w.key) !== w) {
      // Released meanwhile (ARMKILL of a program it saw ended): the new run is nobody's.
      void next.stop(10_000);
      return;
    }
    const how = describeEnd(code, signal);
    const before = afterRun(pacing(w), w.counters, ranMs);
    const d = decide(w.req.policy, { ...before, streak: (before.streak ?? 0) + 1 }, ctx.clock.now());
    if (d.action !== 'restart' || closing) {
      // Not what the approve promised (the service is closing, or the policy changed meanwhile): undone.
      void next.stop(10_000);
      react(w, code, signal, ranMs);
      return;
    }
    w.counters = d.counters;
    ctx.logs.write('WARN', fields(w, { exitCode: code, signal, delayMs: 0 }), `watch ${w.req.id} ended (${how}); restarting it (restart ${d.counters.used} of ${w.req.policy.restarts})`);
    w.run += 1;
    w.startedAt = ctx.clock.now();
    if (next.identity) remember(w, next.identity);
    follow(w, next);
    ctx.logs.write('INFO', fields(w, { pid: next.pid }), `watch ${w.req.id} restarted, pid ${next.pid}`);
    approve(w);
  };

  const ended = (w: Watch, running: Running, end: End) => {
    if (w.running !== running) return;
    w.running = null;
    const { code, signal } = end;
    const ranMs = end.ranMs ?? ctx.clock.now() - w.startedAt;
    w.lastExit = { code, signal, at: iso(ctx.clock.now()) };
    ctx.changed(w.key);
    for (const wake of w.waiters.splice(0)) wake({ code, signal });
    // ARMKILL: not an end that counts (a run the spawner had started again is the stop's to end)
    if (w.state === 'stopping') return;
    if (end.next) return respawned(w, end.next, code, signal, ranMs);
    if (w.req.wait) {
      remove(w);
      ctx.logs.write('INFO', fields(w, { exitCode: code, signal }), `watch ${w.req.id} (${w.req.file}) ended: ${describeEnd(code, signal)}; ID released (/W)`);
      return;
    }
    if (w.suspended) {
      hold(w, describeEnd(code, signal));
      return;
    }
    if (ranMs < w.req.graceMs) {
      // /WAIT: monitoring begins when the grace period is over.
      setState(w, 'ended');
      w.graceTimer = setTimeout(() => {
        w.graceTimer = null;
        if (w.state === 'ended' && watches.get(w.key) === w) react(w, code, signal, ranMs);
      }, w.req.graceMs - ranMs);
      return;
    }
    react(w, code, signal, ranMs);
  };

  /** Maintenance: an end while suspended is neither restarted nor counted; the resume starts it again. */
  const hold = (w: Watch, how: string) => {
    w.held = true;
    setState(w, 'ended');
    ctx.logs.write('WARN', fields(w), `watch ${w.req.id} ended (${how}) while suspended: not restarted, not counted (arms watch resume ${w.req.id} starts it again)`);
  };

  /** The restart policy's answer to an end, paced. */
  const react = (w: Watch, code: number | null, signal: NodeJS.Signals | null, ranMs: number) => {
    if (closing) return;
    const how = describeEnd(code, signal);
    if (code === 2 && signal === null && ranMs < USAGE_ERROR_WINDOW_MS && !w.req.service) {
      // A usage error does not go away by itself: restarting it only spends the budget (and the
      // failovers after it). The operator must fix the command.
      setState(w, 'failed');
      ctx.logs.alert('ERR', fields(w, { exitCode: code, event: 'watch-failed' }), `watch ${w.req.id} failed: ${w.target.describe} exited with a usage error (exit code 2) ${ranMs} ms after its start; not restarted (fix its command, then ARMKILL ${w.req.id} and ARMLOAD it again)`);
      return;
    }
    const p = pacing(w);
    const before = afterRun(p, w.counters, ranMs);
    const d = decide(w.req.policy, { ...before, streak: (before.streak ?? 0) + 1 }, ctx.clock.now());
    w.counters = d.counters;
    ctx.changed(w.key);
    switch (d.action) {
      case 'none':
        setState(w, 'ended');
        ctx.logs.write('WARN', fields(w, { exitCode: code, signal }), `watch ${w.req.id} (${w.req.file}) ended: ${how}; not monitored for restarts`);
        return;
      case 'restart': {
        const n = `${d.counters.used} of ${w.req.policy.restarts}`;
        const delay = restartDelay(p, d.counters.streak ?? 1);
        const after = delay > 0 ? ` in ${humanMs(delay)}` : '';
        if (w.req.scriptRestart && w.req.group) {
          setState(w, 'ended');
          carried.set(w.key, d.counters);
          ctx.logs.alert('WARN', fields(w, { exitCode: code, signal, delayMs: delay, event: 'watch-restart' }), `watch ${w.req.id} ended (${how}); restarting group ${w.req.group} by its scripts${after} (/SCR, restart ${n})`);
          later(w, delay, () => ctx.rerunGroup(w.req.group!, `watch ${w.req.id} ended (${how}), restart ${n}`));
          return;
        }
        ctx.logs.write('WARN', fields(w, { exitCode: code, signal, delayMs: delay }), `watch ${w.req.id} ended (${how}); restarting it${after} (restart ${n})`);
        later(w, delay, () =>
          launch(w).then(
            (pid) => ctx.logs.write('INFO', fields(w, { pid }), `watch ${w.req.id} restarted${pid === null ? '' : `, pid ${pid}`}`),
            (e: Error) => {
              ctx.logs.alert('ERR', fields(w, { event: 'watch-restart-failed' }), `watch ${w.req.id}: restart failed: ${e.message}`);
              // A program that cannot start again ends again: the policy counts it like any end.
              setImmediate(() => watches.get(w.key) === w && w.state === 'running' && react(w, null, null, 0));
            },
          ),
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
        ctx.logs.alert('ERR', fields(w, { event: 'watch-escalated', action: d.final, restartsUsed: d.counters.used, restartsAllowed: w.req.policy.restarts }), `${cause}: ${d.final === 'failover' ? 'failing the group over' : 'shutting the server down'}`);
        ctx.escalate(d.final, status(w), cause);
        return;
      }
      case 'give-up':
        setState(w, 'exhausted');
        ctx.logs.alert('ERR', fields(w, { restartsUsed: d.counters.used, event: 'watch-exhausted' }), `watch ${w.req.id} ended (${how}); its ${w.req.policy.restarts} restarts are used up and it has no final action: monitoring stops`);
        return;
    }
  };

  /** Runs `what` after `delayMs` (at once for 0), unless the watch is stopped or replaced meanwhile. */
  const later = (w: Watch, delayMs: number, what: () => void) => {
    const due = () =>
      gate.enqueue(() => {
        if (closing || watches.get(w.key) !== w || (w.state !== 'running' && w.state !== 'ended')) return;
        what();
      });
    if (delayMs <= 0) {
      due();
      return;
    }
    w.restartAt = ctx.clock.now() + delayMs;
    w.restartTimer = setTimeout(() => {
      w.restartTimer = null;
      w.restartAt = null;
      due();
    }, delayMs);
  };

  /**
   * Stops what runs and what earlier runs left in their groups and sessions (`leftovers: false`:
   * the caller ends those of many watches at once).
   */
  const stopWatch = async (w: Watch, timeoutMs: number, leftovers = true): Promise<'stopped' | 'had-ended'> => {
    clearTimers(w);
    // A run the spawner has just started again is told before the hold's answer: then w.running
    // is that new run, the one to stop.
    await w.running?.hold?.();
    const running = w.running;
    // Never signal what is no longer ours: an ended program's PID may name a stranger now.
    if (!running || !running.ours()) {
      const left = leftovers ? await stopSessions([runs(w)], timeoutMs) : 0;
      if (left > 0) ctx.logs.write('INFO', fields(w), `watch ${w.req.id}: ${left} process(es) its program had left running stopped`);
      remove(w);
      return 'had-ended';
    }
    setState(w, 'stopping');
    if (!(await running.stop(timeoutMs))) {
      setState(w, 'running');
      throw new WatchError('failed', `watch ${w.req.id}: ${running.pid === null ? w.target.describe : `pid ${running.pid}`} did not stop, even when forced`);
    }
    if (leftovers) await stopSessions([runs(w)], timeoutMs);
    remove(w);
    return 'stopped';
  };

  /** Stops several watches: their programs in parallel, then what their runs left, in one pass. */
  const stopMany = async (ws: Watch[], timeoutMs: number, onError: (w: Watch, e: Error) => void) => {
    const sets = ws.map(runs);
    const hows = await Promise.all(ws.map((w) => stopWatch(w, timeoutMs, false).catch((e: Error) => (onError(w, e), 'failed' as const))));
    await stopSessions(sets, timeoutMs);
    return hows;
  };

  const core: WatchCore = { ctx, watches, make, follow, react, hold, remove, fields, marks };

  return {
    async start(req) {
      if (!ID_PATTERN.test(req.id)) throw new WatchError('usage', `watch ID "${req.id}" must be 1-255 letters, digits or "_"`);
      const key = req.id.toUpperCase();
      if (key.startsWith('NEC_')) throw new WatchError('usage', `watch IDs beginning with NEC_ are reserved ("${req.id}")`);
      const existing = watches.get(key);
      if (existing?.orphan && existing.running) {
        // Left running from before the state was lost: this ARMLOAD takes it over, never a second copy.
        const was = existing.orphan.cmdline;
        const asked = [req.file, ...req.args].join(' ');
        if (was !== asked && was.split(' ').slice(1).join(' ') !== req.args.join(' ')) {
          throw new WatchError('conflict', `watch ID "${req.id}" is in use by pid ${existing.running.pid} (${was}), left running from before the service lost its state; ARMKILL ${req.id} first to run ${asked}`);
        }
        const taken = make(req, { running: existing.running, run: existing.run, sessions: existing.sessions, startedAt: existing.startedAt });
        watches.set(key, taken);
        existing.running = null; // its end is now the new watch's
        follow(taken, taken.running!);
        ctx.logs.alert('WARN', fields(taken, { pid: taken.running!.pid }), `watch ${req.id}: its program (pid ${taken.running!.pid}), left running from before the service lost its state, is taken over by this ARMLOAD (not started twice)`);
        return { pid: taken.running!.pid };
      }
      if (existing && active(existing)) {
        throw new WatchError('conflict', `watch ID "${existing.req.id}" is already in use${existing.req.group ? ` (group ${existing.req.group})` : ''}`);
      }
      if (existing) clearTimers(existing);
      const w = make(req, existing ? { run: existing.run, sessions: existing.sessions } : {});
      const c = carried.get(key);
      if (c) w.counters = c;
      carried.delete(key);
      watches.set(key, w);
      try {
        const pid = await launch(w);
        ctx.logs.write('INFO', fields(w, { pid }), `watch ${req.id} started: ${w.target.describe}${pid === null ? '' : ` (pid ${pid})`}`);
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

    find(id) {
      const w = watches.get(id.toUpperCase());
      return w && { pid: w.running?.pid ?? null, group: w.req.group, state: w.state };
    },

    async stopGroup(group, timeoutMs) {
      const mine = [...watches.values()].filter((w) => w.req.group?.toUpperCase() === group.toUpperCase());
      const forgotten: string[] = [];
      const hows = await stopMany(mine, timeoutMs, (w, e) => ctx.logs.alert('ERR', fields(w), e.message));
      mine.forEach((w, i) => {
        if (hows[i] !== 'stopped') return;
        forgotten.push(w.req.id);
        ctx.logs.alert('WARN', fields(w, { event: 'watch-left-running' }), `watch ${w.req.id} was still running after group ${group}'s stop script: stopped by the service (add ARMKILL ${w.req.id} to the stop script)`);
      });
      return forgotten;
    },

    async stopAll(timeoutMs) {
      closing = true;
      gate.clear();
      for (const w of watches.values()) clearTimers(w);
      await stopMany([...watches.values()], timeoutMs, () => undefined);
    },

    close() {
      clearInterval(rotateTimer);
    },

    saved: () => [...watches.values()].map(savedOf),
    savedOne(key) {
      const w = watches.get(key);
      return w ? savedOf(w) : null;
    },
    keys: () => watches.keys(),

    adopt: (saved) => adoptWatches(core, saved),
    adoptOrphans: () => adoptOrphans(core),
    sweep: (graceMs) => sweepStrays(core, graceMs),
    async suspend(id, on) {
      const w = watches.get(id.toUpperCase());
      if (!w) throw new WatchError('not_found', `no watch "${id}"`);
      if (w.suspended === on) return { changed: false, status: status(w) };
      w.suspended = on;
      // From the answer on, an end is the service's to see (not restarted by the spawner).
      if (on) await w.running?.hold?.();
      else approve(w);
      ctx.changed(w.key);
      ctx.logs.write('WARN', fields(w, { suspended: on }), on ? `watch ${w.req.id} suspended (maintenance): an end of its program is not restarted and not counted` : `watch ${w.req.id} resumed`);
      if (!on && w.held) {
        w.held = false;
        setState(w, 'running');
        try {
          const pid = await launch(w);
          ctx.logs.write('INFO', fields(w, { pid }), `watch ${w.req.id} started again at its resume${pid === null ? '' : ` (pid ${pid})`}`);
        } catch (e) {
          ctx.logs.alert('ERR', fields(w, { event: 'watch-restart-failed' }), `watch ${w.req.id}: its start at the resume failed: ${(e as Error).message}`);
          react(w, null, null, 0);
        }
      }
      return { changed: true, status: status(w) };
    },

    async restart(id, cause, timeoutMs) {
      const w = watches.get(id.toUpperCase());
      if (!w) throw new WatchError('not_found', `no watch "${id}"`);
      if (w.suspended) throw new WatchError('conflict', `watch ${w.req.id} is suspended (maintenance): not restarted`);
      if (w.state === 'stopping') throw new WatchError('conflict', `watch ${w.req.id} is being stopped`);
      const running = w.running;
      if (running && running.ours()) {
        setState(w, 'stopping');
        if (!(await running.stop(timeoutMs))) {
          setState(w, 'running');
          throw new WatchError('failed', `watch ${w.req.id}: ${running.pid === null ? w.target.describe : `pid ${running.pid}`} did not stop, even when forced`);
        }
      }
      if (watches.get(w.key) !== w) throw new WatchError('not_found', `watch ${w.req.id} was released meanwhile`);
      clearTimers(w);
      w.held = false;
      setState(w, 'running');
      let pid: number | null;
      try {
        pid = await launch(w);
      } catch (e) {
        setState(w, 'ended');
        throw e;
      }
      ctx.logs.write('WARN', fields(w, { pid }), `watch ${w.req.id} restarted by a monitor's recovery (${cause})${pid === null ? '' : `, pid ${pid}`}`);
      return pid;
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
