// How a group script is run, by its extension and the OS: .bat/.cmd through cmd.exe on Windows,
// .sh through sh, .ps1 through PowerShell, anything else as a program of its own.
import * as path from 'node:path';

export interface ScriptCommand {
  file: string;
  args: string[];
  /** Windows: pass the arguments to cmd.exe exactly as written (cmd parses its own line) */
  verbatim?: boolean;
}

export class ScriptNotRunnable extends Error {}

export function scriptCommand(script: string, platform: NodeJS.Platform = process.platform): ScriptCommand {
  const ext = path.extname(script).toLowerCase();
  if (ext === '.bat' || ext === '.cmd') {
    if (platform === 'win32') {
      const cmd = process.env.ComSpec || 'cmd.exe';
      return { file: cmd, args: ['/d', '/s', '/c', `"${script}"`], verbatim: true };
    }
    throw new ScriptNotRunnable(
      `${path.basename(script)}: batch scripts cannot run on ${platform} in this version (the batch interpreter is not there yet); use a .sh script`,
    );
  }
  if (ext === '.sh') return { file: platform === 'win32' ? 'sh.exe' : '/bin/sh', args: [script] };
  if (ext === '.ps1') {
    const ps = platform === 'win32' ? 'powershell.exe' : 'pwsh';
    return { file: ps, args: ['-NoProfile', '-NonInteractive', '-ExecutionPolicy', 'Bypass', '-File', script] };
  }
  return { file: script, args: [] };
}

/** A command line from the config (disk activate/deactivate), through the system's shell. */
export function shellCommand(line: string, platform: NodeJS.Platform = process.platform): ScriptCommand {
  if (platform === 'win32') return { file: process.env.ComSpec || 'cmd.exe', args: ['/d', '/s', '/c', `"${line}"`], verbatim: true };
  return { file: '/bin/sh', args: ['-c', line] };
}
