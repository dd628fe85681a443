// What the service does when a monitor fails (config `monitors.<name>.recovery`), as the X series
// does it: wait (a check that passes meanwhile calls it off), run the recovery script with
// CLP_ACTION, CLP_MONITORNAME, CLP_RECOVERYCOUNT, CLP_GROUPNAME, then re-activate the target (a
// watch, the group, nothing for the server) up to `restarts` times, then take the final action
// once (none, stop the group, fail it over, shut the server down, reboot it). The counts return to
// zero after `resetAfter` without a failure, and when a final action restarted the group.
//
// A monitor without a recovery: is only reported, as before (an ARMRSP then ends, and its watch's
// /R /FOV apply). A failure is a result whose failures in a row reach the monitor's limit (ARMRSP's
// /N, `failures:` for the service's own monitors) or a multiple of it: a monitor that keeps failing
// after a restart climbs the ladder one step per limit.
import * as path from 'node:path';
import { scriptCommand, ScriptNotRunnable } from '../platform/script-command';
import { Logs } from './log';
import { FinalMonitorAction, MonitorConfig, RecoveryConfig } from './monitor-config';
import type { Report } from './monitors';
import { describeResult, runScript, succeeded } from './scripts';

export interface RecoveryCounters {
  /** re-activations since the last reset */
  restarts: number;
  /** the final action was taken since the last reset */
  finalTaken: boolean;
  /** recovery actions (scripts run) since the last reset */
  recoveries: number;
  lastFailureAt: number | null;
}

export type RecoveryStep =
  | { action: 'restart'; counters: RecoveryCounters }
  | { action: 'final'; final: FinalMonitorAction; counters: RecoveryCounters }
  /** the final action was taken already: nothing more until the counts reset */
  | { action: 'spent'; counters: RecoveryCounters };

export const freshCounters = (): RecoveryCounters => ({ restarts: 0, finalTaken: false, recoveries: 0, lastFailureAt: null });

/** The next step of the ladder for a failure at `now`: a pure function, tested with a fake clock. */
export function decideRecovery(cfg: RecoveryConfig, c: RecoveryCounters, now: number): RecoveryStep {
  let counters = { ...c };
  if (counters.lastFailureAt !== null && now - counters.lastFailureAt >= cfg.resetAfter * 1000) counters = freshCounters();
  counters.lastFailureAt = now;
  if (cfg.target.kind !== 'server' && counters.restarts < cfg.restarts) {
    return { action: 'restart', counters: { ...counters, restarts: counters.restarts + 1, recoveries: counters.recoveries + 1 } };
  }
  if (!counters.finalTaken) return { action: 'final', final: cfg.finalAction, counters: { ...counters, finalTaken: true, recoveries: counters.recoveries + 1 } };
  return { action: 'spent', counters };
}

/** CLP_ACTION as the X series' pre-action scripts see it. */
export function clpAction(step: RecoveryStep): string {
  if (step.action === 'restart') return 'RESTART';
  return step.action === 'final' && step.final === 'failover' ? 'FAILOVER' : 'FINALACTION';
}

export interface RecoveryContext {
  logs: Logs;
  /** the config in force (it follows a reload) */
  monitors(): MonitorConfig[];
  restartWatch(id: string, cause: string): Promise<unknown>;
  /** the group's stop script then its start script (RESOURCERESTART); resolves with the outcome */
  restartGroup(group: string, cause: string): Promise<{ ok: boolean; message: string }>;
  stopGroup(group: string, cause: string): Promise<{ ok: boolean; message: string }>;
  failover(group: string, cause: string): Promise<{ ok: boolean; message: string }>;
  down(action: 'shutdown' | 'reboot', cause: string): void;
  /** the group of a watch, when it has one */
  watchGroup(id: string): string | null;
  /** for the recovery script: the service's environment, pipe and commands folder */
  env: NodeJS.ProcessEnv;
  pipe: string;
  commandsDir: string;
}

/** One monitor's recovery in `arms status --json` (`recoveries`). */
export interface RecoveryStatus {
  monitor: string;
  state: 'idle' | 'waiting' | 'acting';
  restarts: number;
  restartsAllowed: number;
  finalAction: FinalMonitorAction;
  finalTaken: boolean;
  last: { action: string; at: string; cause: string; result: string } | null;
}

export interface Recovery {
  /** every monitor result (monitors.ts calls it) */
  onReport(r: Report & { suspended: boolean }): void;
  /** the service acts on this monitor's failures */
  recovers(monitor: string): boolean;
  status(): RecoveryStatus[];
}

