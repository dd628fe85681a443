// The pipe operation of the alert routes: arms alert test.
import { ProtocolError, str } from '../../protocol/messages';
import { Alerts } from '../alerts/index';
import { Ops } from './index';

export function alertOps(alerts: Alerts): Ops {
  return {
    async 'alert.test'(args) {
      const route = str(args, 'route', { optional: true, max: 255 });
      const known = alerts.status().map((r) => r.route);
      if (known.length === 0) throw new ProtocolError('not_found', 'no alert routes are configured (alerts: in arms.yaml)');
      if (route !== undefined && !known.some((r) => r.toUpperCase() === route.toUpperCase())) {
        throw new ProtocolError('not_found', `no alert route "${route}" (routes: ${known.join(', ')})`);
      }
      return { results: await alerts.test(route) };
    },
  };
}
