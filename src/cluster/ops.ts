// The pipe operations on groups when the server is in a cluster: each acts where the group is
// (cluster.request relays it to the owner through etcd). Same arguments and answers as the
// single-server ones (service/ops/groups.ts), plus `to` for a move.
import { bool, int, ProtocolError, str } from '../protocol/messages';
import type { Groups } from '../service/groups';
import { UnknownGroup } from '../service/groups';
import type { Ops } from '../service/ops/index';
import type { Cluster, Reply, RequestOptions } from './cluster';
import type { RequestOp } from './keys';

/** `cluster`: the cluster once opened (the pipe listens before the server joins). */
export function clusterOps(current: () => Cluster | null, groups: Groups, ctx: { stopping(): boolean }): Ops {
  const groupName = (args: Record<string, unknown>) => {
    const name = str(args, 'name', { max: 255 })!;
    try {
      return groups.resolve(name);
    } catch (e) {
      if (e instanceof UnknownGroup) throw new ProtocolError('not_found', e.message);
      throw e;
    }
  };
  const cluster = (): Cluster => {
    const c = current();
    if (!c) throw new ProtocolError('failed', 'the service is still starting: it is not in the cluster yet');
    return c;
  };
  const ask = async (args: Record<string, unknown>, op: RequestOp, extra: Partial<RequestOptions> = {}) => {
    const name = groupName(args);
    if (ctx.stopping()) throw new ProtocolError('shutting_down', `the service is stopping; group ${name} is handed over with it`);
    const wait = bool(args, 'wait');
    const r: Reply = await cluster().request(name, op, { wait, ...extra });
    if (!r.ok) throw new ProtocolError('failed', r.message);
    return r.queued ? { group: name, queued: true, joined: !!r.joined, waited: false, message: r.message } : { group: name, message: r.message, waited: true, joined: false };
  };
  return {
    'group.start': (args) => ask(args, 'start'),
    'group.stop': (args) => ask(args, 'stop'),
    'group.restart': (args) => ask(args, 'restart'),
    'group.move': (args) => ask(args, 'move', { to: str(args, 'to', { optional: true, max: 255 }) }),
    'group.failover': (args) => {
      const name = groupName(args);
      const caller = str(args, 'group', { optional: true, max: 255 });
      const force = bool(args, 'force');
      const by = int(args, 'pid', { optional: true, min: 0 });
      // From inside the group's own script, the failover runs after that script: waiting for it would never end.
      const ownScript = caller !== undefined && caller.toUpperCase() === name.toUpperCase() && groups.busy(name);
      return ask(args, 'failover', { force, ownScript, cause: `ARMFOVER${force ? ' /F' : ''} by pid ${by ?? '?'}${caller ? ` (group ${caller})` : ''}` });
    },
    async 'cluster.configs'() {
      return { configs: await cluster().configs() };
    },
  };
}
