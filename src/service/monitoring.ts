// Monitoring as the service wires it: the monitors' results and suspensions (monitors.ts), the
// monitors it runs itself (monitor-runner.ts), what a failure sets off (recovery.ts) and where alerts
// go (alerts/). One place for main.ts to open, reconfigure on a reload, and stop.
import { Alerts, openAlerts } from './alerts/index';
import { Config } from './config';
import { Groups } from './groups';
import { Logs } from './log';
import { openMonitorRunner } from './monitor-runner';
import { Monitors, openMonitors } from './monitors';
import { OS_MONITOR_NAME } from './os-monitor';
import { alertOps } from './ops/alerts';
import { Ops } from './ops/index';
import { Power } from './power';
import { openRecovery, Recovery } from './recovery';
import { Watches } from './watches';

export interface Monitoring {
  monitors: Monitors;
  recovery: Recovery;
  alerts: Alerts;
  ops: Ops;
  /** more of `arms status`: the recoveries and the alert routes */
  status(): { recoveries: ReturnType<Recovery['status']>; alerts: ReturnType<Alerts['status']> };
  /** once groups and watches are open: the service's own monitors begin */
  start(): void;
  /** a reloaded config */
  configure(next: Config): void;
  stop(): void;
}

export interface MonitoringContext {
  config: Config;
  logs: Logs;
  /** suspended monitor names from the persisted state, and where a change goes */
  suspended: string[];
  saveSuspended(names: string[]): void;
  groups(): Groups;
  watches(): Watches;
  power: Power;
  env: NodeJS.ProcessEnv;
  pipe: string;
  commandsDir: string;
}

export function openMonitoring(ctx: MonitoringContext): Monitoring {
  let current = ctx.config;
  const alerts = openAlerts(current.alerts, { server: current.server, logs: ctx.logs, env: ctx.env });
  const watch = (id: string) => ctx.watches().find(id);
  const outcome = (p: { queued: Promise<{ ok: boolean; message: string }> }) => p.queued;
  const recovery = openRecovery({
    logs: ctx.logs,
    monitors: () => current.monitors,
    restartWatch: (id, cause) => ctx.watches().restart(id, cause, 10_000),
    restartGroup: (group) => outcome(ctx.groups().rerun(group, 'RESOURCERESTART')),
    stopGroup: (group) => outcome(ctx.groups().stop(group, 'GROUPSTOP')),
    failover: (group, cause) => outcome(ctx.groups().failover(group, { force: false, cause })),
    down: (action, cause) => void ctx.power.down(action, { stopGroups: true, cause, byMonitoring: true }),
    watchGroup: (id) => watch(id)?.group ?? null,
    env: ctx.env,
    pipe: ctx.pipe,
    commandsDir: ctx.commandsDir,
  });
  const monitors = openMonitors({
    suspended: ctx.suspended,
    known: () => [...current.monitors.filter((m) => m.check !== null).map((m) => m.name), ...(current.osMonitor.enabled ? [OS_MONITOR_NAME] : [])],
    onReport: (r) => recovery.onReport(r),
    onSuspendedChange: ctx.saveSuspended,
  });
  const runner = openMonitorRunner({
    monitors,
    groupState: (name) => ctx.groups().list().find((g) => g.name.toUpperCase() === name.toUpperCase())?.state ?? null,
    watchPid: (id) => watch(id)?.pid ?? null,
    watchGroup: (id) => watch(id)?.group ?? null,
  });
  return {
    monitors,
    recovery,
    alerts,
    ops: alertOps(alerts),
    status: () => ({ recoveries: recovery.status(), alerts: alerts.status() }),
    start: () => runner.configure(current.monitors),
    configure(next) {
      current = next;
      runner.configure(next.monitors);
      alerts.configure(next.alerts);
    },
    stop() {
      runner.stop();
      alerts.close();
    },
  };
}
