// The operating system's own log, where alerts also go: syslog through `logger` on POSIX, the
// Application event log through ReportEvent on Windows (the native host, `arms-host event`: the
// source is the tag, registered by `arms service install`; eventcreate allows IDs up to 1000 and
// only sources of its own). Best effort: a missing tool is reported
// once, and a flood of alerts cannot start more than a few helper processes at a time.
import { spawn } from 'node:child_process';

export type AlertLevel = 'INFO' | 'WARN' | 'ERR';

export interface SystemLog {
  send(level: AlertLevel, text: string): void;
  /** resolves when every alert handed over so far has been delivered or given up */
  idle(): Promise<void>;
}

const MAX_RUNNING = 4;
const MAX_QUEUED = 200;
const MAX_TEXT = 1000;

export function openSystemLog(opts: { tag: string; socket?: string; onProblem(message: string): void }): SystemLog {
  const queue: string[][] = [];
  let running = 0;
  let reported = false;
  let dropped = 0;
  let idleWaiters: Array<() => void> = [];

  const argvFor = (level: AlertLevel, text: string): string[] => {
    const oneLine = text.replace(/[\r\n]+/g, ' ').slice(0, MAX_TEXT);
    if (process.platform === 'win32') {
      const { HOST } = require('./win-process') as typeof import('./win-process');
      return [HOST, 'event', opts.tag, level, oneLine];
    }
    const prio = level === 'ERR' ? 'user.err' : level === 'WARN' ? 'user.warning' : 'user.info';
    const socket = opts.socket ? ['-u', opts.socket] : [];
    return ['logger', ...socket, '-t', opts.tag, '-p', prio, '--', oneLine];
  };

  const pump = () => {
    while (running < MAX_RUNNING && queue.length > 0) {
      const [cmd, ...args] = queue.shift()!;
      running++;
      let err = '';
      const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], windowsHide: true });
      child.stderr.on('data', (d: Buffer) => {
        if (err.length < 500) err += d.toString();
      });
      const done = (problem: string | null) => {
        running--;
        if (problem && !reported) {
          reported = true;
          opts.onProblem(`alerts are not reaching the system log: ${problem}`);
        }
        pump();
      };
      child.on('error', (e) => done(`${cmd}: ${e.message}`));
      child.on('close', (code) => done(code === 0 ? null : `${cmd} exited ${code}: ${err.trim().split('\n')[0] ?? ''}`));
    }
    if (running === 0 && queue.length === 0) {
      const w = idleWaiters;
      idleWaiters = [];
      for (const f of w) f();
    }
  };

  return {
    send(level, text) {
      if (queue.length >= MAX_QUEUED) {
        if (dropped++ === 0) opts.onProblem(`more than ${MAX_QUEUED} alerts waiting for the system log; dropping the excess there (the alert log keeps them all)`);
        return;
      }
      queue.push(argvFor(level, text));
      pump();
    },
    idle() {
      if (running === 0 && queue.length === 0) return Promise.resolve();
      return new Promise((resolve) => idleWaiters.push(resolve));
    },
  };
}
