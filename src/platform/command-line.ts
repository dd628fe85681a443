// Command lines from the config (`services:` start/stop/status, `power:`, a disk's `activate:` and
// `deactivate:`), run through the system's shell exactly as the administrator wrote them: through
// cross-spawn with `shell`, which hands the line over untouched (cmd.exe /d /s /c "<line>" with
// the line verbatim on Windows, /bin/sh -c <line> elsewhere). A hand-built argument list would be
// quoted a second time on Windows: cmd then saw \"node ...\" and found no such program.
import { ChildProcess, SpawnOptions } from 'node:child_process';

/**
 * `tree`: the line heads a process tree of its own (POSIX: a new session and process group, so it
 * can be stopped with everything it started; Windows: the native host's process group, see
 * win-process.ts), for what the service supervises or may stop at a timeout.
 */
export function spawnCommandLine(line: string, opts: SpawnOptions & { tree?: boolean }): ChildProcess {
  const { tree, ...rest } = opts;
  if (process.platform === 'win32' && tree) {
    const { spawnInGroup } = require('./win-process') as typeof import('./win-process');
    return spawnInGroup({ line }, rest);
  }
  const crossSpawn = require('cross-spawn') as typeof import('cross-spawn');
  return crossSpawn(line, [], { ...rest, shell: true, windowsHide: true, detached: process.platform !== 'win32' && tree === true });
}
