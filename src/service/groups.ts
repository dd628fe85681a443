// The failover groups of this server: their state, and one queue each so that the operations on a
// group run one after another while different groups run in parallel.
//
//   offline → starting → online → stopping → offline, and error when a script fails or times out.
import * as path from 'node:path';
import { interpreterProblem, scriptCommand, ScriptNotRunnable } from '../platform/script-command';
import { GroupConfig } from './group-config';
import { activateDisks, deactivateDisks } from './disks';
import { Logs } from './log';
import { DiskResult, scriptEnv, StartEvent, StopFactor } from './script-env';
import { describeResult, ScriptResult, runScript, succeeded } from './scripts';
import { startOrder } from './start-order';

export type GroupState = 'offline' | 'starting' | 'online' | 'stopping' | 'error';

export interface GroupEvent {
  action: 'start' | 'stop';
  event: StartEvent;
  factor: StopFactor | null;
  at: string;
  result: 'running' | 'ok' | 'failed';
}

export interface GroupError {
  message: string;
  /** what failed: the start or stop script, or a disk */
  step: 'start' | 'stop' | 'disk';
  /** the script's exit code, when it exited */
  exitCode: number | null;
  at: string;
}

/** One group in `arms status --json` (docs/status.md): keep the names stable. */
export interface GroupStatus {
  name: string;
  state: GroupState;
  since: string;
  /** how the group was (last) started: what its stop script will see as ARMS_EVENT */
  startedAs: StartEvent | null;
  disk: DiskResult | null;
  autostart: boolean;
  lastEvent: GroupEvent | null;
  lastError: GroupError | null;
  /** operations waiting behind the current one */
  queued: number;
  /** failovers within the current failover window, and the limit (maxFailovers) */
  failovers: { recent: number; max: number; window: number };
}

/** What the persisted state keeps of a group. */
export interface SavedGroup {
  state: GroupState;
  since: string;
  startedAs: StartEvent | null;
  disk: DiskResult | null;
}

export interface Outcome {
  ok: boolean;
  state: GroupState;
  message: string;
}

interface Group {
  config: GroupConfig;
  status: GroupStatus;
  tail: Promise<unknown>;
  /** a failover waiting in the queue, not begun yet: later requests join it */
  pendingFailover: Promise<Outcome> | null;
  /** the server the group ran on before a failover (CLP_SERVER_PREV) */
  prevServer: string | null;
  /** cluster: the fencing token of this server's ownership (ARMS_FENCE) */
  fence: string | null;
  /** bumped by fence(): work queued before it is dropped */
  epoch: number;
  /** ends the script running now (fence) */
  abort: AbortController | null;
  /** its start waits for the groups it starts after (after:) */
  awaitingDeps: boolean;
}

export interface GroupsContext {
  server: string;
  pipe: string;
  commandsDir: string;
  logs: Logs;
  env: NodeJS.ProcessEnv;
  /** after a successful stop script: stops the group's watches still running, returns their IDs */
  stopLeftovers(group: string, timeoutMs: number): Promise<string[]>;
  /** something the persisted state keeps of this group (its name, upper case) has changed */
  changed(key: string): void;
  /** when each group's failovers happened (ms), kept across service restarts */
  failoverHistory: { get(group: string): number[]; set(group: string, times: number[]): void };
}

export class UnknownGroup extends Error {
  constructor(name: string, known: string[]) {
    super(`unknown group "${name}"${known.length ? ` (groups: ${known.join(', ')})` : ' (no groups are configured)'}`);
  }
}

