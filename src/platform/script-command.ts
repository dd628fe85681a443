// How a group script is run, by its extension and the OS: .bat/.cmd through cmd.exe on Windows and
// through the project's batch interpreter elsewhere (docs/batch.md), .sh through sh, .ps1 through
// PowerShell, anything else as a program of its own.
import { spawn } from 'node:child_process';
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
  /** the interpreter `file` must be, checked before the script runs (interpreterProblem) */
  interpreter?: 'PowerShell';
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
    return { file: ps, args: ['-NoProfile', '-NonInteractive', '-ExecutionPolicy', 'Bypass', '-File', script], interpreter: 'PowerShell' };
  }
  return { file: script, args: [] };
}

/** A command line from the config (power, disk activate/deactivate), through the system's shell as written. */
export function shellCommand(line: string): ScriptCommand {
  return { file: line, args: [], line };
}

const working = new Set<string>();

/**
 * Why `cmd`'s interpreter cannot run the script, or null. A .ps1 script needs a PowerShell that
 * answers: asked for $PSVersionTable, it prints a version. Not found, or anything else (Wine's
 * powershell.exe is a stub that exits 0 having run nothing) means the script would not run, and a
 * script that did not run must not count as a success. A working interpreter is asked once.
 */
export function interpreterProblem(cmd: ScriptCommand, env: NodeJS.ProcessEnv = process.env): Promise<string | null> {
  if (cmd.interpreter !== 'PowerShell' || working.has(cmd.file)) return Promise.resolve(null);
  return new Promise((resolve) => {
    let out = '';
    const child = spawn(cmd.file, ['-NoProfile', '-NonInteractive', '-Command', '$PSVersionTable.PSVersion.ToString()'], { env, stdio: ['ignore', 'pipe', 'ignore'], windowsHide: true });
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.stdout!.on('data', (d: Buffer) => {
      if (out.length < 200) out += d.toString();
    });
    child.once('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve(e.code === 'ENOENT' ? `${cmd.file} not found (PowerShell runs .ps1 scripts)` : `${cmd.file}: ${e.message}`);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      const said = out.trim();
      if (code === 0 && /^\d+\.\d+/.test(said)) {
        working.add(cmd.file);
        resolve(null);
      } else {
        resolve(`${cmd.file} is not a working PowerShell (asked for its version, it printed ${said ? `"${said.slice(0, 60)}"` : 'nothing'} and exited with code ${code})`);
      }
    });
  });
}
