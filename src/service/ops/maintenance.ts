// The pipe operations of maintenance: arms monitor suspend|resume, arms watch suspend|resume, and
// what a monitor (ARMRSP) asks of the service about itself before and between its checks.
import { bool, ProtocolError, str } from '../../protocol/messages';
import { Logs } from '../log';
import { Monitors } from '../monitors';
import { WatchError, Watches } from '../watches';
import { Ops } from './index';

export interface MaintenanceContext {
  monitors: Monitors;
  watches: Watches;
  logs: Logs;
  /** resolves once the watches as they are now are on disk */
  commit(): Promise<void>;
  /** the service acts on this monitor's failures (it has a recovery: in the config) */
  recovers(monitor: string): boolean;
}

export function maintenanceOps(ctx: MaintenanceContext): Ops {
  const names = (args: Record<string, unknown>): string[] => {
    const v = args.names ?? [];
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'string' && x.length > 0 && x.length <= 300)) throw new ProtocolError('usage', '"names" must be a list of monitor names');
    const all = bool(args, 'all');
    if (all && v.length > 0) throw new ProtocolError('usage', 'name monitors or give --all, not both');
    if (!all && v.length === 0) throw new ProtocolError('usage', 'name at least one monitor, or give --all');
    if (all) return ctx.monitors.names();
    const known = new Map(ctx.monitors.names().map((n) => [n.toUpperCase(), n]));
    for (const w of ctx.watches.list()) if (!known.has(w.id.toUpperCase())) known.set(w.id.toUpperCase(), w.id);
    const unknown = (v as string[]).filter((n) => !known.has(n.toUpperCase()));
    if (unknown.length > 0) {
      const list = [...known.values()];
      throw new ProtocolError('not_found', `no monitor ${unknown.map((n) => `"${n}"`).join(', ')}${list.length ? ` (monitors: ${list.join(', ')})` : ' (no monitor is known)'}`);
    }
    return (v as string[]).map((n) => known.get(n.toUpperCase())!);
  };
  const monitorOp = (on: boolean) => (args: Record<string, unknown>) => {
    const list = names(args);
    const changed = on ? ctx.monitors.suspend(list) : ctx.monitors.resume(list);
    const by = str(args, 'by', { optional: true, max: 64 });
    for (const n of changed) ctx.logs.write('WARN', { src: 'armsd', monitor: n, suspended: on }, on ? `monitor ${n} suspended (maintenance${by ? `, ${by}` : ''}): it does not check until resumed` : `monitor ${n} resumed${by ? ` (${by})` : ''}`);
    return { changed, unchanged: list.filter((n) => !changed.includes(n)), suspended: ctx.monitors.suspended() };
  };
  const watchOp = (on: boolean) => async (args: Record<string, unknown>) => {
    const id = str(args, 'id', { max: 300 })!;
    try {
      const r = await ctx.watches.suspend(id, on);
      await ctx.commit();
      return { id: r.status.id, changed: r.changed, suspended: r.status.suspended, state: r.status.state, pid: r.status.pid };
    } catch (e) {
      throw e instanceof WatchError ? new ProtocolError(e.code, e.message) : e;
    }
  };
  return {
    'monitor.suspend': monitorOp(true),
    'monitor.resume': monitorOp(false),
    'monitor.state'(args) {
      const monitor = str(args, 'monitor', { max: 300 })!;
      return { monitor, suspended: ctx.monitors.isSuspended(monitor), recovery: ctx.recovers(monitor) };
    },
    'watch.suspend': watchOp(true),
    'watch.resume': watchOp(false),
  };
}
