// What the service does for each request on the pipe. Each operation checks its own arguments
// (a bad one is a 'usage' answer) and returns plain data.
import { bool, int, oneOf, ProtocolError, Request, str } from '../protocol/messages';
import { Groups, Outcome, UnknownGroup } from './groups';
import { Logs } from './log';

/** The longest ARMLOG message: Linux will not pass a longer single argument to a program anyway. */
export const MAX_LOG_MESSAGE = 128 * 1024;

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
  stop(reason: string): void;
  stopping(): boolean;
  /** reads the config again; resolves with what changed, rejects with the config's mistakes */
  reload(): Promise<string>;
}

export function makeDispatcher(ctx: OpsContext): (req: Request) => Promise<unknown> {
  const groupName = (args: Record<string, unknown>) => {
    const name = str(args, 'name', { max: 255 })!;
    try {
      return ctx.groups.resolve(name);
    } catch (e) {
      if (e instanceof UnknownGroup) throw new ProtocolError('not_found', e.message);
      throw e;
    }
  };
  /** Waits for the outcome unless told not to; a failed outcome is a 'failed' answer. */
  const groupOp = async (args: Record<string, unknown>, op: (name: string) => { queued: Promise<Outcome> }) => {
    const name = groupName(args);
    if (ctx.stopping()) throw new ProtocolError('shutting_down', `the service is stopping; group ${name} is being stopped with it`);
    const { queued } = op(name);
    if (!bool(args, 'wait')) {
      queued.catch(() => undefined);
      return { group: name, queued: true };
    }
    const outcome = await queued;
    if (!outcome.ok) throw new ProtocolError('failed', outcome.message);
    return { group: name, state: outcome.state, message: outcome.message };
  };

  const ops: Record<string, (args: Record<string, unknown>) => Promise<unknown> | unknown> = {
    ping: () => ({ ...ctx.info, uptime: uptime(ctx.info) }),

    async log(args) {
      const message = str(args, 'message', { max: MAX_LOG_MESSAGE })!;
      const level = oneOf(args, 'level', ['INFO', 'WARN', 'ERR'] as const, 'INFO');
      const fields = {
        src: str(args, 'source', { optional: true, max: 64 }) ?? 'client',
        group: str(args, 'group', { optional: true, max: 255 }),
        pid: int(args, 'pid', { optional: true, min: 0 }),
        ppid: int(args, 'ppid', { optional: true, min: 0 }),
      };
      if (bool(args, 'alert')) ctx.logs.alert(level, fields, message);
      else ctx.logs.write(level, fields, message);
      // Answer only once the line is in the file: an ARMLOG that returned 0 is never lost.
      await ctx.logs.flushed();
      return null;
    },

    status: () => ({
      server: ctx.info.server,
      service: { pid: ctx.info.pid, version: ctx.info.version, startedAt: ctx.info.startedAt, uptime: uptime(ctx.info) },
      groups: ctx.groups.list(),
    }),

    'group.start': (args) => groupOp(args, (n) => ctx.groups.start(n)),
    'group.stop': (args) => groupOp(args, (n) => ctx.groups.stop(n)),
    'group.restart': (args) => groupOp(args, (n) => ctx.groups.restart(n)),
    'group.move': (args) => {
      const name = groupName(args);
      throw new ProtocolError('failed', `group ${name} cannot move: this server (${ctx.info.server}) is the only one (no cluster is configured)`);
    },

    async reload() {
      try {
        return { changes: await ctx.reload() };
      } catch (e) {
        throw new ProtocolError('failed', `the config was not reloaded (the service keeps its current one): ${(e as Error).message.split('\n').join('; ')}`);
      }
    },

    stop(args) {
      const by = int(args, 'pid', { optional: true, min: 0 });
      ctx.stop(by ? `stop requested by pid ${by}` : 'stop requested');
      return null;
    },
  };

  return async (req) => {
    const op = Object.prototype.hasOwnProperty.call(ops, req.op) ? ops[req.op] : undefined;
    if (!op) throw new ProtocolError('unknown_op', `unknown operation "${req.op}" (this service knows: ${Object.keys(ops).join(', ')})`, req.id);
    return op(req.args);
  };
}

function uptime(info: ServiceInfo): number {
  return Math.round((Date.now() - Date.parse(info.startedAt)) / 1000);
}