export interface Groups {
  list(): GroupStatus[];
  /** the configured name for a name in any case, or UnknownGroup */
  resolve(name: string): string;
  start(name: string, event?: StartEvent, owner?: { prevServer?: string; fence?: string }): { queued: Promise<Outcome> };
  stop(name: string, factor?: StopFactor): { queued: Promise<Outcome> };
  restart(name: string): { queued: Promise<Outcome> };
  /** stop with `factor`, then start again as it was started (a /SCR restart) */
  rerun(name: string, factor: StopFactor): { queued: Promise<Outcome> };
  /**
   * Fails the group over (ARMFOVER, a watch's /FOV): on one server, stop it (GROUPFAILOVER) and start
   * it again with FAILOVER, within its failover limit. A failover already waiting in the queue takes
   * the request too, so a burst of requests gives one failover.
   */
  failover(name: string, opts: { force: boolean; cause: string }): { queued: Promise<Outcome>; joined: boolean };
  /** the start script with RECOVER, as a hook: the group's state does not change */
  recover(name: string): { queued: Promise<Outcome> };
  /**
   * Cluster self-fencing: drops the group's queued work, kills the script running now, runs the stop
   * script (SERVERSHUTDOWN) with what is left until `deadline` (ms), then kills what is still running.
   */
  fence(name: string, deadline: number, reason: string): Promise<Outcome>;
  /** true while the group's start or stop script runs */
  busy(name: string): boolean;
  saved(): Record<string, SavedGroup>;
  /** for the persisted state: one group (its name, upper case), null when there is none */
  savedOne(key: string): SavedGroup | null;
  /** the groups' names, upper case */
  keys(): Iterable<string>;
  /** after a crash of the service: groups take back their state; one caught mid-script is in error */
  restore(saved: Record<string, SavedGroup>): void;
  /** autostart groups, in parallel */
  autostart(): Promise<Outcome[]>;
  /** every group that is not offline, in parallel */
  stopAll(factor: StopFactor): Promise<Outcome[]>;
  /** a new config's groups; refuses (changing nothing) to drop a group that is not offline */
  reconfigure(configs: GroupConfig[]): void;
}

