// armsd: the control service, in the foreground. Takes the home's lock, opens the logs, listens on
// the pipe; stops cleanly on SIGTERM/SIGINT (Ctrl-C) or a `stop` request.
import * as fs from 'node:fs';
import { resolveHome } from '../platform/home';
import { ConfigInvalid, loadConfig } from './config';
import { acquireLock, Lock, LockHeld } from './lock';
import { Logs, openLogs } from './log';
import { makeDispatcher, ServiceInfo } from './ops';
import { listenPipe, PipeBusy, PipeServer } from './pipe';
import { VERSION } from '../version';

const USAGE = `usage: armsd

Runs the ARMS control service in the foreground (for systemd, a Windows service wrapper, or a
terminal). Its home is ARMS_HOME, or the OS default. "arms service start" runs it in the background.`;

/** exit codes of armsd itself */
const EXIT = { ok: 0, failed: 1, usage: 2, config: 2, busy: 5 };

function say(line: string): void {
  process.stdout.write(`armsd: ${line}\n`);
}

function die(code: number, line: string): never {
  process.stderr.write(`armsd: ${line}\n`);
  process.exit(code);
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv.some((a) => ['-h', '--help', '/?'].includes(a))) {
    say(USAGE.slice('usage: '.length));
    return;
  }
  if (argv.length > 0) die(EXIT.usage, `unexpected argument "${argv[0]}" (try --help)`);

  const home = resolveHome();
  let config;
  try {
    config = loadConfig(home.config);
  } catch (e) {
    if (e instanceof ConfigInvalid) {
      const n = e.problems.length;
      die(EXIT.config, `${n} mistake${n === 1 ? '' : 's'} in the config; not starting\n${e.message}`);
    }
    throw e;
  }
  for (const dir of [home.state, home.log]) fs.mkdirSync(dir, { recursive: true, mode: 0o750 });

  let lock: Lock;
  try {
    lock = acquireLock(`${home.state}/armsd.lock`);
  } catch (e) {
    if (e instanceof LockHeld) die(EXIT.busy, `${e.message} (${home.root}); not starting a second one`);
    throw e;
  }

  const logs: Logs = openLogs({
    dir: home.log,
    server: config.server,
    cluster: config.log.cluster,
    alert: config.log.alert,
    syslogSocket: typeof config.syslog === 'string' ? config.syslog : undefined,
    systemLog: config.syslog !== false,
  });
  const info: ServiceInfo = {
    server: config.server,
    pid: process.pid,
    version: VERSION,
    home: home.root,
    pipe: home.pipe,
    startedAt: new Date().toISOString(),
  };

  let pipe: PipeServer | null = null;
  let stopping = false;
  const stop = async (reason: string, code = EXIT.ok) => {
    if (stopping) return;
    stopping = true;
    logs.write('INFO', { src: 'armsd', pid: process.pid }, `armsd stopping: ${reason}`);
    if (pipe) await pipe.close();
    logs.write('INFO', { src: 'armsd', pid: process.pid }, 'armsd stopped');
    await logs.close();
    lock.release();
    say(`stopped (${reason})`);
    process.exit(code);
  };

  try {
    pipe = await listenPipe(home.pipe, makeDispatcher({ info, logs, stop: (r) => setImmediate(() => void stop(r)) }));
  } catch (e) {
    lock.release();
    if (e instanceof PipeBusy) die(EXIT.busy, e.message);
    die(EXIT.failed, `cannot listen on ${home.pipe}: ${(e as Error).message}`);
  }

  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP', ...(process.platform === 'win32' ? ['SIGBREAK'] : [])] as NodeJS.Signals[]) {
    process.on(sig, () => void stop(`signal ${sig}`));
  }
  process.on('uncaughtException', (err) => {
    logs.write('ERR', { src: 'armsd', pid: process.pid }, `internal error: ${err.stack ?? err.message}`);
    process.stderr.write(`armsd: internal error: ${err.stack ?? err.message}\n`);
    void stop('internal error', EXIT.failed);
  });

  logs.write('INFO', { src: 'armsd', pid: process.pid, pipe: home.pipe, version: VERSION }, `armsd started on ${config.server}`);
  say(`listening on ${home.pipe} (server ${config.server}, home ${home.root}, pid ${process.pid})`);
}

main().catch((e) => die(EXIT.failed, (e as Error).message));
