// What the service does for each request on the pipe. Each operation checks its own arguments
// (a bad one is a 'usage' answer) and returns plain data.
import { bool, int, oneOf, ProtocolError, Request, str } from '../protocol/messages';
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
  stop(reason: string): void;
}

export function makeDispatcher(ctx: OpsContext): (req: Request) => Promise<unknown> {
  const ops: Record<string, (args: Record<string, unknown>) => Promise<unknown> | unknown> = {
    ping: () => ({ ...ctx.info, uptime: Math.round((Date.now() - Date.parse(ctx.info.startedAt)) / 1000) }),

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
