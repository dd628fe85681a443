// armsd: the control service, in the foreground. Takes the home's lock, reads its persisted state,
// opens the logs, listens on the pipe, runs RECOVER hooks after an abnormal end, then autostarts;
// stops cleanly on SIGTERM/SIGINT (Ctrl-C) or a `stop` request, stopping every group.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { resolveHome } from '../platform/home';
import { openNotifier } from '../platform/sd-notify';
import { sharedSpawner } from '../platform/spawner';
import { ensureCommandsDir } from '../platform/shims';
import { VERSION } from '../version';
import { dropBatchSpare, keepBatchSpare } from './batch-spare';
import { Config, ConfigInvalid, loadConfig, pacingFor } from './config';
import { Groups, openGroups } from './groups';
import { acquireLock, Lock, LockHeld } from './lock';
import { Logs, openLogs } from './log';
import { Monitoring, openMonitoring } from './monitoring';
import { startOsMonitor } from './os-monitor';
import { makeDispatcher, ServiceInfo } from './ops/index';
import type { HttpService } from '../http/server';
import { listenPipe, PipeBusy, PipeServer } from './pipe';
import { openPower } from './power';
import { groupRecord, openState, watchRecord } from './state';
import { openWatches, Watches } from './watches';
import type { Cluster } from '../cluster/cluster';

const USAGE = `usage: armsd [--home DIR] [--server NAME]

Runs the ARMS control service in the foreground (for systemd, a Windows service wrapper, or a
terminal). Its home is --home, else ARMS_HOME, else the OS default; --server pins this server's
name (arms.yaml's server: must then agree). "arms service start" runs it in the background;
"arms service install" writes a systemd unit that runs it at boot.`;

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

/** --home DIR (as ARMS_HOME) and --server NAME: what the systemd unit passes. */
function readArgs(argv: string[]): { server?: string } {
  let server: string | undefined;
  for (let i = 0; i < argv.length; i += 2) {
    const [opt, value] = [argv[i], argv[i + 1]];
    if (opt !== '--home' && opt !== '--server') die(EXIT.usage, `unexpected argument "${opt}" (try --help)`);
    if (!value) die(EXIT.usage, `${opt} needs a value`);
    if (opt === '--server') server = value;
    // The OS default home named by its folder stays the default home (state, logs, pipe where the OS keeps them).
    else if (path.resolve(value) === resolveHome({ ...process.env, ARMS_HOME: '' }).root) delete process.env.ARMS_HOME;
    else process.env.ARMS_HOME = path.resolve(value);
  }
  return { server };
}

