// The monitors the service runs itself (config `monitors:` with a check): each on its own timer,
// one check at a time, bounded by its timeout; a monitor with a group checks only while that group
// is online, a suspended one not at all. Every result goes to monitors.ts (`arms status`, and from
// there to the recovery).
import { addressCheck, parseAddress } from '../monitors/address';
import { commandCheck } from '../monitors/command';
import { httpCheck } from '../monitors/http';
import { bounded, Check } from '../monitors/loop';
import { processCountCheck, usageCheck } from '../monitors/process';
import { MonitorConfig } from './monitor-config';
import { Monitors } from './monitors';

export interface RunnerContext {
  monitors: Monitors;
  /** the group's state ('online', …), or null when there is no such group */
  groupState(group: string): string | null;
  /** the PID of a watch's running program */
  watchPid(id: string): number | null;
  /** the group of a watch */
  watchGroup(id: string): string | null;
}

export interface MonitorRunner {
  /** the config's monitors (at the start, and after a reload): running ones are replaced */
  configure(configs: MonitorConfig[]): void;
  stop(): void;
}

export function checkFor(m: MonitorConfig, ctx: Pick<RunnerContext, 'watchPid'>): Check | null {
  const c = m.check;
  if (!c) return null;
  switch (c.kind) {
    case 'http':
      return httpCheck(c.url, c.expect);
    case 'tcp':
      return addressCheck(c.address, parseAddress(c.address)!);
    case 'cmd':
      return commandCheck(c.command);
    case 'process':
      return processCountCheck(c);
    case 'usage':
      return usageCheck(c.watch, c, () => ctx.watchPid(c.watch));
  }
}

export function openMonitorRunner(ctx: RunnerContext): MonitorRunner {
  let stops: Array<() => void> = [];
  const start = (m: MonitorConfig, check: Check) => {
    let stopped = false;
    let failures = 0;
    let timer: NodeJS.Timeout | null = null;
    const group = m.group ?? (m.check?.kind === 'usage' ? ctx.watchGroup(m.check.watch) : null);
    const quick = m.check?.kind === 'usage' && process.platform === 'linux';
    const tick = async () => {
      timer = null;
      const began = Date.now();
      const active = !ctx.monitors.isSuspended(m.name) && (m.group === null || ctx.groupState(m.group) === 'online');
      if (active) {
        // A usage sample on Linux is two reads of procfs that answer at once: no timer to bound it.
        const outcome = quick ? await check.run(m.timeout * 1000).catch((e: Error) => ({ ok: false, detail: e.message })) : await bounded(check, m.timeout * 1000);
        if (stopped) return;
        failures = outcome.ok ? 0 : failures + 1;
        ctx.monitors.report({ monitor: m.name, group, resource: check.resource, kind: check.kind, ok: outcome.ok, detail: outcome.detail, failures, limit: m.failures });
      } else failures = 0;
      if (!stopped) {
        timer = setTimeout(() => void tick(), Math.max(0, began + m.interval * 1000 - Date.now()));
        timer.unref();
      }
    };
    // Spread the first checks over the interval: a thousand monitors do not all wake at once.
    timer = setTimeout(() => void tick(), Math.random() * Math.min(m.interval, 5) * 1000);
    timer.unref();
    return () => {
      stopped = true;
      if (timer) clearTimeout(timer);
      check.close?.();
    };
  };
  return {
    configure(configs) {
      for (const s of stops) s();
      stops = [];
      for (const m of configs) {
        const check = checkFor(m, ctx);
        if (check) stops.push(start(m, check));
      }
    },
    stop() {
      for (const s of stops) s();
      stops = [];
    },
  };
}
