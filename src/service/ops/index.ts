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
}

export function makeDispatcher(ctx: OpsContext): (req: Request) => Promise<unknown> {
  const service: Ops = {
    ping: () => ({ ...ctx.info, uptime: uptime(ctx.info) }),

    status: () => ({
      server: ctx.info.server,
      service: { pid: ctx.info.pid, version: ctx.info.version, startedAt: ctx.info.startedAt, uptime: uptime(ctx.info) },
      reboots: { count: ctx.power.status().reboots, max: ctx.power.status().maxReboots },
      groups: ctx.groups.list(),
      watches: ctx.watches.list(),
      monitors: ctx.monitors.list(),
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
    ...watchOps(ctx.watches, { timeScale: ctx.timeScale, commit: ctx.commit, pacing: ctx.pacing }),
    ...valueOps(ctx.values, ctx.logs, ctx.commit),
    ...monitorOps(ctx.monitors, ctx.groupConfig),
  };

  return async (req) => {
    const op = Object.prototype.hasOwnProperty.call(ops, req.op) ? ops[req.op] : undefined;
    if (!op) throw new ProtocolError('unknown_op', `unknown operation "${req.op}" (this service knows: ${Object.keys(ops).join(', ')})`, req.id);
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
    return result;
  };
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
