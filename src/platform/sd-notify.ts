// systemd's notification protocol for armsd (Linux, under a Type=notify unit): READY=1 once the
// pipe answers, WATCHDOG=1 from the event loop at half of WatchdogSec, STATUS= lines, STOPPING=1.
//
// Node cannot send a Unix datagram, so a small native helper (sd-notify.c, one process, ~1 MB)
// sends each line armsd writes to it. The helper never pings on its own: a hung armsd sends
// nothing, so systemd's watchdog fires. Its sender PID is not armsd's: the unit says
// NotifyAccess=all, and armsd removes NOTIFY_SOCKET from the environment its scripts and watched
// programs inherit, so none of them speaks for the unit by mistake.
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

export const NOTIFY_HELPER = path.join(__dirname, 'arms-sd-notify');

export interface Notifier {
  /** the pipe answers */
  ready(status: string): void;
  status(text: string): void;
  stopping(status: string): void;
  /** the watchdog interval in ms (0: none) */
  watchdogMs: number;
  close(): void;
}

/**
 * Reads and removes NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID from `env` (the service's own
 * environment, which its children inherit). Returns null when systemd did not ask to be told.
 */
export function openNotifier(env: NodeJS.ProcessEnv, problem: (line: string) => void): Notifier | null {
  const socket = env.NOTIFY_SOCKET;
  const usec = Number(env.WATCHDOG_USEC);
  const forPid = env.WATCHDOG_PID ? Number(env.WATCHDOG_PID) : process.pid;
  delete env.NOTIFY_SOCKET;
  delete env.WATCHDOG_USEC;
  delete env.WATCHDOG_PID;
  if (!socket) return null;
  if (process.platform !== 'linux') {
    problem(`NOTIFY_SOCKET is set, but systemd notifications are sent on Linux only`);
    return null;
  }
  if (!fs.existsSync(NOTIFY_HELPER)) {
    problem(`NOTIFY_SOCKET is set, but the sd_notify helper ${NOTIFY_HELPER} is not built (no C compiler at install): systemd will not hear READY=1 (arms service install writes a Type=exec unit then)`);
    return null;
  }

  let helper: ChildProcess | null = null;
  let lastSpawn = 0;
  let closed = false;
  const start = () => {
    lastSpawn = Date.now();
    const child = spawn(NOTIFY_HELPER, [], { env: { NOTIFY_SOCKET: socket }, stdio: ['pipe', 'ignore', 'pipe'] });
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (d: string) => d.split('\n').filter(Boolean).forEach((l) => problem(l)));
    child.stdin!.on('error', () => undefined); // EPIPE when it died: the exit handler says so
    child.on('error', (e) => problem(`the sd_notify helper did not start: ${e.message}`));
    child.on('exit', (code, signal) => {
      if (helper === child) helper = null;
      if (!closed) problem(`the sd_notify helper ended (${signal ?? `exit code ${code}`}); started again with the next message`);
    });
    child.unref();
    (child.stdin as unknown as { unref?: () => void }).unref?.();
    (child.stderr as unknown as { unref?: () => void }).unref?.();
    helper = child;
  };
  const send = (line: string) => {
    if (closed) return;
    // A helper that keeps dying is not started more than once a second.
    if (!helper && Date.now() - lastSpawn > 1000) start();
    helper?.stdin?.write(line.replace(/[\r\n]+/g, ' ') + '\n');
  };

  // WATCHDOG_PID names the process systemd expects pings from; another one (a child that inherited
  // the variable) must not ping.
  const watchdogMs = Number.isFinite(usec) && usec > 0 && forPid === process.pid ? Math.max(1, Math.floor(usec / 2000)) : 0;
  let timer: NodeJS.Timeout | null = null;
  if (watchdogMs > 0) {
    timer = setInterval(() => send('WATCHDOG=1'), watchdogMs);
    timer.unref();
  }
  start();
  return {
    ready: (status) => {
      send('READY=1');
      send(`STATUS=${status}`);
    },
    status: (text) => send(`STATUS=${text}`),
    stopping: (status) => {
      send('STOPPING=1');
      send(`STATUS=${status}`);
    },
    watchdogMs,
    close() {
      if (timer) clearInterval(timer);
      closed = true;
      helper?.stdin?.end();
    },
  };
}
