// armsd: the control service, in the foreground. Takes the home's lock, reads its persisted state,
// opens the logs, listens on the pipe, runs RECOVER hooks after an abnormal end, then autostarts;
// stops cleanly on SIGTERM/SIGINT (Ctrl-C) or a `stop` request, stopping every group.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { resolveHome } from '../platform/home';
import { COMMANDS_DIR } from '../platform/shims';
import { VERSION } from '../version';
import { dropBatchSpare, keepBatchSpare } from './batch-spare';
import { Config, ConfigInvalid, loadConfig } from './config';
import { Groups, openGroups } from './groups';
import { acquireLock, Lock, LockHeld } from './lock';
import { Logs, openLogs } from './log';
import { openMonitors } from './monitors';
import { startOsMonitor } from './os-monitor';
import { makeDispatcher, ServiceInfo } from './ops/index';
import { listenPipe, PipeBusy, PipeServer } from './pipe';
import { openPower } from './power';
import { openState } from './state';
import { openWatches } from './watches';
import type { Cluster } from '../cluster/cluster';

const USAGE = `usage: armsd

Runs the ARMS control service in the foreground (for systemd, a Windows service wrapper, or a
terminal). Its home is ARMS_HOME, or the OS default. "arms service start" runs it in the background.`;

/** exit codes of armsd itself */
const EXIT = { ok: 0, failed: 1, usage: 2, config: 2, busy: 5 };

