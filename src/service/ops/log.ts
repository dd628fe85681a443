// The pipe operations of the logs: ARMLOG.
import { bool, int, oneOf, ProtocolError, str } from '../../protocol/messages';
import { Logs } from '../log';
import { Ops } from './index';

/** The longest ARMLOG message: Linux will not pass a longer single argument to a program anyway. */
export const MAX_LOG_MESSAGE = 128 * 1024;

export function logOps(logs: Logs): Ops {
  return {
    async log(args) {
      const message = str(args, 'message', { max: MAX_LOG_MESSAGE })!;
      const level = oneOf(args, 'level', ['INFO', 'WARN', 'ERR'] as const, 'INFO');
      const fields = {
        src: str(args, 'source', { optional: true, max: 64 }) ?? 'client',
        group: str(args, 'group', { optional: true, max: 255 }),
        pid: int(args, 'pid', { optional: true, min: 0 }),
        ppid: int(args, 'ppid', { optional: true, min: 0 }),
      };
      if (bool(args, 'alert')) logs.alert(level, fields, message);
      else logs.write(level, fields, message);
      // Answer only once the line is in the file and on the disk: an ARMLOG that returned 0 is never lost.
      try {
        await logs.flushed();
      } catch (e) {
        throw new ProtocolError('failed', `the line was not written to the log: ${(e as Error).message}`);
      }
      return null;
    },
  };
}
