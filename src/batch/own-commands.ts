// ARM* lines of a batch script run inside the interpreter: the commands are the very modules behind
// bin/*.js, given the script's environment, folder and output, so such a line costs one request to
// the service instead of a node process started for it (~70 ms each here). Only the commands that
// make their request and end: ARMRSP (resident), arms and armsd still run as programs, and so does
// any ARMLOG on PATH that is not ours.
//
// One import direction: src/commands (arms run/check/migrate) drives src/batch; src/batch imports
// nothing from src/commands. The commands are found as files (bin/NAME.js, dist/commands/NAME.js)
// and loaded by path, with the shape below (src/commands/cmdline.ts's Command and execute).
import * as path from 'node:path';

/** Where a command runs and whom it answers (src/commands/cmdline.ts CommandContext). */
export interface CommandContext {
  env: NodeJS.ProcessEnv;
  cwd: string;
  pid: number;
  ppid: number;
  out(text: string): void;
  err(text: string): void;
}

/** A command as dist/commands/NAME.js exports it. */
export interface Command {
  name: string;
  usage: string;
}

type Execute = (cmd: Command, argv: string[], ctx: CommandContext) => Promise<number>;

const PACKAGE_ROOT = path.resolve(__dirname, '..', '..');
const IN_PROCESS = ['armbcast', 'armdown', 'armfover', 'armgetcd', 'armkill', 'armload', 'armlog', 'armsetcd', 'armsleep'];

const load = (name: string) => (require(path.join(PACKAGE_ROOT, 'dist', 'commands', `${name}.js`)) as { command: Command }).command;

/** bin/<command>.js, or its bundle, where the commands folder's links lead (scripts/bundle-commands.js). */
const OURS = [path.join(PACKAGE_ROOT, 'bin'), path.join(PACKAGE_ROOT, 'dist', 'bundles')];

/** The command a program found on PATH is, when it is one of ours that runs in this process; else null. */
export function ownCommand(file: string): Command | null {
  // a symlink to a bundle, or a Linux launcher naming one
  const real = commandScript(file);
  if (!real) return null;
  const name = path.basename(real, '.js');
  if (!OURS.includes(path.dirname(real)) || !IN_PROCESS.includes(name) || !real.endsWith('.js')) return null;
  return load(name);
}

/** Runs one; resolves with its exit code (what ERRORLEVEL becomes), as if it had been a process. */
export async function runOwn(cmd: Command, argv: string[], ctx: CommandContext): Promise<number> {
  const { execute } = require(path.join(PACKAGE_ROOT, 'dist', 'commands', 'cmdline.js')) as { execute: Execute };
  return execute(cmd, argv, ctx);
}

/** Loads them all ahead of need (the waiting interpreter's warm-up). */
export function preloadOwnCommands(): void {
  for (const name of IN_PROCESS) load(name);
}

/** The name of the project's command a program found on PATH is (any of bin/: ARMRSP and arms too), or null. */
export function projectCommandName(file: string): string | null {
  const real = commandScript(file);
  return real && OURS.includes(path.dirname(real)) ? path.basename(real, '.js') : null;
}

/** What a program found on PATH runs (src/platform/launcher-trailer.ts), loaded on first use: a script that runs no program never loads it. */
function commandScript(file: string): string | null {
  return (require('../platform/launcher-trailer') as typeof import('../platform/launcher-trailer')).commandScript(file);
}
