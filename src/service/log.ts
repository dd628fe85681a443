// The service's two logs: the cluster log (everything) and the alert log (what operators must
// see). JSON lines written by pino into size-rotated files; alerts also go to the system log.
import * as path from 'node:path';
import pino from 'pino';
import { AlertLevel, openSystemLog, SystemLog } from '../platform/system-log';
import { openRotatingFile, RotatingFile, RotationPolicy } from './rotating-file';

export type Level = AlertLevel;

/** What a log line says besides its message: who and where. */
export interface Fields {
  /** what produced the line: ARMLOG, armsd, a script, a watch */
  src: string;
  group?: string;
  pid?: number;
  ppid?: number;
  [key: string]: unknown;
}

export interface Logs {
  write(level: Level, fields: Fields, msg: string): void;
  /** the cluster log and the alert log, and the system log */
  alert(level: Level, fields: Fields, msg: string): void;
  /** resolves when every line so far is in the files */
  flushed(): Promise<void>;
  close(): Promise<void>;
  files: { cluster: string; alert: string };
}

export interface LogOptions {
  dir: string;
  server: string;
  cluster: RotationPolicy;
  alert: RotationPolicy;
  /** alerts also go to syslog / the Application event log */
  systemLog: boolean;
  /** POSIX: the syslog socket `logger` writes to (default: the system's) */
  syslogSocket?: string;
  /** every alert line, after it is logged (the alert routes: alerts/index.ts) */
  onAlert?(level: Level, fields: Fields, msg: string): void;
}

const PINO_LEVEL = { INFO: 'info', WARN: 'warn', ERR: 'error' } as const;

export function openLogs(opts: LogOptions): Logs {
  const files = { cluster: path.join(opts.dir, 'cluster.log'), alert: path.join(opts.dir, 'alert.log') };
  const report = (err: Error) => process.stderr.write(`armsd: cannot write the log: ${err.message}\n`);
  const clusterFile = openRotatingFile(files.cluster, opts.cluster, report);
  const alertFile = openRotatingFile(files.alert, opts.alert, report);
  const loggerFor = (file: RotatingFile) =>
    pino(
      {
        base: { server: opts.server },
        timestamp: pino.stdTimeFunctions.isoTime,
        level: 'info',
      },
      { write: (s: string) => file.write(s) },
    );
  const cluster = loggerFor(clusterFile);
  const alerts = loggerFor(alertFile);
  let systemLog: SystemLog | null = null;

  const logs: Logs = {
    write(level, fields, msg) {
      cluster[PINO_LEVEL[level]](fields, msg);
    },
    alert(level, fields, msg) {
      cluster[PINO_LEVEL[level]]({ ...fields, alert: true }, msg);
      alerts[PINO_LEVEL[level]](fields, msg);
      systemLog?.send(level, fields.group ? `[${fields.group}] ${msg}` : msg);
      opts.onAlert?.(level, fields, msg);
    },
    async flushed() {
      await Promise.all([clusterFile.flushed(), alertFile.flushed()]);
    },
    async close() {
      // A hung `logger` must not hold the service's stop.
      if (systemLog) await Promise.race([systemLog.idle(), new Promise((r) => setTimeout(r, 2000))]);
      clusterFile.close();
      alertFile.close();
    },
    files,
  };
  if (opts.systemLog) systemLog = openSystemLog({
    tag: 'arms',
    socket: opts.syslogSocket,
    onProblem: (m) => logs.write('WARN', { src: 'armsd' }, m),
  });
  return logs;
}
