// arms status, arms group start|stop|restart|move NAME, arms service reload.
import { call } from '../../client/client';
import { clientPipe } from '../../platform/home';
import type { GroupStatus } from '../../service/groups';
import type { RouteStatus } from '../../service/alerts/index';
import type { MonitorResult } from '../../service/monitors';
import type { RecoveryStatus } from '../../service/recovery';
import type { WatchStatus } from '../../service/watches';
import type { ClusterStatus } from '../../cluster/cluster';
import { writeOut } from '../output';
import { printable } from '../printable';

interface Status {
  server: string;
  service: { pid: number; version: string; startedAt: string; uptime: number };
  reboots: { count: number; max: number };
  groups: GroupStatus[];
  watches: WatchStatus[];
  monitors: MonitorResult[];
  cluster?: ClusterStatus;
  suspendedMonitors?: string[];
  recoveries?: RecoveryStatus[];
  alerts?: RouteStatus[];
}

export async function groupAction(action: 'start' | 'stop' | 'restart' | 'move', name: string, opts: { wait: boolean; to?: string }): Promise<number> {
  const r = (await call(clientPipe(), `group.${action}`, { name, wait: opts.wait, ...(opts.to ? { to: opts.to } : {}) }, 0)) as { group: string; message?: string };
  console.log(printable(opts.wait ? (r.message ?? '') : `group ${r.group}: ${action} queued`));
  return 0;
}

export async function reload(): Promise<number> {
  const r = (await call(clientPipe(), 'reload', {}, 60_000)) as { changes: string };
  console.log(printable(r.changes));
  return 0;
}

/** The cluster's servers and where each group is, as etcd says; this server's own view of its groups follows in `arms status --json`. */
function printCluster(c: ClusterStatus, say: (line: string) => void): void {
  say(printable(`cluster ${c.name}: ${c.state}${c.problem ? ` (${c.problem})` : ''}; heartbeat timeout ${c.heartbeatTimeout} s${c.readAt ? `; read from etcd ${shortTime(c.readAt)}` : ''}`));
  const servers = [['SERVER', 'STATE', 'SINCE', 'GROUPS']];
  for (const s of c.servers) servers.push([s.name + (s.name.toUpperCase() === c.server ? ' (this)' : ''), s.up ? 'up' : 'down', shortTime(s.since), s.groups.join(', ') || '-']);
  say('');
  say(table(servers));
  say('');
  if (c.groups.length === 0) say('no groups configured');
  else {
    const rows = [['GROUP', 'STATE', 'FENCE', 'ERROR']];
    for (const g of c.groups) rows.push([g.name, g.owner ? `${g.state} on ${g.owner}` : g.state, g.fence ?? '-', g.error ?? '-']);
    say(table(rows));
  }
}

function shortTime(iso: string | null | undefined): string {
  if (!iso) return '-';
  const d = new Date(iso);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

function table(rows: string[][]): string {
  rows = rows.map((r) => r.map(printable));
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ')).join('\n');
}

export async function status(opts: { json: boolean }): Promise<number> {
  const s = (await call(clientPipe(), 'status', {}, 10_000)) as Status;
  if (opts.json) {
    writeOut(JSON.stringify(s, null, 2) + '\n');
    return 0;
  }
  const lines: string[] = [];
  const say = (line: string) => lines.push(line);
  say(`server ${printable(s.server)}: armsd pid ${s.service.pid}, up ${s.service.uptime} s, version ${s.service.version}`);
  if (s.reboots.count > 0) say(`server shutdowns by monitoring: ${s.reboots.count} of ${s.reboots.max}${s.reboots.count >= s.reboots.max ? ' (limit reached: "arms clear reboots")' : ''}`);
  if (s.cluster) printCluster(s.cluster, say);
  else if (s.groups.length === 0) say('no groups configured');
  else {
    const rows = [['GROUP', 'STATE', 'SINCE', 'FAILOVERS', 'LAST EVENT', 'LAST ERROR']];
    for (const g of s.groups) {
      const e = g.lastEvent;
      const event = e ? `${e.action} ${e.event}${e.factor ? ` ${e.factor}` : ''} ${e.result}` : '-';
      const err = g.lastError ? `${shortTime(g.lastError.at)} ${g.lastError.message}` : '-';
      rows.push([g.name, g.state + (g.queued ? ` (+${g.queued} queued)` : ''), shortTime(g.since), `${g.failovers.recent}/${g.failovers.max}`, event, err]);
    }
    say(table(rows));
  }
  if (s.watches.length > 0) {
    const rows = [['WATCH', 'GROUP', 'PID', 'STATE', 'RESTARTS', 'RESETS', 'LAST EXIT', 'ESCALATION']];
    for (const w of s.watches) {
      const exit = w.lastExit ? (w.lastExit.signal ?? `code ${w.lastExit.code}`) : '-';
      rows.push([w.id, w.group ?? '-', w.pid === null ? '-' : String(w.pid), w.state + (w.suspended ? ' (suspended)' : ''), `${w.restartsUsed}/${w.restartsAllowed}`, shortTime(w.resetsAt), exit, w.escalation ? `${w.escalation.action} ${shortTime(w.escalation.at)}` : '-']);
    }
    say('');
    say(table(rows));
  }
  if (s.monitors.length > 0) {
    const rows = [['MONITOR', 'GROUP', 'RESOURCE', 'RESULT', 'FAILURES', 'CHECKED', 'DETAIL']];
    for (const m of s.monitors) rows.push([m.monitor, m.group ?? '-', `${m.kind} ${m.resource}`, m.suspended ? 'suspended' : m.ok ? 'ok' : 'FAILED', String(m.failures), shortTime(m.at), m.detail || '-']);
    say('');
    say(table(rows));
  }
  const reported = new Set(s.monitors.map((m) => m.monitor.toUpperCase()));
  const quiet = (s.suspendedMonitors ?? []).filter((n) => !reported.has(n));
  if (quiet.length > 0) say(`\nsuspended monitors without a result: ${quiet.join(', ')}`);
  if (s.recoveries && s.recoveries.length > 0) {
    const rows = [['RECOVERY', 'STATE', 'RESTARTS', 'FINAL ACTION', 'LAST']];
    for (const r of s.recoveries) rows.push([r.monitor, r.state, `${r.restarts}/${r.restartsAllowed}`, `${r.finalAction}${r.finalTaken ? ' (taken)' : ''}`, r.last ? `${shortTime(r.last.at)} ${r.last.action}: ${r.last.result}` : '-']);
    say('');
    say(table(rows));
  }
  if (s.alerts && s.alerts.length > 0) {
    const rows = [['ALERT ROUTE', 'KIND', 'SENT', 'FAILED', 'HELD BACK', 'QUEUED', 'LAST ERROR']];
    for (const a of s.alerts) rows.push([a.route, a.kind, String(a.sent), String(a.failed), String(a.suppressed + a.dropped), String(a.queued), a.lastError ? `${shortTime(a.lastError.at)} ${a.lastError.message}` : '-']);
    say('');
    say(table(rows));
  }
  writeOut(lines.join('\n') + '\n');
  return 0;
}
