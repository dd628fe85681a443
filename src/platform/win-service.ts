// Windows: armsd as a Windows service. The service control manager runs the native host
// (bin/win/arms-host.exe service ..., see win-host.c), which answers it, starts node armsd.js with
// this home, reports RUNNING once armsd answers on its pipe, and on stop or shutdown asks armsd to
// stop (every group's stop script runs) before it reports STOPPED. Registered with automatic start,
// recovery actions (restart after 5 s, 5 s, 60 s) and an Event Log source of the same name.
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { Home } from './home';
import { PACKAGE_ROOT } from './shims';
import { HOST } from './win-process';

export const DEFAULT_SERVICE_NAME = 'ARMS';

export interface Done {
  ok: boolean;
  /** what the host or sc.exe said (one line) */
  said: string;
}

function host(args: string[]): Done {
  const r = spawnSync(HOST, args, { encoding: 'utf8', windowsHide: true, timeout: 660_000 }); // uninstall may wait for the stop scripts
  const said = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim() || (r.error ? r.error.message : '');
  return { ok: r.status === 0, said };
}

/** Registers the service for `home`, run by this node.exe. */
export function installService(name: string, home: Home): Done {
  return host(['install', '--name', name, '--node', process.execPath, '--script', path.join(PACKAGE_ROOT, 'bin', 'armsd.js'), '--home', home.root, '--pipe', home.pipe]);
}

/** Stops the service if it runs (its groups stop first), then removes it and its event source. */
export function uninstallService(name: string): Done {
  return host(['uninstall', '--name', name]);
}

/** The service's state as the service control manager reports it (RUNNING, STOPPED, ...), or null when there is no such service. */
export function serviceState(name: string): string | null {
  const sc = path.join(process.env.SystemRoot || 'C:\\Windows', 'System32', 'sc.exe');
  const r = spawnSync(sc, ['query', name], { encoding: 'utf8', windowsHide: true, timeout: 30_000 });
  const m = /STATE\s*:\s*\d+\s+([A-Z_]+)/.exec(r.stdout ?? '');
  return m ? m[1] : null;
}
