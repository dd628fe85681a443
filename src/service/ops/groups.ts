// The pipe operations on groups: arms group start|stop|restart|move.
import { bool, int, ProtocolError, str } from '../../protocol/messages';
import { Groups, Outcome, UnknownGroup } from '../groups';
import { Ops } from './index';

export function groupOps(groups: Groups, ctx: { server: string; stopping(): boolean }): Ops {
  const groupName = (args: Record<string, unknown>) => {
    const name = str(args, 'name', { max: 255 })!;
    try {
      return groups.resolve(name);
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

  return {
    'group.start': (args) => groupOp(args, (n) => groups.start(n)),
    'group.stop': (args) => groupOp(args, (n) => groups.stop(n)),
    'group.restart': (args) => groupOp(args, (n) => groups.restart(n)),
    async 'group.failover'(args) {
      const name = groupName(args);
      if (ctx.stopping()) throw new ProtocolError('shutting_down', `the service is stopping; group ${name} is being stopped with it`);
      const caller = str(args, 'group', { optional: true, max: 255 });
      const force = bool(args, 'force');
      const by = int(args, 'pid', { optional: true, min: 0 });
      const { queued, joined } = groups.failover(name, { force, cause: `ARMFOVER${force ? ' /F' : ''} by pid ${by ?? '?'}${caller ? ` (group ${caller})` : ''}` });
      queued.catch(() => undefined);
      // From inside the group's own script, the failover runs after that script: waiting for it would never end.
      const own = caller !== undefined && caller.toUpperCase() === name.toUpperCase() && groups.busy(name);
      if (!bool(args, 'wait') || own) return { group: name, queued: true, joined, waited: false };
      const outcome = await queued;
      if (!outcome.ok) throw new ProtocolError('failed', outcome.message);
      return { group: name, state: outcome.state, message: outcome.message, joined, waited: true };
    },
    'group.move': (args) => {
      const name = groupName(args);
      throw new ProtocolError('failed', `group ${name} cannot move: this server (${ctx.server}) is the only one (no cluster is configured)`);
    },
  };
}