async function main(): Promise<void> {
  // Our own output is a courtesy: a full disk under armsd.out must not stop the service.
  for (const s of [process.stdout, process.stderr]) s.on('error', () => undefined);
  const argv = process.argv.slice(2);
  if (argv.some((a) => ['-h', '--help', '/?'].includes(a))) {
    say(USAGE.slice('usage: '.length));
    return;
  }
  const { server } = readArgs(argv);

  // First: the scripts and programs started from here must not inherit NOTIFY_SOCKET.
  let report = (line: string): void => void process.stderr.write(`armsd: ${line}\n`);
  const notifier = openNotifier(process.env, (line) => report(line));
  const home = resolveHome(process.env, { forService: true });
  let config: Config;
  try {
    config = loadConfig(home.config, { server });
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

  let monitoring: Monitoring | null = null;
  const logs: Logs = openLogs({
    dir: home.log,
    server: config.server,
    cluster: config.log.cluster,
    alert: config.log.alert,
    syslogSocket: typeof config.syslog === 'string' ? config.syslog : undefined,
    systemLog: config.syslog !== false,
    onAlert: (level, fields, msg) => monitoring?.alerts.fromLog(level, fields, msg),
  });
  report = (line) => logs.alert('WARN', { src: 'armsd' }, `systemd: ${line}`);
  const info: ServiceInfo = { server: config.server, pid: process.pid, version: VERSION, home: home.root, pipe: home.pipe, startedAt: new Date().toISOString() };

  let commands: { dir: string; written: boolean };
  try {
    commands = ensureCommandsDir(path.join(home.state, 'path'));
  } catch (e) {
    die(EXIT.failed, `${(e as Error).message}: the group scripts could not find ARMLOG and the other commands; not starting`);
  }
  if (commands.written) logs.write('INFO', { src: 'armsd', commandsDir: commands.dir }, `wrote the commands folder ${commands.dir} (the scripts find ARMLOG and the other commands there)`);

  // The groups and watches own their state; they say which of theirs changed, and the state asks
  // them for those records alone before a write.
  let owners: { groups: Groups; watches: Watches } | null = null;
  const state = openState(home.state, {
    owners: () =>
      owners && {
        watch: (key) => owners!.watches.savedOne(key),
        group: (key) => owners!.groups.savedOne(key),
        watchKeys: () => owners!.watches.keys(),
        groupKeys: () => owners!.groups.keys(),
      },
    onError: (e) => logs.alert('ERR', { src: 'armsd', event: 'state-save-failed' }, `cannot save the state (groups and watches): ${e.message}; the last saved state stays on disk, and answers that need a save are refused until one succeeds`),
  });
  const { recovery } = state;
  if (recovery.from === 'previous') logs.alert('WARN', { src: 'armsd', event: 'state-recovered' }, `the state file was unreadable (${recovery.refused.join('; ')}): using its previous good copy`);
  if (recovery.lost) {
    logs.alert('ERR', { src: 'armsd', event: 'state-lost' }, `both copies of the state are unreadable (${recovery.refused.join('; ')}; kept as *.damaged): starting without the previous state; programs still running from before are taken back, groups start as offline`);
  }
  if (recovery.skipped) {
    const s = recovery.skipped;
    logs.alert(
      'WARN',
      { src: 'armsd' },
      s.torn
        ? `the state journal ended in ${s.lines} unreadable line(s) (${s.bytes} bytes from byte ${s.offset}: a write cut short by a crash, never acknowledged): skipped; everything else was read`
        : `the state journal had ${s.lines} unreadable line(s) or record(s) (${s.reasons.join('; ')}${s.lines > s.reasons.length ? '; …' : ''}; the file kept as state.journal.damaged): skipped, each key's earlier good record kept where there is one; programs it does not name are taken back, not stopped`,
    );
  }
  // The current copy refused: whether the last service stopped cleanly is unknown, so its
  // programs are looked for.
  const abnormalEnd = (state.previous !== null && !state.previous.cleanStop) || recovery.lost || recovery.from === 'previous';
  const save = (what: string) => {
    try {
      state.save();
    } catch (e) {
      logs.alert('ERR', { src: 'armsd', event: 'state-save-failed' }, `cannot save the state (${what}): ${(e as Error).message}; the last saved state stays on disk`);
    }
  };
  state.data.cleanStop = false;
  save('service start');
  /** Resolves once every change so far is on disk; rejects with the disk's reason. */
  const commit = () => state.commit();
  let http: HttpService | null = null;
  /** `record`: the watch's or group's record that changed (watchRecord/groupRecord); none: state.data */
  const changed = (record?: string) => {
    http?.changed();
    state.changed(record);
  };

  const timeScale = Number(process.env.ARMS_TIME_SCALE) > 0 ? Number(process.env.ARMS_TIME_SCALE) : 1;
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
  monitoring = openMonitoring({
    config,
    logs,
    suspended: state.data.suspendedMonitors,
    saveSuspended(names) {
      state.data.suspendedMonitors = names;
      save('monitor suspension');
    },
    groups: () => groups,
    watches: () => watches,
    power,
    env: process.env,
    pipe: home.pipe,
    commandsDir: commands.dir,
  });
  const { monitors } = monitoring;
  const osMonitor = startOsMonitor(config.osMonitor, logs, { monitors });
  let groups: Groups;
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
    changed: (key) => changed(watchRecord(key)),
  });
  const failoverHistory = {
    get: (group: string) => state.data.failovers[group.toUpperCase()] ?? [],
    set(group: string, times: number[]) {
      state.data.failovers[group.toUpperCase()] = times;
      changed();
    },
  };
  groups = openGroups(config.groups, {
    server: config.server,
    pipe: home.pipe,
    commandsDir: commands.dir,
    logs,
    env: process.env,
    stopLeftovers: (group, timeoutMs) => watches.stopGroup(group, timeoutMs),
    changed: (key) => changed(groupRecord(key)),
    failoverHistory,
  });
  monitoring.start();
  const values = {
    get: (name: string) => state.data.values[name],
    set(name: string, value: number) {
      const had = Object.prototype.hasOwnProperty.call(state.data.values, name);
      const was = state.data.values[name];
      state.data.values[name] = value;
      changed();
      return () => {
        if (had) state.data.values[name] = was;
        else delete state.data.values[name];
      };
    },
  };
  owners = { groups, watches };

  let pipe: PipeServer | null = null;
  let stopping = false;
  const stop = async (reason: string, code = EXIT.ok) => {
    if (stopping) return;
    stopping = true;
    logs.write('INFO', { src: 'armsd', pid: process.pid }, `armsd stopping: ${reason}`);
    notifier?.stopping(`stopping: ${reason}`);
    // The pipe stays open meanwhile: the stop scripts talk to us through it.
    const stopped = cluster ? await cluster.handOffAll('SERVERSHUTDOWN') : await groups.stopAll('SERVERSHUTDOWN');
    await cluster?.close();
    const failed = stopped.filter((o) => !o.ok);
    if (failed.length > 0) logs.alert('ERR', { src: 'armsd' }, `${failed.length} group(s) did not stop cleanly: ${failed.map((o) => o.message).join('; ')}`);
    await watches.stopAll(10_000);
    watches.close();
    if (http) await http.close();
    if (pipe) await pipe.close();
    state.data.cleanStop = true;
    save('clean stop');
    osMonitor.stop();
    monitoring?.stop();
    dropBatchSpare();
    logs.write('INFO', { src: 'armsd', pid: process.pid }, 'armsd stopped');
    notifier?.close();
    await logs.close();
    lock.release();
    say(`stopped (${reason})`);
    process.exit(code);
  };

  /** A new config takes effect for the groups at once; a broken one changes nothing. */
  const reload = (): string => {
    const next = loadConfig(home.config, { server });
    groups.reconfigure(next.groups);
    current = next;
    monitoring?.configure(next);
    void cluster?.republish();
    keepBatchSpare(usesBatch(next));
    const later = (['server', 'syslog', 'log', 'osMonitor', 'http', 'cluster', 'servers'] as const).filter((k) => JSON.stringify(next[k]) !== JSON.stringify(config[k]));
    const said = `config reloaded: ${next.groups.length} group(s)${later.length ? `; ${later.join(', ')} take effect when the service restarts` : ''}`;
    logs.write('INFO', { src: 'armsd' }, said);
    return said;
  };

  const clusterOps = () => (require('../cluster/ops') as typeof import('../cluster/ops')).clusterOps(() => cluster, groups, { stopping: () => stopping });
  const dispatch = makeDispatcher({
    info,
    logs,
    groups,
    watches,
    values,
    monitors,
    power,
    groupConfig,
    timeScale,
    commit,
    dirty: () => state.dirty(),
    pacing: (id) => pacingFor(current, id),
    stop: (r) => setImmediate(() => void stop(r)),
    stopping: () => stopping,
    reload: async () => reload(),
    cluster: config.cluster ? { status: async () => cluster?.status() ?? { state: 'starting' }, ops: clusterOps() } : undefined,
    recovers: (m) => monitoring!.recovery.recovers(m),
    statusExtra: () => monitoring!.status(),
    extraOps: monitoring.ops,
  });
  try {
    pipe = await listenPipe(home.pipe, dispatch, { ...config.pipe, maxInFlight: 256 });
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
      logs.alert('ERR', { src: 'armsd', event: 'config-refused' }, `SIGHUP: the config was not reloaded (keeping the current one): ${(e as Error).message.split('\n').join('; ')}`);
    }
  });
  process.on('uncaughtException', (err) => {
    logs.write('ERR', { src: 'armsd', pid: process.pid }, `internal error: ${err.stack ?? err.message}`);
    process.stderr.write(`armsd: internal error: ${err.stack ?? err.message}\n`);
    void stop('internal error', EXIT.failed);
  });

  logs.write('INFO', { src: 'armsd', pid: process.pid, pipe: home.pipe, version: VERSION }, `armsd started on ${config.server}`);
  say(`listening on ${home.pipe} (server ${config.server}, home ${home.root}, pid ${process.pid})`);
  sharedSpawner()?.warm();
  notifier?.ready(`listening on ${home.pipe}, server ${config.server}, ${config.groups.length} group(s)`);
  if (config.http) {
    // Loaded only when configured: the HTTP server, prom-client and the page cost nothing otherwise.
    const { startHttp } = require('../http/server') as typeof import('../http/server');
    http = await startHttp(config.http, { dispatch, logs, info, groups: () => groups.list(), monitors: () => monitors.list() });
  }
  if (config.cluster) {
    // Where groups run is the cluster's to say: after a crash nothing local is taken back (another
    // server may have the group by now); what still runs of this server's watches is stopped.
    if (abnormalEnd) {
      if (recovery.lost) watches.adoptOrphans();
      else if (state.previous) watches.adopt(state.previous.watches);
      await watches.stopAll(5000);
      await watches.sweep(5000);
      logs.alert('WARN', { src: 'armsd', event: 'crash-recovered' }, 'the service did not stop cleanly last time: its watches are stopped; every group\'s start script runs with RECOVER once the server is in the cluster');
    }
    state.resync();
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
    });
    return;
  }
  if (abnormalEnd && recovery.lost) {
    const orphans = watches.adoptOrphans();
    if (orphans.length > 0) logs.alert('WARN', { src: 'armsd' }, `${orphans.length} program(s) from before the state was lost taken back: ${orphans.join(', ')}`);
  } else if (abnormalEnd && state.previous) {
    // Groups and watches carry on where the crashed service left them: nothing is started twice.
    groups.restore(state.previous.groups);
    const { adopted, gone } = watches.adopt(state.previous.watches);
    // A program no watch has was started just before the crash and never acknowledged: stopped.
    // Unless the state is an older copy: then it may well have been acknowledged, and is kept.
    const complete = recovery.from === 'current' && !recovery.incomplete;
    const strays = complete ? await watches.sweep(5000) : [];
    const orphans = complete ? [] : watches.adoptOrphans();
    logs.alert('WARN', { src: 'armsd', event: 'crash-recovered' }, `the service did not stop cleanly last time: ${adopted.length} watch(es) taken back, ${gone.length} ended meanwhile${strays.length ? `, ${strays.length} program(s) it had not written down stopped` : ''}${orphans.length ? `, ${orphans.length} program(s) newer than the state copy taken back (${orphans.join(', ')})` : ''}; running every group's start script with RECOVER`);
    await Promise.all(config.groups.map((g) => groups.recover(g.name).queued));
  }
  // What the journal still names and nothing has any more goes; what was taken back is written.
  state.resync();
  void groups.autostart();
}

main().catch((e) => die(EXIT.failed, (e as Error).message));
