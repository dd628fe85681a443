// The environment block of a group script (scripts.md §1): what the legacy scripts branch on.
import * as path from 'node:path';
import { GroupConfig } from './group-config';

export type StartEvent = 'START' | 'FAILOVER' | 'RECOVER';
export type StopFactor = 'GROUPSTOP' | 'GROUPMOVE' | 'GROUPFAILOVER' | 'RESOURCERESTART' | 'SERVERSHUTDOWN';
export type DiskResult = 'SUCCESS' | 'FAILURE';

export const START_EVENTS: readonly StartEvent[] = ['START', 'FAILOVER', 'RECOVER'];
export const STOP_FACTORS: readonly StopFactor[] = ['GROUPSTOP', 'GROUPMOVE', 'GROUPFAILOVER', 'RESOURCERESTART', 'SERVERSHUTDOWN'];

export interface ScriptRun {
  group: GroupConfig;
  /** this server's name */
  server: string;
  which: 'start' | 'stop';
  /** start: why it starts; stop: how the group was started */
  event: StartEvent;
  /** stop scripts only */
  factor?: StopFactor;
  disk: DiskResult;
  /** the server the group ran on before a failover or move */
  prevServer?: string;
  /** cluster: the fencing token of this server's ownership of the group */
  fence?: string;
  /** the pipe of the service that runs the script */
  pipe: string;
  /** the folder of the ARM* commands */
  commandsDir: string;
}

/** Names the service sets: never inherited from the service's own environment. */
const OWN = /^(ARMS_|CLP_)/i;

export function scriptEnv(base: NodeJS.ProcessEnv, run: ScriptRun): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(base)) if (!OWN.test(k) || k.toUpperCase() === 'ARMS_HOME') env[k] = v;
  const script = run.which === 'start' ? run.group.start : run.group.stop;
  const position = run.group.policy.findIndex((s) => s.toUpperCase() === run.server.toUpperCase());
  const set = (names: string[], value: string) => {
    for (const n of names) env[n] = value;
  };
  set(['ARMS_EVENT', 'CLP_EVENT'], run.event);
  set(['ARMS_DISK', 'CLP_DISK'], run.disk);
  set(['ARMS_SERVER', 'CLP_SERVER'], position === 0 ? 'HOME' : 'OTHER');
  set(['ARMS_GROUPNAME', 'CLP_GROUPNAME'], run.group.name);
  env.CLP_FACTOR = run.which === 'stop' ? (run.factor ?? 'GROUPSTOP') : '';
  env.CLP_PRIORITY = String(position + 1);
  env.CLP_SERVER_PREV = run.prevServer ?? '';
  env.CLP_SCRIPT_PATH = path.dirname(script);
  env.ARMS_PIPE = run.pipe;
  if (run.fence) env.ARMS_FENCE = run.fence;
  // Windows spells it Path; whatever the spelling, there is one PATH and ours comes first.
  const pathKey = Object.keys(env).find((k) => k.toUpperCase() === 'PATH') ?? 'PATH';
  env[pathKey] = env[pathKey] ? `${run.commandsDir}${path.delimiter}${env[pathKey]}` : run.commandsDir;
  return env;
}
