// What the service does for each request on the pipe. Each domain brings its own operations; each
// operation checks its own arguments (a bad one is a 'usage' answer) and returns plain data.
import { bool, int, oneOf, ProtocolError, Request, str } from '../../protocol/messages';
import { Groups } from '../groups';
import { Logs } from '../log';
import { GroupConfig } from '../group-config';
import { Monitors } from '../monitors';
import { Power } from '../power';
import { Pacing } from '../restart-policy';
import { Watches } from '../watches';
import { maintenanceOps } from './maintenance';
import { monitorOps } from './monitors';
import { groupOps } from './groups';
import { logOps } from './log';
import { valueOps } from './values';
import { watchOps } from './watches';

export type Op = (args: Record<string, unknown>) => Promise<unknown> | unknown;
export type Ops = Record<string, Op>;

export interface ServiceInfo {
  server: string;
  pid: number;
  version: string;
  home: string;
  pipe: string;
  startedAt: string;
  /** the status page and API's address, once HTTP listens (src/http/) */
  http?: string;
}

export interface OpsContext {
  info: ServiceInfo;
  logs: Logs;
  groups: Groups;
  watches: Watches;
  /** ARMSETCD values; set() returns what undoes it (a value the disk refused is not kept) */
  values: { get(name: string): number | undefined; set(name: string, value: number): () => void };
  monitors: Monitors;
  power: Power;
  groupConfig(name: string): GroupConfig | undefined;
  /** resolves once every change so far is durable; rejects with the disk's reason (state.ts) */
  commit(): Promise<void>;
  /** true while a change is not yet on disk */
  dirty(): boolean;
  /** the restart pacing of a watch ID (config: watchDefaults, watches) */
  pacing(id: string): Pacing;
  /** divides the /H window (tests: ARMS_TIME_SCALE) */
  timeScale: number;
  stop(reason: string): void;
  stopping(): boolean;
  /** reads the config again; resolves with what changed, rejects with the config's mistakes */
  reload(): Promise<string>;
  /** several servers (src/cluster/): its view for status, and group operations that act where the group is */
  cluster?: { status(): Promise<unknown>; ops: Ops };
  /** the service acts on this monitor's failures (a recovery: in the config) */
  recovers(monitor: string): boolean;
  /** more of `arms status`: each domain's own part (recoveries, alert routes) */
  statusExtra?(): Record<string, unknown>;
  /** more operations, each domain's own (alerts) */
  extraOps?: Ops;
}

export interface Dispatcher {
  /** `quiet`: not counted in served() (the status page's own refreshes) */
  (req: Request, quiet?: boolean): Promise<unknown>;
  /** requests answered since the start, by operation and answer ('ok' or the error code): /metrics */
  served(): Map<string, number>;
}

export function makeDispatcher(ctx: OpsContext): Dispatcher {
  const service: Ops = {
    ping: () => ({ ...ctx.info, uptime: uptime(ctx.info) }),

    status: async () => ({
      server: ctx.info.server,
      service: { pid: ctx.info.pid, version: ctx.info.version, startedAt: ctx.info.startedAt, uptime: uptime(ctx.info) },
      reboots: { count: ctx.power.status().reboots, max: ctx.power.status().maxReboots },
      groups: ctx.groups.list(),
      watches: ctx.watches.list(),
      monitors: ctx.monitors.list(),
      ...(ctx.cluster ? { cluster: await ctx.cluster.status() } : {}),
      suspendedMonitors: ctx.monitors.suspended(),
      ...ctx.statusExtra?.(),
    }),

    async reload() {
      try {
        return { changes: await ctx.reload() };
      } catch (e) {
        throw new ProtocolError('failed', `the config was not reloaded (the service keeps its current one): ${(e as Error).message.split('\n').join('; ')}`);
      }
    },

    'server.down'(args) {
      const action = oneOf(args, 'action', ['shutdown', 'reboot', 'poweroff'] as const, 'shutdown');
      const stopGroups = !bool(args, 'noStop');
      const by = int(args, 'pid', { optional: true, min: 0 });
      const group = str(args, 'group', { optional: true, max: 255 });
      // Answered at once: ARMDOWN may run inside a group's own script, whose stop waits for it.
      void ctx.power.down(action, { stopGroups, cause: `ARMDOWN by pid ${by ?? '?'}${group ? ` (group ${group})` : ''}`, byMonitoring: false });
      return { action, stopGroups };
    },

    'reboots.clear': () => ({ cleared: ctx.power.clearReboots() }),

    stop(args) {
      const by = int(args, 'pid', { optional: true, min: 0 });
      ctx.stop(by ? `stop requested by pid ${by}` : 'stop requested');
      return null;
    },
  };
  const ops: Ops = {
    ...service,
    ...logOps(ctx.logs),
    ...groupOps(ctx.groups, { server: ctx.info.server, stopping: ctx.stopping }),
    ...watchOps(ctx.watches, { timeScale: ctx.timeScale, commit: ctx.commit, pacing: ctx.pacing, ready: (group, id) => (group ? ctx.groupConfig(group)?.ready[id.toUpperCase()] : undefined) }),
    ...valueOps(ctx.values, ctx.logs, ctx.commit),
    ...monitorOps(ctx.monitors, ctx.groupConfig, ctx.recovers),
    ...maintenanceOps({ monitors: ctx.monitors, watches: ctx.watches, logs: ctx.logs, commit: ctx.commit, recovers: ctx.recovers }),
    ...ctx.extraOps,
    ...ctx.cluster?.ops,
  };

  const served = new Map<string, number>();
  const count = (op: string, answer: string, quiet = false) => {
    if (quiet) return;
    const key = `${op}\u0000${answer}`;
    served.set(key, (served.get(key) ?? 0) + 1);
  };
  const dispatch = async (req: Request, quiet = false) => {
    const op = Object.prototype.hasOwnProperty.call(ops, req.op) ? ops[req.op] : undefined;
    if (!op) {
      count('unknown', 'unknown_op');
      throw new ProtocolError('unknown_op', `unknown operation "${req.op}" (this service knows: ${Object.keys(ops).join(', ')})`, req.id);
    }
    try {
      const result = await op(req.args);
      // An answer promises what it says: whatever changed on the way is on disk before it leaves
      // (one write for every request answered meanwhile: state.ts batches them).
      if (promisesChange(req) && ctx.dirty()) {
        try {
          await ctx.commit();
        } catch (e) {
          throw new ProtocolError('failed', `${req.op}: done, but the service could not save it (${(e as Error).message}); it would be lost if the service ended now`);
        }
      }
      count(req.op, 'ok', quiet);
      return result;
    } catch (e) {
      count(req.op, e instanceof ProtocolError ? e.code : 'internal', quiet);
      throw e;
    }
  };
  return Object.assign(dispatch, { served: () => served });
}

/** Operations that change nothing the state keeps: their answers do not wait for a write. */
const READ_ONLY = new Set(['ping', 'status', 'value.get', 'log', 'broadcast', 'group.resources', 'monitor.report']);
/** Group operations answered "queued" without `wait` promise only that: the queue is not kept. */
const QUEUEING = new Set(['group.start', 'group.stop', 'group.restart', 'group.failover']);

function promisesChange(req: Request): boolean {
  if (READ_ONLY.has(req.op)) return false;
  return !(QUEUEING.has(req.op) && req.args?.wait !== true);
}

function uptime(info: ServiceInfo): number {
  return Math.round((Date.now() - Date.parse(info.startedAt)) / 1000);
}