interface Entry {
  counters: RecoveryCounters;
  state: RecoveryStatus['state'];
  waitTimer: NodeJS.Timeout | null;
  last: RecoveryStatus['last'];
}

const OWN = /^(ARMS_|CLP_)/i;

export function openRecovery(ctx: RecoveryContext): Recovery {
  const entries = new Map<string, Entry>();
  // Looked up at every result of every monitor: by name, rebuilt when the config changes.
  let indexed: MonitorConfig[] | null = null;
  let byName = new Map<string, MonitorConfig>();
  const configOf = (monitor: string) => {
    const list = ctx.monitors();
    if (list !== indexed) {
      indexed = list;
      byName = new Map(list.filter((m) => m.recovery !== null).map((m) => [m.name.toUpperCase(), m]));
    }
    return byName.size === 0 ? undefined : byName.get(monitor.toUpperCase());
  };
  const entry = (monitor: string): Entry => {
    const k = monitor.toUpperCase();
    let e = entries.get(k);
    if (!e) entries.set(k, (e = { counters: freshCounters(), state: 'idle', waitTimer: null, last: null }));
    return e;
  };

  const log = (level: 'INFO' | 'WARN' | 'ERR', monitor: string, group: string | null, msg: string, extra: Record<string, unknown> = {}) => {
    const fields = { src: 'recovery', monitor, group: group ?? undefined, ...extra };
    if (level === 'INFO') ctx.logs.write(level, fields, msg);
    else ctx.logs.alert(level, fields, msg);
  };

  const runRecoveryScript = async (cfg: MonitorConfig, rec: RecoveryConfig, step: RecoveryStep, group: string | null, r: Report) => {
    if (!rec.script) return;
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(ctx.env)) if (!OWN.test(k) || k.toUpperCase() === 'ARMS_HOME') env[k] = v;
    Object.assign(env, {
      CLP_ACTION: clpAction(step),
      CLP_MONITORNAME: cfg.name,
      CLP_RECOVERYCOUNT: String(step.counters.recoveries),
      CLP_RESTARTCOUNT: String(step.counters.restarts),
      CLP_FAILOVERCOUNT: step.action === 'final' && step.final === 'failover' ? '1' : '0',
      CLP_GROUPNAME: group ?? '',
      ARMS_GROUPNAME: group ?? '',
      ARMS_MONITOR_RESOURCE: `${r.kind} ${r.resource}`,
      ARMS_MONITOR_DETAIL: r.detail,
      ARMS_PIPE: ctx.pipe,
    });
    const pathKey = Object.keys(env).find((k) => k.toUpperCase() === 'PATH') ?? 'PATH';
    env[pathKey] = env[pathKey] ? `${ctx.commandsDir}${path.delimiter}${env[pathKey]}` : ctx.commandsDir;
    const name = path.basename(rec.script);
    let cmd;
    try {
      cmd = scriptCommand(rec.script);
    } catch (e) {
      if (!(e instanceof ScriptNotRunnable)) throw e;
      log('ERR', cfg.name, group, `monitor ${cfg.name}: recovery script ${name} cannot be run: ${e.message}; going on with the action`);
      return;
    }
    const res = await runScript(cmd, {
      cwd: path.dirname(rec.script),
      env,
      timeoutMs: rec.scriptTimeout * 1000,
      onLine: (stream, line) => ctx.logs.write(stream === 'out' ? 'INFO' : 'WARN', { src: 'script', monitor: cfg.name, group: group ?? undefined, script: name }, line),
    });
    const said = `monitor ${cfg.name}: recovery script ${name} (CLP_ACTION=${clpAction(step)}) ${describeResult(res, rec.scriptTimeout)} in ${res.ms} ms`;
    if (succeeded(res)) log('INFO', cfg.name, group, said);
    else log('WARN', cfg.name, group, `${said}; going on with the action`);
  };

  const act = async (cfg: MonitorConfig, rec: RecoveryConfig, e: Entry, r: Report) => {
    const step = decideRecovery(rec, e.counters, Date.now());
    e.counters = step.counters;
    const target = rec.target;
    const group = cfg.group ?? r.group ?? (target.kind === 'watch' ? ctx.watchGroup(target.id) : null);
    const why = `monitor ${cfg.name}: ${r.kind} ${r.resource} failed ${r.failures} check${r.failures === 1 ? '' : 's'} in a row: ${r.detail}`;
    if (step.action === 'spent') {
      log('INFO', cfg.name, group, `${why}; its final action (${rec.finalAction}) was taken already: nothing more until ${rec.resetAfter} s without a failure`);
      return;
    }
    const what =
      step.action === 'restart'
        ? target.kind === 'watch'
          ? `restarting watch ${target.id} (${step.counters.restarts} of ${rec.restarts})`
          : `restarting group ${group ?? '(none: the monitor has no group)'} (${step.counters.restarts} of ${rec.restarts})`
        : step.final === 'none'
          ? rec.restarts > 0
            ? `its ${rec.restarts} restart(s) are used up and it has no final action`
            : 'no recovery action but the script'
          : { 'stop-group': `stopping group ${group}`, failover: `failing group ${group} over`, shutdown: 'shutting the server down', reboot: 'rebooting the server' }[step.final];
    log('ERR', cfg.name, group, `${why}; ${what}`, { event: 'monitor-failed', action: step.action === 'restart' ? 'restart' : step.final, recoveryCount: step.counters.recoveries });
    await runRecoveryScript(cfg, rec, step, group, r);
    const cause = why;
    let result = 'done';
    try {
      if (step.action === 'restart') {
        if (target.kind === 'watch') await ctx.restartWatch(target.id, cause);
        else {
          // An ARMRSP loaded outside any group: nothing to restart, and the operator must know it.
          if (!group) throw new Error(`monitor ${cfg.name} has no group to restart`);
          const o = await ctx.restartGroup(group, cause);
          if (!o.ok) throw new Error(o.message);
        }
      } else if (step.final === 'stop-group' || step.final === 'failover') {
        if (!group) throw new Error(`monitor ${cfg.name} has no group to ${step.final === 'failover' ? 'fail over' : 'stop'}`);
        const o = step.final === 'failover' ? await ctx.failover(group, cause) : await ctx.stopGroup(group, cause);
        if (!o.ok) throw new Error(o.message);
        // The group was started again (or is offline): a fresh start, a fresh ladder.
        e.counters = freshCounters();
      } else if (step.final === 'shutdown' || step.final === 'reboot') {
        ctx.down(step.final, cause);
      }
    } catch (err) {
      result = `failed: ${(err as Error).message}`;
      log('ERR', cfg.name, group, `monitor ${cfg.name}: recovery (${step.action === 'restart' ? 'restart' : step.final}) failed: ${(err as Error).message}`);
    }
    e.last = { action: step.action === 'restart' ? 'restart' : step.final, at: new Date().toISOString(), cause, result };
  };

  return {
    onReport(r) {
      const cfg = configOf(r.monitor);
      if (!cfg || r.suspended) return;
      const rec = cfg.recovery!;
      const e = entry(cfg.name);
      if (r.ok) {
        if (e.state === 'waiting' && e.waitTimer) {
          clearTimeout(e.waitTimer);
          e.waitTimer = null;
          e.state = 'idle';
          log('INFO', cfg.name, r.group, `monitor ${cfg.name}: ${r.kind} ${r.resource} passed again during the wait: recovery called off`);
        }
        return;
      }
      const limit = r.limit ?? cfg.failures;
      if (r.failures < limit || r.failures % limit !== 0 || e.state !== 'idle') return;
      const go = () => {
        e.waitTimer = null;
        e.state = 'acting';
        act(cfg, rec, e, r)
          .catch((err: Error) => log('ERR', cfg.name, r.group, `monitor ${cfg.name}: recovery failed: ${err.message}`))
          .finally(() => (e.state = 'idle'));
      };
      if (rec.wait > 0) {
        e.state = 'waiting';
        log('WARN', cfg.name, r.group, `monitor ${cfg.name}: ${r.kind} ${r.resource} failed ${r.failures} checks in a row (${r.detail}); recovery in ${rec.wait} s unless it passes meanwhile`);
        e.waitTimer = setTimeout(go, rec.wait * 1000);
      } else go();
    },
    recovers: (monitor) => configOf(monitor) !== undefined,
    status: () =>
      ctx
        .monitors()
        .filter((m) => m.recovery)
        .map((m) => {
          const e = entries.get(m.name.toUpperCase());
          return {
            monitor: m.name,
            state: e?.state ?? 'idle',
            restarts: e?.counters.restarts ?? 0,
            restartsAllowed: m.recovery!.restarts,
            finalAction: m.recovery!.finalAction,
            finalTaken: e?.counters.finalTaken ?? false,
            last: e?.last ?? null,
          };
        }),
  };
}
