// arms run SCRIPT --event E: one script, run here with exactly the environment the service would
// give it (its ARM* calls reach this home's service), its output on this terminal.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CommandError } from '../../client/client';
import { resolveHome } from '../../platform/home';
import { interpreterProblem, scriptCommand, ScriptNotRunnable } from '../../platform/script-command';
import { ensureCommandsDir } from '../../platform/shims';
import { ConfigInvalid, loadConfig } from '../../service/config';
import { GroupConfig, groupDefaults } from '../../service/group-config';
import { probeDisks } from '../../service/disks';
import { DiskResult, scriptEnv, START_EVENTS, StartEvent, STOP_FACTORS, StopFactor } from '../../service/script-env';
import { describeResult, runScript } from '../../service/scripts';

export interface RunOptions {
  event: string;
  group?: string;
  factor?: string;
  disk?: string;
  timeout?: number;
  trace?: boolean;
  dryRun?: boolean;
  encoding?: string;
}

const EXIT_USAGE = 2;

export async function runOne(script: string, opts: RunOptions): Promise<number> {
  const file = path.resolve(script);
  if (!fs.existsSync(file)) throw new CommandError(`${file} does not exist`, 4);
  const event = opts.event.toUpperCase() as StartEvent;
  if (!START_EVENTS.includes(event)) throw new CommandError(`--event must be one of ${START_EVENTS.join(', ')}`, EXIT_USAGE);
  const factor = opts.factor?.toUpperCase() as StopFactor | undefined;
  if (factor !== undefined && !STOP_FACTORS.includes(factor)) throw new CommandError(`--factor must be one of ${STOP_FACTORS.join(', ')}`, EXIT_USAGE);
  const diskArg = opts.disk?.toUpperCase() as DiskResult | undefined;
  if (diskArg !== undefined && diskArg !== 'SUCCESS' && diskArg !== 'FAILURE') throw new CommandError('--disk must be SUCCESS or FAILURE', EXIT_USAGE);

  if (opts.dryRun && (process.platform === 'win32' || !/\.(bat|cmd)$/i.test(file))) {
    throw new CommandError('--dry-run is for .bat/.cmd scripts run by the batch interpreter (not on Windows, where cmd.exe runs them)', EXIT_USAGE);
  }
  const home = resolveHome();
  let config;
  try {
    config = loadConfig(home.config);
  } catch (e) {
    if (e instanceof ConfigInvalid) throw new CommandError(`the config has mistakes (see "arms check"): ${e.problems[0].message}`, 1);
    throw e;
  }
  const group = findGroup(config.groups, file, opts.group, config.server);
  const which = factor !== undefined || samePath(file, group.stop) ? 'stop' : 'start';
  if (which === 'stop' && event === 'RECOVER') throw new CommandError('a stop script sees how its group was started: --event START or FAILOVER', EXIT_USAGE);

  const run = { ...group, [which]: file } as GroupConfig;
  const env = scriptEnv(process.env, {
    group: run,
    server: config.server,
    which,
    event,
    factor: which === 'stop' ? (factor ?? 'GROUPSTOP') : undefined,
    disk: diskArg ?? (await probeDisks(group.disks)),
    pipe: home.pipe,
    commandsDir: ensureCommandsDir(path.join(home.state, 'path')).dir,
  });
  // The interpreter shows the script's ARM* lines instead of sending them (docs/batch.md).
  if (opts.dryRun) env.ARMS_DRY_RUN = '1';
  if (opts.encoding !== undefined) {
    const { encodingName } = require('../../batch/source') as typeof import('../../batch/source');
    const e = encodingName(opts.encoding);
    if (!e) throw new CommandError(`--encoding: "${opts.encoding}" is not one of utf-8, shift_jis (cp932), utf-16le`, EXIT_USAGE);
    env.ARMS_BATCH_ENCODING = e;
  }
  let cmd;
  try {
    cmd = scriptCommand(file, process.platform, { trace: opts.trace });
  } catch (e) {
    if (e instanceof ScriptNotRunnable) throw new CommandError(e.message, 1);
    throw e;
  }
  const problem = await interpreterProblem(cmd, env);
  if (problem) throw new CommandError(`${path.basename(file)} could not be started: ${problem}`, 1);
  const timeoutS = opts.timeout ?? (which === 'start' ? group.timeouts.start : group.timeouts.stop);
  const r = await runScript(cmd, {
    cwd: path.dirname(file),
    env,
    timeoutMs: timeoutS * 1000,
    onLine: (stream, line) => (stream === 'out' ? process.stdout : process.stderr).write(line + '\n'),
  });
  if (r.code !== null && !r.timedOut) return r.code;
  throw new CommandError(`${path.basename(file)} ${describeResult(r, timeoutS)}`, 1);
}

function samePath(a: string, b: string): boolean {
  return process.platform === 'win32' ? a.toLowerCase() === b.toLowerCase() : a === b;
}

/** The group named, or the one the script belongs to; a name not in the config tries the script out as a group of its own. */
function findGroup(groups: GroupConfig[], file: string, name: string | undefined, server: string): GroupConfig {
  if (name) {
    const g = groups.find((x) => x.name.toUpperCase() === name.toUpperCase());
    if (g) return g;
    return { ...groupDefaults(name, server, path.dirname(file)), start: file };
  }
  const owner = groups.find((g) => samePath(g.start, file) || samePath(g.stop, file));
  if (!owner) throw new CommandError(`${file} is not a script of any group in the config; name the group with --group`, EXIT_USAGE);
  return owner;
}
