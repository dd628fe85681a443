// One delivery of an alert to a route's target: a command with ARMS_ALERT_* in its environment, a
// JSON POST to a webhook, a mail. Resolves when delivered, rejects with why not. Never throws into
// the caller's turn, never waits past the route's timeout.
import * as path from 'node:path';
import { shellCommand } from '../../platform/script-command';
import { describeResult, runScript, succeeded } from '../scripts';
import type { RouteConfig } from './config';
import { sendMail } from './smtp';

/** An alert-level event as the routes carry it. */
export interface AlertEvent {
  level: 'WARN' | 'ERR';
  message: string;
  group: string | null;
  /** what raised it: watch, recovery, armsd, ARMRSP, ARMLOG, … */
  source: string;
  /** its kind where known (monitor-failed, failover, self-fence, test), else the source */
  event: string;
  server: string;
  time: string;
  watch?: string;
  monitor?: string;
  /** alerts this route held back by its rate limit since the last one it sent */
  suppressed?: number;
}

export function alertEnv(e: AlertEvent, route: string): Record<string, string> {
  return {
    ARMS_ALERT_LEVEL: e.level,
    ARMS_ALERT_MESSAGE: e.message,
    ARMS_ALERT_GROUP: e.group ?? '',
    ARMS_ALERT_SOURCE: e.source,
    ARMS_ALERT_EVENT: e.event,
    ARMS_ALERT_SERVER: e.server,
    ARMS_ALERT_TIME: e.time,
    ARMS_ALERT_WATCH: e.watch ?? '',
    ARMS_ALERT_MONITOR: e.monitor ?? '',
    ARMS_ALERT_SUPPRESSED: String(e.suppressed ?? 0),
    ARMS_ALERT_ROUTE: route,
  };
}

export function subject(e: AlertEvent): string {
  const msg = e.message.length > 120 ? `${e.message.slice(0, 117)}...` : e.message;
  return `[ARMS ${e.level}] ${e.server}${e.group ? ` ${e.group}` : ''}: ${msg}`;
}

export function body(e: AlertEvent): string {
  return [
    e.message,
    '',
    `server:  ${e.server}`,
    `time:    ${e.time}`,
    `level:   ${e.level}`,
    `group:   ${e.group ?? '-'}`,
    `source:  ${e.source}`,
    `event:   ${e.event}`,
    ...(e.watch ? [`watch:   ${e.watch}`] : []),
    ...(e.monitor ? [`monitor: ${e.monitor}`] : []),
    ...(e.suppressed ? [`(${e.suppressed} alert(s) before this one were held back by the rate limit)`] : []),
    '',
    '-- armsd',
  ].join('\n');
}

export async function deliver(route: RouteConfig, e: AlertEvent, env: NodeJS.ProcessEnv, onLine: (line: string) => void): Promise<string> {
  const timeoutMs = route.timeout * 1000;
  const t = route.target;
  switch (t.kind) {
    case 'command': {
      const r = await runScript(shellCommand(t.command), { cwd: path.parse(process.cwd()).root, env: { ...env, ...alertEnv(e, route.name) }, timeoutMs, onLine: (_s, l) => onLine(l) });
      if (!succeeded(r)) throw new Error(`the command ${describeResult(r, route.timeout)}`);
      return `command exited 0 in ${r.ms} ms`;
    }
    case 'webhook':
      return post(t.url, t.headers, JSON.stringify({ ...e, route: route.name }), timeoutMs);
    case 'mail':
      await sendMail({ host: t.host, port: t.port, helo: t.helo, from: t.from, to: t.to, subject: subject(e), body: body(e), timeoutMs });
      return `mail accepted by ${t.host}:${t.port} for ${t.to.join(', ')}`;
  }
}

function post(url: string, headers: Record<string, string>, json: string, timeoutMs: number): Promise<string> {
  const mod = (url.startsWith('https:') ? require('node:https') : require('node:http')) as typeof import('node:http');
  return new Promise<string>((resolve, reject) => {
    let done = false;
    const finish = (err: Error | null, ok?: string) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      req.destroy();
      if (err) reject(err);
      else resolve(ok!);
    };
    const req = mod.request(url, {
      method: 'POST',
      agent: false,
      headers: { 'user-agent': 'armsd', 'content-type': 'application/json', 'content-length': Buffer.byteLength(json), ...headers },
    });
    const timer = setTimeout(() => finish(new Error(`no answer from ${url} within ${timeoutMs / 1000} s`)), timeoutMs);
    req.on('error', (e) => finish(new Error(`POST ${url}: ${e.message}`)));
    req.on('response', (res) => {
      res.resume();
      const code = res.statusCode ?? 0;
      if (code >= 200 && code < 300) finish(null, `HTTP ${code} from ${url}`);
      else finish(new Error(`POST ${url}: HTTP ${code}${res.statusMessage ? ` ${res.statusMessage}` : ''}`));
    });
    req.end(json);
  });
}
