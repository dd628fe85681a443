// How a group script is run, by its extension and the OS: .bat/.cmd through cmd.exe on Windows and
// through the project's batch interpreter elsewhere (docs/batch.md), .sh through sh, .ps1 through
// PowerShell, anything else as a program of its own.
import * as path from 'node:path';

/** The batch interpreter that takes its job on stdin (src/batch/runner.ts), run by this very node. */
export const BATCH_RUNNER = path.resolve(__dirname, '..', 'batch', 'runner.js');

export interface ScriptCommand {
  file: string;
  args: string[];
  /** run by the batch runner: the job it is given on stdin (the script, and trace for arms run --trace) */
  batch?: { script: string; trace: boolean };
  /** Windows: pass the arguments to cmd.exe exactly as written (cmd parses its own line) */
  verbatim?: boolean;
  /** a command line from the config, run by the system's shell as written (command-line.ts); file and args are unused */
  line?: string;
}

export class ScriptNotRunnable extends Error {}

/**
 * `trace` (arms run --trace): the batch interpreter prints each line as it runs with the branch
 * taken, sh runs with -x; cmd.exe has no such mode (Windows runs the script as usual).
 */
export function scriptCommand(script: string, platform: NodeJS.Platform = process.platform, opts: { trace?: boolean } = {}): ScriptCommand {
  const ext = path.extname(script).toLowerCase();
  if (ext === '.bat' || ext === '.cmd') {
    if (platform === 'win32') {
      const cmd = process.env.ComSpec || 'cmd.exe';
      return { file: cmd, args: ['/d', '/s', '/c', `"${script}"`], verbatim: true };
    }
    return { file: process.execPath, args: [BATCH_RUNNER, '--report'], batch: { script, trace: opts.trace === true } };
  }
  if (ext === '.sh') return { file: platform === 'win32' ? 'sh.exe' : '/bin/sh', args: [...(opts.trace ? ['-x'] : []), script] };
  if (ext === '.ps1') {
    const ps = platform === 'win32' ? 'powershell.exe' : 'pwsh';
    return { file: ps, args: ['-NoProfile', '-NonInteractive', '-ExecutionPolicy', 'Bypass', '-File', script] };
  }
  return { file: script, args: [] };
}

/** A command line from the config (power, disk activate/deactivate), through the system's shell as written. */
export function shellCommand(line: string): ScriptCommand {
  return { file: line, args: [], line };
}
