// The HTTP API's routes: each read or action is a pipe operation (src/service/ops/), so the API
// checks its arguments, answers and errs exactly as the commands do. A domain that gains a pipe
// operation gains its route by one line here. Paths are under /api/v1/; names in paths are
// URL-encoded. In a cluster the group operations are the cluster's (src/cluster/ops.ts): they act
// where the group is, whichever server's API was asked.
import type { ErrorCode } from '../protocol/messages';

export interface Route {
  method: 'GET' | 'POST';
  /** segments; ":name" takes one segment into args[name] */
  path: string[];
  /** a pipe operation, or a read answered from the status snapshot */
  op: string;
  /** args from the path and the body to the operation's args; `by`: who asked, for the service's log */
  args?: (params: Record<string, string>, body: Record<string, unknown>, by: string) => Record<string, unknown>;
  /** what the answer is, for the docs and the 202 of actions that did not wait */
  action?: boolean;
}

const p = (path: string) => path.split('/').filter(Boolean);
/** the body's wait: true waits for the outcome (200), else 202 once queued */
const groupArgs = (params: Record<string, string>, body: Record<string, unknown>) => ({ name: params.name, wait: body.wait ?? false });

export const ROUTES: Route[] = [
  { method: 'GET', path: p('/api/v1/status'), op: 'read.status' },
  { method: 'GET', path: p('/api/v1/servers'), op: 'read.servers' },
  { method: 'GET', path: p('/api/v1/groups'), op: 'read.groups' },
  { method: 'GET', path: p('/api/v1/groups/:name'), op: 'read.group' },
  { method: 'GET', path: p('/api/v1/watches'), op: 'read.watches' },
  { method: 'GET', path: p('/api/v1/watches/:id'), op: 'read.watch' },
  { method: 'GET', path: p('/api/v1/monitors'), op: 'read.monitors' },
  { method: 'GET', path: p('/api/v1/log'), op: 'read.log' },
  { method: 'POST', path: p('/api/v1/groups/:name/start'), op: 'group.start', args: groupArgs, action: true },
  { method: 'POST', path: p('/api/v1/groups/:name/stop'), op: 'group.stop', args: groupArgs, action: true },
  { method: 'POST', path: p('/api/v1/groups/:name/restart'), op: 'group.restart', args: groupArgs, action: true },
  { method: 'POST', path: p('/api/v1/groups/:name/move'), op: 'group.move', args: (params, body) => ({ ...groupArgs(params, body), ...(body.to !== undefined ? { to: body.to } : {}) }), action: true },
  // Maintenance (arms monitor|watch suspend|resume): one monitor or watch per request.
  { method: 'POST', path: p('/api/v1/monitors/:name/suspend'), op: 'monitor.suspend', args: (params, _body, by) => ({ names: [params.name], by }), action: true },
  { method: 'POST', path: p('/api/v1/monitors/:name/resume'), op: 'monitor.resume', args: (params, _body, by) => ({ names: [params.name], by }), action: true },
  { method: 'POST', path: p('/api/v1/watches/:id/suspend'), op: 'watch.suspend', args: (params) => ({ id: params.id }), action: true },
  { method: 'POST', path: p('/api/v1/watches/:id/resume'), op: 'watch.resume', args: (params) => ({ id: params.id }), action: true },
  { method: 'POST', path: p('/api/v1/watches/:id/kill'), op: 'watch.kill', args: (params, body) => ({ id: params.id, ...(body.timeoutS !== undefined ? { timeoutS: body.timeoutS } : {}) }), action: true },
];

export function match(method: string, segments: string[]): { route: Route; params: Record<string, string> } | { allowed: string[] } | null {
  const allowed: string[] = [];
  for (const route of ROUTES) {
    if (route.path.length !== segments.length) continue;
    const params: Record<string, string> = {};
    const fits = route.path.every((s, i) => {
      if (s.startsWith(':')) {
        params[s.slice(1)] = segments[i];
        return true;
      }
      return s === segments[i];
    });
    if (!fits) continue;
    if (route.method === method) return { route, params };
    allowed.push(route.method);
  }
  return allowed.length ? { allowed } : null;
}

/** A pipe error code as an HTTP status. */
export const HTTP_STATUS: Record<ErrorCode, number> = {
  usage: 400,
  bad_request: 400,
  too_large: 413,
  version: 400,
  unknown_op: 404,
  not_found: 404,
  conflict: 409,
  // the operation ran and failed (a start script's exit code, a group that cannot move)
  failed: 422,
  cannot_start: 422,
  shutting_down: 503,
  internal: 500,
};
