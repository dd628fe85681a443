// The pipe operations of resource monitors (ARMRSP): the resources of a group, and reports.
import { bool, int, ProtocolError, str } from '../../protocol/messages';
import { GroupConfig } from '../group-config';
import { Monitors } from '../monitors';
import { Ops } from './index';

export function monitorOps(monitors: Monitors, groupConfig: (name: string) => GroupConfig | undefined, recovers: (monitor: string) => boolean): Ops {
  return {
    'group.resources'(args) {
      const name = str(args, 'name', { max: 255 })!;
      const g = groupConfig(name);
      if (!g) throw new ProtocolError('not_found', `unknown group "${name}"`);
      return { group: g.name, disks: g.disks.map((d) => d.path), addresses: g.addresses, nics: g.nics };
    },
    'monitor.report'(args) {
      const monitor = str(args, 'monitor', { max: 300 })!;
      monitors.report({
        monitor,
        group: str(args, 'group', { optional: true, max: 255 }) ?? null,
        resource: str(args, 'resource', { max: 4096 })!,
        kind: str(args, 'kind', { max: 32 })!,
        ok: bool(args, 'ok'),
        detail: str(args, 'detail', { optional: true, max: 4096 }) ?? '',
        failures: int(args, 'failures', { optional: true, min: 0 }) ?? 0,
        limit: int(args, 'limit', { optional: true, min: 1, max: 1_000_000 }),
      });
      // What the monitor needs to know for its next checks: suspended, or its failures handled here.
      return { suspended: monitors.isSuspended(monitor), recovery: recovers(monitor) };
    },
  };
}
