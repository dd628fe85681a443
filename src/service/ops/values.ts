// ARMSETCD / ARMGETCD: small integers kept by the service under case-insensitive names, so a
// child process can hand a result back to the batch file that started it. ARMBCAST.
import { int, ProtocolError, str } from '../../protocol/messages';
import { broadcast } from '../../platform/broadcast';
import { Logs } from '../log';
import { Ops } from './index';

export function valueOps(values: { get(name: string): number | undefined; set(name: string, value: number): () => void }, logs: Logs, commit: () => Promise<void>): Ops {
  const name = (args: Record<string, unknown>) => {
    const n = str(args, 'name', { max: 255 })!;
    if (!/^[A-Za-z0-9_.-]{1,255}$/.test(n)) throw new ProtocolError('usage', `name "${n}" must be letters, digits, "_", "-" or "."`);
    return n.toUpperCase();
  };
  return {
    async 'value.set'(args) {
      const key = name(args);
      const value = int(args, 'value', { min: -2147483648, max: 2147483647 })!;
      const undo = values.set(key, value);
      try {
        await commit();
      } catch (e) {
        // Refused, not half kept: a value that is not on disk would vanish with the service.
        undo();
        throw new ProtocolError('failed', `${key} was not set: the service could not save it (${(e as Error).message})`);
      }
      return { name: key, value };
    },
    'value.get'(args) {
      const key = name(args);
      return { name: key, value: values.get(key) ?? 0 };
    },
    async broadcast(args) {
      const message = str(args, 'message', { max: 4096 })!;
      const group = str(args, 'group', { optional: true, max: 255 });
      logs.alert('WARN', { src: 'ARMBCAST', group, pid: int(args, 'pid', { optional: true, min: 0 }) }, message);
      const problem = await broadcast(group ? `[${group}] ${message}` : message);
      if (problem) logs.write('INFO', { src: 'armsd', group }, `ARMBCAST: not broadcast to terminals (${problem}); the alert log has it`);
      await logs.flushed();
      return { broadcast: problem === null };
    },
  };
}