export function openGroups(configs: GroupConfig[], ctx: GroupsContext): Groups {
  const groups = new Map<string, Group>();
  const now = () => new Date().toISOString();
  const add = (config: GroupConfig) =>
    groups.set(config.name.toUpperCase(), {
      config,
      status: {
        name: config.name,
        state: 'offline',
        since: now(),
        startedAs: null,
        disk: null,
        autostart: config.autostart,
        lastEvent: null,
        lastError: null,
        queued: 0,
        failovers: { recent: 0, max: config.maxFailovers, window: config.failoverWindow },
      },
      tail: Promise.resolve(),
      pendingFailover: null,
      prevServer: null,
      fence: null,
      epoch: 0,
      abort: null,
      awaitingDeps: false,
    });
  for (const c of configs) add(c);

  const recentFailovers = (g: Group): number[] => {
    const since = Date.now() - g.config.failoverWindow * 1000;
    return ctx.failoverHistory.get(g.config.name).filter((t) => t > since);
  };

  const find = (name: string): Group => {
    const g = groups.get(name.toUpperCase());
    if (!g) throw new UnknownGroup(name, [...groups.values()].map((x) => x.config.name));
    return g;
  };

  const log = (g: Group, level: 'INFO' | 'WARN' | 'ERR', msg: string, extra: Record<string, unknown> = {}) => {
    const fields = { src: 'armsd', group: g.config.name, ...extra };
    if (level === 'INFO') ctx.logs.write(level, fields, msg);
    else ctx.logs.alert(level, fields, msg);
  };

  const savedOf = (g: Group): SavedGroup => ({ state: g.status.state, since: g.status.since, startedAs: g.status.startedAs, disk: g.status.disk });

  const setState = (g: Group, state: GroupState) => {
    if (g.status.state === state) return;
    g.status.state = state;
    g.status.since = now();
    ctx.changed(g.config.name.toUpperCase());
  };

  const enqueue = (g: Group, work: () => Promise<Outcome>): { queued: Promise<Outcome> } => {
    g.status.queued++;
    const epoch = g.epoch;
    const run = g.tail.then(() => {
      g.status.queued--;
      if (g.epoch !== epoch) return { ok: false, state: g.status.state, message: `group ${g.config.name}: dropped (the server fenced itself off the cluster)` };
      return work();
    });
    g.tail = run.catch(() => undefined);
    return { queued: run };
  };

  const runGroupScript = async (g: Group, which: 'start' | 'stop', event: StartEvent, factor: StopFactor | null, disk: DiskResult, limitMs?: number): Promise<ScriptResult> => {
    const script = which === 'start' ? g.config.start : g.config.stop;
    const timeoutS = limitMs !== undefined ? limitMs / 1000 : which === 'start' ? g.config.timeouts.start : g.config.timeouts.stop;
    const env = scriptEnv(ctx.env, {
      group: g.config,
      server: ctx.server,
      which,
      event,
      factor: factor ?? undefined,
      disk,
      prevServer: g.prevServer ?? undefined,
      fence: g.fence ?? undefined,
      pipe: ctx.pipe,
      commandsDir: ctx.commandsDir,
    });
    let cmd;
    try {
      cmd = scriptCommand(script);
    } catch (e) {
      if (e instanceof ScriptNotRunnable) return { code: null, signal: null, timedOut: false, spawnError: e.message, ms: 0 };
      throw e;
    }
    const problem = await interpreterProblem(cmd, env);
    if (problem) {
      const r: ScriptResult = { code: null, signal: null, timedOut: false, spawnError: problem, ms: 0 };
      log(g, 'ERR', `${which} script ${path.basename(script)} (${event}${factor ? ` ${factor}` : ''}) ${describeResult(r, timeoutS)}`, { script: path.basename(script), exitCode: null, event: 'script-failed' });
      return r;
    }
    const name = path.basename(script);
    const abort = new AbortController();
    g.abort = abort;
    const r = await runScript(cmd, {
      cwd: path.dirname(script),
      env,
      timeoutMs: timeoutS * 1000,
      signal: abort.signal,
      graceMs: limitMs !== undefined ? 0 : undefined,
      onLine: (stream, line) => ctx.logs.write(stream === 'out' ? 'INFO' : 'WARN', { src: 'script', group: g.config.name, script: name }, line),
    });
    if (g.abort === abort) g.abort = null;
    log(g, succeeded(r) ? 'INFO' : 'ERR', `${which} script ${name} (${event}${factor ? ` ${factor}` : ''}) ${describeResult(r, timeoutS)} in ${r.ms} ms`, {
      script: name,
      exitCode: r.code,
    });
    return r;
  };

  const diskContext = (g: Group, which: 'start' | 'stop') => ({
    env: scriptEnv(ctx.env, { group: g.config, server: ctx.server, which, event: 'START', disk: 'SUCCESS', pipe: ctx.pipe, commandsDir: ctx.commandsDir }),
    cwd: g.config.dir,
    timeoutMs: (which === 'start' ? g.config.timeouts.start : g.config.timeouts.stop) * 1000,
    onLine: (_: 'out' | 'err', line: string) => ctx.logs.write('INFO', { src: 'disk', group: g.config.name }, line),
  });

  const fail = (g: Group, step: GroupError['step'], message: string, exitCode: number | null): Outcome => {
    setState(g, 'error');
    g.status.lastError = { message, step, exitCode, at: now() };
    if (g.status.lastEvent) g.status.lastEvent.result = 'failed';
    log(g, 'ERR', `group ${g.config.name} is in error: ${message}`, { event: 'group-error' });
    return { ok: false, state: 'error', message: `group ${g.config.name}: ${message}` };
  };

  /** after: each group this one starts after is online (waiting while one starts); else why not */
  const dependencies = async (g: Group): Promise<string | null> => {
    for (const name of g.config.after) {
      const d = groups.get(name.toUpperCase());
      if (!d) continue;
      // Bounded: a dependency whose queue waits for this group (a stop of it stopping this one first) cannot hold it forever.
      const deadline = Date.now() + (d.config.timeouts.start + d.config.timeouts.stop) * 1000;
      while (d.status.state !== 'online' && (d.status.state === 'starting' || d.awaitingDeps || d.status.queued > 0) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
      }
      if (d.status.state !== 'online') return `it starts after group ${d.config.name}, which is ${d.status.state}${d.status.state === 'error' && d.status.lastError ? ` (${d.status.lastError.message})` : ''}`;
    }
    return null;
  };

  /** Groups that start after this one are stopped before it (stop, the service's stop). */
  const stopDependents = async (g: Group, factor: StopFactor): Promise<void> => {
    const dependents = [...groups.values()].filter((d) => d.status.state !== 'offline' && d.config.after.some((a) => a.toUpperCase() === g.config.name.toUpperCase()));
    await Promise.all(
      dependents.map((d) => {
        log(d, 'INFO', `group ${d.config.name} stops before group ${g.config.name} (it starts after it)`);
        return enqueue(d, async () => {
          await stopDependents(d, factor);
          return doStop(d, factor);
        }).queued;
      }),
    );
  };

  const doStart = async (g: Group, event: StartEvent): Promise<Outcome> => {
    if (g.status.state === 'online') return { ok: true, state: 'online', message: `group ${g.config.name} is already online` };
    g.awaitingDeps = g.config.after.length > 0;
    const blocked = g.awaitingDeps ? await dependencies(g) : null;
    g.awaitingDeps = false;
    if (blocked) {
      const message = `group ${g.config.name} does not start: ${blocked}`;
      g.status.lastError = { message, step: 'start', exitCode: null, at: now() };
      log(g, 'ERR', message, { event: 'dependency' });
      return { ok: false, state: g.status.state, message };
    }
    setState(g, 'starting');
    g.status.startedAs = event;
    g.status.lastEvent = { action: 'start', event, factor: null, at: now(), result: 'running' };
    log(g, 'INFO', `group ${g.config.name} starting (${event})`);

    const disks = await activateDisks(g.config.disks, diskContext(g, 'start'));
    g.status.disk = disks.result;
    ctx.changed(g.config.name.toUpperCase());
    for (const p of disks.problems) log(g, 'ERR', `disk: ${p}`, { event: 'disk-failed' });

    let r: ScriptResult | null = null;
    const epoch = g.epoch;
    for (let attempt = 0; attempt <= g.config.maxStartRetries; attempt++) {
      if (attempt > 0) log(g, 'WARN', `retrying the start script (${attempt} of ${g.config.maxStartRetries})`, { event: 'start-retry' });
      r = await runGroupScript(g, 'start', event, null, disks.result);
      if (succeeded(r) || g.epoch !== epoch) break;
    }
    // fenced meanwhile: the fence stops the group and says so
    if (g.epoch !== epoch) return { ok: false, state: g.status.state, message: `group ${g.config.name}: start cut short (the server fenced itself off the cluster)` };
    if (!r || !succeeded(r)) return fail(g, 'start', `start script ${path.basename(g.config.start)} ${describeResult(r!, g.config.timeouts.start)}`, r?.code ?? null);
    setState(g, 'online');
    g.status.lastEvent.result = 'ok';
    log(g, 'INFO', `group ${g.config.name} online`);
    return { ok: true, state: 'online', message: `group ${g.config.name} is online` };
  };

  const doStop = async (g: Group, factor: StopFactor): Promise<Outcome> => {
    if (g.status.state === 'offline') return { ok: true, state: 'offline', message: `group ${g.config.name} is already offline` };
    const event = g.status.startedAs ?? 'START';
    setState(g, 'stopping');
    g.status.lastEvent = { action: 'stop', event, factor, at: now(), result: 'running' };
    log(g, 'INFO', `group ${g.config.name} stopping (${factor})`);

    const r = await runGroupScript(g, 'stop', event, factor, g.status.disk ?? 'SUCCESS');
    // Resources stay as they are after a failed stop: whatever the script left running may hold them.
    if (!succeeded(r)) return fail(g, 'stop', `stop script ${path.basename(g.config.stop)} ${describeResult(r, g.config.timeouts.stop)}`, r.code);
    await ctx.stopLeftovers(g.config.name, 10_000);
    const problems = await deactivateDisks(g.config.disks, diskContext(g, 'stop'));
    if (problems.length > 0) return fail(g, 'disk', problems.join('; '), null);
    setState(g, 'offline');
    g.status.startedAs = null;
    g.status.disk = null;
    g.fence = null;
    g.status.lastEvent.result = 'ok';
    log(g, 'INFO', `group ${g.config.name} offline`);
    return { ok: true, state: 'offline', message: `group ${g.config.name} is offline` };
  };

  const doFence = async (g: Group, deadline: number, reason: string): Promise<Outcome> => {
    if (g.status.state === 'offline') {
      g.fence = null;
      return { ok: true, state: 'offline', message: `group ${g.config.name} is already offline` };
    }
    const event = g.status.startedAs ?? 'START';
    log(g, 'ERR', `group ${g.config.name}: this server fences itself off (${reason}); stopping the group within ${Math.max(0, deadline - Date.now())} ms`, { event: 'fence' });
    setState(g, 'stopping');
    g.status.lastEvent = { action: 'stop', event, factor: 'SERVERSHUTDOWN', at: now(), result: 'running' };
    // Half the time left for the stop script, the rest for killing whatever it left running.
    const budget = Math.floor((deadline - Date.now()) / 2);
    if (budget > 0) await runGroupScript(g, 'stop', event, 'SERVERSHUTDOWN', g.status.disk ?? 'SUCCESS', budget);
    await ctx.stopLeftovers(g.config.name, Math.max(0, deadline - Date.now())).catch(() => []);
    setState(g, 'offline');
    g.status.startedAs = null;
    g.status.disk = null;
    g.fence = null;
    g.status.lastEvent.result = 'ok';
    g.status.lastError = { message: `fenced: ${reason}`, step: 'stop', exitCode: null, at: now() };
    log(g, 'WARN', `group ${g.config.name} offline (fenced)`, { event: 'fence' });
    return { ok: true, state: 'offline', message: `group ${g.config.name} is offline (fenced)` };
  };

  return {
    list: () =>
      [...groups.values()].map((g) => ({
        ...g.status,
        lastEvent: g.status.lastEvent && { ...g.status.lastEvent },
        lastError: g.status.lastError && { ...g.status.lastError },
        failovers: { ...g.status.failovers, recent: recentFailovers(g).length },
      })),
    resolve: (name) => find(name).config.name,
    start(name, event = 'START', owner) {
      const g = find(name);
      return enqueue(g, async () => {
        if (!owner) return doStart(g, event);
        g.prevServer = owner.prevServer ?? null;
        g.fence = owner.fence ?? null;
        try {
          return await doStart(g, event);
        } finally {
          g.prevServer = null;
        }
      });
    },
    fence(name, deadline, reason) {
      const g = find(name);
      g.epoch++;
      g.pendingFailover = null;
      g.abort?.abort();
      return enqueue(g, () => doFence(g, deadline, reason)).queued;
    },
    stop(name, factor = 'GROUPSTOP') {
      const g = find(name);
      return enqueue(g, async () => {
        await stopDependents(g, factor);
        return doStop(g, factor);
      });
    },
    restart(name) {
      const g = find(name);
      return enqueue(g, async () => {
        const stopped = await doStop(g, 'GROUPSTOP');
        return stopped.ok ? doStart(g, 'START') : stopped;
      });
    },
    rerun(name, factor) {
      const g = find(name);
      return enqueue(g, async () => {
        const event = g.status.startedAs ?? 'START';
        const stopped = await doStop(g, factor);
        return stopped.ok ? doStart(g, event) : stopped;
      });
    },
    failover(name, opts) {
      const g = find(name);
      if (g.pendingFailover) {
        log(g, 'INFO', `failover of group ${g.config.name} already queued; this request joins it (${opts.cause})`);
        return { queued: g.pendingFailover, joined: true };
      }
      log(g, 'WARN', `failover of group ${g.config.name} requested: ${opts.cause}`, { event: 'failover' });
      const { queued } = enqueue(g, async () => {
        g.pendingFailover = null;
        const recent = recentFailovers(g);
        if (recent.length >= g.config.maxFailovers) {
          return fail(g, 'start', `failover limit reached (${recent.length} of ${g.config.maxFailovers} within ${g.config.failoverWindow} s): the group stays in error; ${opts.cause}`, null);
        }
        ctx.failoverHistory.set(g.config.name, [...recent, Date.now()]);
        if (g.status.state !== 'offline') {
          const stopped = await doStop(g, 'GROUPFAILOVER');
          if (!stopped.ok && !opts.force) return stopped;
          if (!stopped.ok) log(g, 'WARN', `the stop script failed; going on with the failover (/F)`, { event: 'script-failed' });
        }
        g.prevServer = ctx.server;
        try {
          return await doStart(g, 'FAILOVER');
        } finally {
          g.prevServer = null;
        }
      });
      g.pendingFailover = queued;
      return { queued, joined: false };
    },
    recover(name) {
      const g = find(name);
      return enqueue(g, async () => {
        log(g, 'INFO', `group ${g.config.name}: start script with RECOVER (the service did not stop cleanly last time)`);
        const r = await runGroupScript(g, 'start', 'RECOVER', null, g.status.disk ?? 'SUCCESS');
        return succeeded(r)
          ? { ok: true, state: g.status.state, message: `group ${g.config.name}: RECOVER script done` }
          : { ok: false, state: g.status.state, message: `group ${g.config.name}: RECOVER script ${describeResult(r, g.config.timeouts.start)}` };
      });
    },
    saved() {
      const out: Record<string, SavedGroup> = {};
      for (const [key, g] of groups) out[key] = savedOf(g);
      return out;
    },
    savedOne(key) {
      const g = groups.get(key);
      return g ? savedOf(g) : null;
    },
    keys: () => groups.keys(),
    restore(saved) {
      for (const [key, s] of Object.entries(saved)) {
        const g = groups.get(key);
        if (!g || s.state === 'offline') continue;
        Object.assign(g.status, { state: s.state, since: s.since, startedAs: s.startedAs, disk: s.disk });
        if (s.state === 'starting' || s.state === 'stopping') {
          fail(g, s.state === 'starting' ? 'start' : 'stop', `its ${s.state === 'starting' ? 'start' : 'stop'} script was interrupted by the end of the service`, null);
        } else {
          log(g, 'INFO', `group ${g.config.name} is ${s.state}, as before the service's restart`);
        }
      }
    },
    busy(name) {
      const st = find(name).status.state;
      return st === 'starting' || st === 'stopping';
    },
    autostart() {
      // In start order: a group's start is queued after those of the groups it starts after.
      return Promise.all(startOrder([...groups.values()].filter((g) => g.config.autostart)).map((g) => enqueue(g, () => doStart(g, 'START')).queued));
    },
    stopAll(factor) {
      return Promise.all(
        [...groups.values()].map(
          (g) =>
            enqueue(g, async () => {
              await stopDependents(g, factor);
              return doStop(g, factor);
            }).queued,
        ),
      );
    },
    reconfigure(configs) {
      const next = new Set(configs.map((c) => c.name.toUpperCase()));
      const busy = [...groups.values()].filter((g) => !next.has(g.config.name.toUpperCase()) && (g.status.state !== 'offline' || g.status.queued > 0));
      if (busy.length > 0) {
        throw new Error(`cannot remove group${busy.length > 1 ? 's' : ''} ${busy.map((g) => `${g.config.name} (${g.status.state})`).join(', ')}: stop ${busy.length > 1 ? 'them' : 'it'} first`);
      }
      for (const key of [...groups.keys()]) if (!next.has(key)) groups.delete(key);
      for (const c of configs) {
        const g = groups.get(c.name.toUpperCase());
        if (g) {
          g.config = c;
          g.status.autostart = c.autostart;
        } else add(c);
      }
    },
  };
}
