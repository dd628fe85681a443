// The OS stall monitor of the service (config `osMonitor:`). Every interval it reads how late its
// own event loop has run (perf_hooks' event-loop delay histogram, and how late the interval's own
// timer came): a delay above the threshold means the service, or the OS under it, stalled, and is
// an alert. Optionally it keeps a watchdog device open (/dev/watchdog; tests use a file or a FIFO)
// and writes to it every interval from the event loop itself: when the service or the OS stalls
// longer than the device's timeout, the writes stop and the kernel resets the machine. A clean stop
// writes the magic "V" before closing, so that the driver disarms (unless it is built nowayout).
import * as fs from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { Logs } from './log';
import type { Monitors } from './monitors';

export interface OsMonitorConfig {
  /** on unless false */
  enabled: boolean;
  /** seconds: an event-loop delay longer than this is a stall */
  stallThreshold: number;
  /** seconds: how often the delay is read and the watchdog written */
  interval: number;
  /** the watchdog device (or, for tests, a file or FIFO that exists); null: none */
  watchdog: string | null;
}

/** not a possible watch ID: its results are never forgotten with a watch's */
export const OS_MONITOR_NAME = 'armsd-os';

export const OS_MONITOR_DEFAULTS: OsMonitorConfig = { enabled: true, stallThreshold: 5, interval: 1, watchdog: null };

export interface OsMonitorStatus {
  /** the longest event-loop delay of the last interval, ms */
  lastDelayMs: number;
  /** intervals in a row with a stall */
  stalls: number;
  /** stalls since the start */
  totalStalls: number;
  watchdog: { path: string; open: boolean; writes: number; lastError: string | null } | null;
}

export interface OsMonitor {
  status(): OsMonitorStatus;
  /** stops measuring; disarms and closes the watchdog */
  stop(): void;
}

/**
 * Starts the OS monitor: call it once the logs are open, with `osMonitor:` from the config. With
 * `monitors`, each interval's result shows in `arms status` as monitor "armsd-os", kind "os".
 */
export function startOsMonitor(config: OsMonitorConfig, logs: Pick<Logs, 'write' | 'alert'>, opts: { monitors?: Pick<Monitors, 'report'> & Partial<Pick<Monitors, 'isSuspended'>> } = {}): OsMonitor {
  const intervalMs = Math.max(10, config.interval * 1000);
  const thresholdMs = config.stallThreshold * 1000;
  const st: OsMonitorStatus = { lastDelayMs: 0, stalls: 0, totalStalls: 0, watchdog: null };
  if (!config.enabled) return { status: () => ({ ...st }), stop: () => undefined };

  // A resolution well under the threshold, but not so fine that the sampling costs anything.
  const resolution = Math.max(10, Math.min(100, Math.floor(thresholdMs / 10)));
  const histogram = monitorEventLoopDelay({ resolution });
  histogram.enable();

  const dog = config.watchdog === null ? null : openWatchdog(config.watchdog, logs);
  if (dog) st.watchdog = dog.status;

  let expected = Date.now() + intervalMs;
  const tick = () => {
    // Pet first: the measuring must not delay it.
    dog?.pet();
    const now = Date.now();
    const late = Math.max(0, now - expected);
    expected = now + intervalMs;
    // The histogram holds the time between its samples: the resolution plus the delay.
    const delayMs = Math.round(Math.max(histogram.max / 1e6 - resolution, late, 0));
    histogram.reset();
    st.lastDelayMs = delayMs;
    // Suspended (arms monitor suspend armsd-os): the watchdog is still written, stalls are not judged.
    if (opts.monitors?.isSuspended?.(OS_MONITOR_NAME)) return;
    const stalled = delayMs > thresholdMs;
    if (stalled) {
      st.stalls++;
      st.totalStalls++;
      logs.alert('ERR', { src: 'armsd', event: 'os-stall', monitor: 'os', delayMs, thresholdMs }, `OS stall: the service's event loop was blocked for ${secs(delayMs)} (threshold ${secs(thresholdMs)}): the service or the OS under it stopped responding`);
    } else {
      if (st.stalls > 0) logs.write('INFO', { src: 'armsd', monitor: 'os', delayMs }, `OS stall over: the event loop runs on time again (delay ${secs(delayMs)})`);
      st.stalls = 0;
    }
    opts.monitors?.report({
      monitor: OS_MONITOR_NAME,
      group: null,
      resource: 'event loop',
      kind: 'os',
      ok: !stalled,
      detail: `delay ${secs(delayMs)} (threshold ${secs(thresholdMs)})${dog ? `; watchdog ${dog.status.path}: ${dog.status.open ? `${dog.status.writes} writes` : `not open: ${dog.status.lastError}`}` : ''}`,
      failures: st.stalls,
      limit: 1,
    });
  };
  const timer = setInterval(tick, intervalMs);
  timer.unref();

  return {
    status: () => ({ ...st, watchdog: st.watchdog && { ...st.watchdog } }),
    stop() {
      clearInterval(timer);
      histogram.disable();
      dog?.close();
    },
  };
}

function secs(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${Number((ms / 1000).toFixed(2))} s`;
}

interface Watchdog {
  status: NonNullable<OsMonitorStatus['watchdog']>;
  pet(): void;
  close(): void;
}

/**
 * Opened write-only and non-blocking (a FIFO without a reader fails at once with ENXIO rather than
 * blocking the service; it is opened again at the next interval), never created: a missing
 * /dev/watchdog must not become a plain file. Writes are synchronous on purpose: they come from
 * the event loop, so they stop when it stops. Problems are logged when they change, not each time.
 */
function openWatchdog(file: string, logs: Pick<Logs, 'write' | 'alert'>): Watchdog {
  const status = { path: file, open: false, writes: 0, lastError: null as string | null };
  let fd: number | null = null;
  const flags = fs.constants.O_WRONLY | (fs.constants.O_NONBLOCK ?? 0) | (fs.constants.O_NOCTTY ?? 0);

  const problem = (what: string, e: unknown) => {
    const msg = `${what}: ${(e as Error).message}`;
    if (status.lastError !== msg) logs.alert('ERR', { src: 'armsd', event: 'watchdog', monitor: 'os', watchdog: file }, `watchdog ${file}: ${msg}`);
    status.lastError = msg;
  };
  const closeFd = () => {
    if (fd === null) return;
    try {
      fs.closeSync(fd);
    } catch {
      // nothing more to do
    }
    fd = null;
    status.open = false;
  };
  const open = (): boolean => {
    if (fd !== null) return true;
    try {
      fd = fs.openSync(file, flags);
      status.open = true;
      logs.write('INFO', { src: 'armsd', monitor: 'os', watchdog: file }, `watchdog ${file} open${status.lastError ? ' (again)' : ''}: written every interval`);
      status.lastError = null;
      return true;
    } catch (e) {
      problem('cannot open it', e);
      return false;
    }
  };
  const write = (data: string) => {
    if (!open()) return;
    try {
      fs.writeSync(fd!, data);
      status.writes++;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EAGAIN') return; // a FIFO nobody reads fast enough
      problem('cannot write to it', e);
      closeFd();
    }
  };
  write('\n');
  return {
    status,
    pet: () => write('\n'),
    close() {
      if (fd !== null) {
        try {
          fs.writeSync(fd, 'V'); // the magic close: the driver disarms
        } catch {
          // it will fire; nothing else to do at a stop
        }
      }
      closeFd();
    },
  };
}
