// cmd-style options for the ARM* commands: `/R 9`, `/FOV`, case-insensitive, in any order
// before the operands; POSIX long forms (`--retries 9`) as aliases; `/?`, `-h`, `--help` print usage.
import { writeOut } from './output';
import { printable } from './printable';
import { CommandError } from '../client/client';

export const EXIT_USAGE = 2;

export interface Switch {
  /** the cmd form without the slash, upper case: 'ARM', 'L' */
  name: string;
  /** POSIX long form without dashes: 'alert', 'level' */
  long?: string;
  /** takes a value */
  value?: boolean;
}

export interface Parsed {
  switches: Map<string, string | true>;
  operands: string[];
}

export class HelpRequested extends Error {}

/**
 * Options and operands may be mixed until `stopAt` operands have been seen (for ARMLOAD: everything
 * after the target belongs to the target). A token that looks like a switch (`/X`, `/ABC`) but is not
 * one is a usage error; a token like `/var/data` is an operand. `--` ends the options.
 */
export function parseArgs(argv: string[], switches: Switch[], stopAt = Infinity): Parsed {
  const switchesOut = new Map<string, string | true>();
  const operands: string[] = [];
  let i = 0;
  for (; i < argv.length && operands.length < stopAt; i++) {
    const tok = argv[i];
    if (tok === '--') {
      i++;
      break;
    }
    if (tok === '/?' || tok === '-h' || tok === '--help' || tok === '-?') throw new HelpRequested();
    const sw = matchSwitch(tok, switches);
    if (sw === undefined) {
      operands.push(tok);
      continue;
    }
    if (sw === null) throw new CommandError(`unknown option "${tok}" (try /? for usage)`, EXIT_USAGE);
    if (sw.value) {
      const eq = tok.indexOf('=');
      let v: string | undefined;
      if (tok.startsWith('--') && eq !== -1) v = tok.slice(eq + 1);
      else v = argv[++i];
      if (v === undefined) throw new CommandError(`option ${tok} needs a value`, EXIT_USAGE);
      switchesOut.set(sw.name, v);
    } else {
      switchesOut.set(sw.name, true);
    }
  }
  operands.push(...argv.slice(i));
  return { switches: switchesOut, operands };
}

/** undefined: not an option; null: looks like an option but is none of ours. */
function matchSwitch(tok: string, switches: Switch[]): Switch | null | undefined {
  if (tok.startsWith('--') && tok.length > 2) {
    const name = tok.slice(2).split('=')[0].toLowerCase();
    return switches.find((s) => s.long === name) ?? null;
  }
  if (tok.startsWith('/') && tok.length > 1) {
    const name = tok.slice(1).toUpperCase();
    const found = switches.find((s) => s.name === name);
    if (found) return found;
    // `/X`, `/NOSUCH`: a mistyped switch. `/var/log/x`, `/srv/app.js`: an operand (a path).
    return /^[A-Za-z?][A-Za-z0-9]{0,7}$/.test(tok.slice(1)) ? null : undefined;
  }
  if (/^-[A-Za-z]$/.test(tok)) return null;
  return undefined;
}

/**
 * Where a command runs and whom it answers: its own process (bin/), or, for a line of a batch script,
 * inside the batch interpreter (no node to start: src/batch/own-commands.ts).
 */
export interface CommandContext {
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** the process the request is made for: the command's own, or the interpreter running the script */
  pid: number;
  ppid: number;
  out(text: string): void;
  err(text: string): void;
}

export interface Command {
  name: string;
  usage: string;
  body(argv: string[], ctx: CommandContext): Promise<number | void>;
}

export function defineCommand(name: string, usage: string, body: Command['body']): Command {
  return { name, usage, body };
}

/**
 * Runs a command's body: prints its usage on request, turns a CommandError into one line on stderr
 * and its exit code, and anything unexpected into one line and exit 1. Never rejects.
 */
export async function execute(cmd: Command, argv: string[], ctx: CommandContext): Promise<number> {
  try {
    return (await cmd.body(argv, ctx)) ?? 0;
  } catch (err) {
    if (err instanceof HelpRequested) {
      ctx.out(cmd.usage.endsWith('\n') ? cmd.usage : cmd.usage + '\n');
      return 0;
    }
    if (err instanceof CommandError) {
      ctx.err(`${cmd.name}: ${printable(err.message)}\n`);
      return err.exitCode;
    }
    ctx.err(`${cmd.name}: internal error: ${printable(err instanceof Error ? err.message : String(err))}\n`);
    return 1;
  }
}

/** The command as a process of its own (bin/*.js): this process's arguments, environment and output. */
export function main(cmd: Command): void {
  const ctx: CommandContext = {
    env: process.env,
    cwd: process.cwd(),
    pid: process.pid,
    ppid: process.ppid,
    // straight to the descriptors: process.stdout would load the stream modules (output.ts)
    out: (t) => writeOut(t, 1),
    err: (t) => writeOut(t, 2),
  };
  void execute(cmd, process.argv.slice(2), ctx).then((code) => {
    process.exitCode = code;
  });
}