/** Some group's script is a batch file and warmBatch is on: the service keeps an interpreter waiting for it (batch-spare.ts). */
function usesBatch(config: Config): boolean {
  return config.warmBatch && config.groups.some((g) => [g.start, g.stop].some((f) => /\.(bat|cmd)$/i.test(f)));
}

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
  let config: Config;
  try {
    config = loadConfig(home.config);
  } catch (e) {
    if (e instanceof ConfigInvalid) {
      const n = e.problems.length;
      die(EXIT.config, `${n} mistake${n === 1 ? '' : 's'} in the config; not starting\n${e.message}`);
    }
    throw e;
  }
  /** the config in force: groups, services and power follow a reload; server and logs a restart */
  let current = config;
  for (const dir of [home.state, home.log]) fs.mkdirSync(dir, { recursive: true, mode: 0o750 });

  let lock: Lock;
  try {
    lock = acquireLock(path.join(home.state, 'armsd.lock'));
  } catch (e) {
    if (e instanceof LockHeld) die(EXIT.busy, `${e.message} (${home.root}); not starting a second one`);
    throw e;
  }
  keepBatchSpare(usesBatch(config));

  const logs: Logs = openLogs({
    dir: home.log,
    server: config.server,
    cluster: config.log.cluster,
    alert: config.log.alert,
    syslogSocket: typeof config.syslog === 'string' ? config.syslog : undefined,
    systemLog: config.syslog !== false,
  });
  const info: ServiceInfo = { server: config.server, pid: process.pid, version: VERSION, home: home.root, pipe: home.pipe, startedAt: new Date().toISOString() };

  const state = openState(home.state);
  const abnormalEnd = state.previous !== null && !state.previous.cleanStop;
  if (state.recoveredFrom === 'previous') logs.alert('WARN', { src: 'armsd' }, 'the state file was unreadable: using its previous good copy');
  const save = (what: string) => {
    try {
      state.save();
    } catch (e) {
      logs.alert('ERR', { src: 'armsd' }, `cannot save the state (${what}): ${(e as Error).message}; the last saved state stays on disk`);
    }
  };
  state.data.cleanStop = false;
  save('service start');
  // Changes come in bursts (a group start, a crash loop): one write per turn of the event loop,
  // written and fsynced in the background (at most one at a time, the next one coalesced), so that
  // the event loop does not wait for the disk.
  let saveScheduled = false;
  /** Resolves once the groups and watches as they are now are on disk (a failure is alerted). */
  const persist = () => {
    state.data.groups = groups.saved();
    state.data.watches = watches.saved();
    return state.saveSoon().catch((e: Error) =>
      logs.alert('ERR', { src: 'armsd' }, `cannot save the state (groups and watches): ${e.message}; the last saved state stays on disk`),
    );
  };
  const changed = () => {
    if (saveScheduled) return;
    saveScheduled = true;
    setImmediate(() => {
      saveScheduled = false;
      void persist();
    });
  };

  const timeScale = Number(process.env.ARMS_TIME_SCALE) > 0 ? Number(process.env.ARMS_TIME_SCALE) : 1;
  let groups: Groups;
  const groupConfig = (name: string) => current.groups.find((g) => g.name.toUpperCase() === name.toUpperCase());
  // Several servers: the cluster decides where groups run (src/cluster/); loaded only when configured.
  let cluster: Cluster | null = null;
  const power = openPower({
    state,
    logs,
    groups: () => groups,
    commands: () => current.power,
    maxReboots: () => current.maxReboots,
    stopGroups: () => (cluster ? cluster.handOffAll('SERVERSHUTDOWN') : groups.stopAll('SERVERSHUTDOWN')),
  });
  const monitors = openMonitors();
  const osMonitor = startOsMonitor(config.osMonitor, logs, { monitors });
  const watches = openWatches({
    logs,
    logDir: path.join(home.log, 'watches'),
    rotation: config.log.watch,
    clock: { now: () => Date.now() },
    escalate(action, watch, cause) {
      if (action === 'failover') {
        if (watch.group && groupConfig(watch.group) && cluster) void cluster.request(watch.group, 'failover', { wait: false, cause });
        else if (watch.group && groupConfig(watch.group)) groups.failover(watch.group, { force: false, cause }).queued.catch(() => undefined);
        else logs.alert('ERR', { src: 'armsd', watch: watch.id }, `watch ${watch.id} belongs to no configured group: there is nothing to fail over (${cause})`);
      } else {
        const finalAction = (watch.group && groupConfig(watch.group)?.finalAction) || 'shutdown';
        void power.down(finalAction, { stopGroups: true, cause, byMonitoring: true });
      }
    },
    rerunGroup(group) {
      groups.rerun(group, 'RESOURCERESTART').queued.catch(() => undefined);
    },
    serviceDef: (name) => current.services[name.toUpperCase()],
    ended: (id) => monitors.forget(id),
    changed,
  });
  const failoverHistory = {
    get: (group: string) => state.data.failovers[group.toUpperCase()] ?? [],
    set(group: string, times: number[]) {
      state.data.failovers[group.toUpperCase()] = times;
      save(`failovers of ${group}`);
    },
  };
  groups = openGroups(config.groups, {
    server: config.server,
    pipe: home.pipe,
    commandsDir: COMMANDS_DIR,
    logs,
    env: process.env,
    stopLeftovers: (group, timeoutMs) => watches.stopGroup(group, timeoutMs),
    changed,
    failoverHistory,
  });
  const values = {
    get: (name: string) => state.data.values[name],
    set(name: string, value: number) {
      state.data.values[name] = value;
      save('ARMSETCD');
    },
  };

  let pipe: PipeServer | null = null;
  let stopping = false;
  const stop = async (reason: string, code = EXIT.ok) => {
    if (stopping) return;
    stopping = true;
    logs.write('INFO', { src: 'armsd', pid: process.pid }, `armsd stopping: ${reason}`);
    // The pipe stays open meanwhile: the stop scripts talk to us through it.
    const stopped = cluster ? await cluster.handOffAll('SERVERSHUTDOWN') : await groups.stopAll('SERVERSHUTDOWN');
    await cluster?.close();
    const failed = stopped.filter((o) => !o.ok);
    if (failed.length > 0) logs.alert('ERR', { src: 'armsd' }, `${failed.length} group(s) did not stop cleanly: ${failed.map((o) => o.message).join('; ')}`);
    await watches.stopAll(10_000);
    watches.close();
    if (pipe) await pipe.close();
    state.data.cleanStop = true;
    state.data.groups = groups.saved();
    state.data.watches = watches.saved();
    save('clean stop');
    osMonitor.stop();
    dropBatchSpare();
    logs.write('INFO', { src: 'armsd', pid: process.pid }, 'armsd stopped');
    await logs.close();
    lock.release();
    say(`stopped (${reason})`);
    process.exit(code);
  };

  /** A new config takes effect for the groups at once; a broken one changes nothing. */
  const reload = (): string => {
    const next = loadConfig(home.config);
    groups.reconfigure(next.groups);
    current = next;
    void cluster?.republish();
    keepBatchSpare(usesBatch(next));
    const later = (['server', 'syslog', 'log', 'osMonitor', 'cluster', 'servers'] as const).filter((k) => JSON.stringify(next[k]) !== JSON.stringify(config[k]));
    const said = `config reloaded: ${next.groups.length} group(s)${later.length ? `; ${later.join(', ')} take effect when the service restarts` : ''}`;
    logs.write('INFO', { src: 'armsd' }, said);
    return said;
  };

  const clusterOps = () => (require('../cluster/ops') as typeof import('../cluster/ops')).clusterOps(() => cluster, groups, { stopping: () => stopping });
  try {
    pipe = await listenPipe(
      home.pipe,
      makeDispatcher({
        info,
        logs,
        groups,
        watches,
        values,
        monitors,
        power,
        groupConfig,
        timeScale,
        persist,
        stop: (r) => setImmediate(() => void stop(r)),
        stopping: () => stopping,
        reload: async () => reload(),
        cluster: config.cluster ? { status: async () => cluster?.status() ?? { state: 'starting' }, ops: clusterOps() } : undefined,
      }),
      { ...config.pipe, maxInFlight: 256 },
    );
  } catch (e) {
    lock.release();
    if (e instanceof PipeBusy) die(EXIT.busy, e.message);
    die(EXIT.failed, `cannot listen on ${home.pipe}: ${(e as Error).message}`);
  }

  for (const sig of ['SIGTERM', 'SIGINT', ...(process.platform === 'win32' ? ['SIGBREAK'] : [])] as NodeJS.Signals[]) {
    process.on(sig, () => void stop(`signal ${sig}`));
  }
  process.on('SIGHUP', () => {
    try {
      reload();
    } catch (e) {
      logs.alert('ERR', { src: 'armsd' }, `SIGHUP: the config was not reloaded (keeping the current one): ${(e as Error).message.split('\n').join('; ')}`);
    }
  });
  process.on('uncaughtException', (err) => {
    logs.write('ERR', { src: 'armsd', pid: process.pid }, `internal error: ${err.stack ?? err.message}`);
    process.stderr.write(`armsd: internal error: ${err.stack ?? err.message}\n`);
    void stop('internal error', EXIT.failed);
  });

  logs.write('INFO', { src: 'armsd', pid: process.pid, pipe: home.pipe, version: VERSION }, `armsd started on ${config.server}`);
  say(`listening on ${home.pipe} (server ${config.server}, home ${home.root}, pid ${process.pid})`);
  if (config.cluster) {
    // Where groups run is the cluster's to say: after a crash nothing local is taken back (another
    // server may have the group by now); what still runs of this server's watches is stopped.
    if (abnormalEnd && state.previous) {
      watches.adopt(state.previous.watches);
      await watches.stopAll(5000);
      await watches.sweep(5000);
      logs.alert('WARN', { src: 'armsd' }, 'the service did not stop cleanly last time: its watches are stopped; every group\'s start script runs with RECOVER once the server is in the cluster');
    }
    const { openCluster } = require('../cluster/cluster') as typeof import('../cluster/cluster');
    const { definitions, hashOf } = require('../cluster/definitions') as typeof import('../cluster/definitions');
    cluster = openCluster({
      config: config.cluster,
      servers: config.servers,
      server: config.server,
      groups,
      groupConfigs: () => current.groups,
      definitions: () => {
        const defs = definitions(current.groups, home.config);
        return { hash: hashOf(defs), groups: defs };
      },
      logs,
      version: VERSION,
      recover: abnormalEnd,
      failoverHistory,
    });
    return;
  }
  if (abnormalEnd && state.previous) {
    // Groups and watches carry on where the crashed service left them: nothing is started twice.
    groups.restore(state.previous.groups);
    const { adopted, gone } = watches.adopt(state.previous.watches);
    const strays = await watches.sweep(5000);
    logs.alert('WARN', { src: 'armsd' }, `the service did not stop cleanly last time: ${adopted.length} watch(es) taken back, ${gone.length} ended meanwhile${strays.length ? `, ${strays.length} program(s) it had not written down stopped` : ''}; running every group's start script with RECOVER`);
    await Promise.all(config.groups.map((g) => groups.recover(g.name).queued));
  }
  void groups.autostart();
}

main().catch((e) => die(EXIT.failed, (e as Error).message));
