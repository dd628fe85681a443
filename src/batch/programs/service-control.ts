// NET START/STOP and SC START/STOP/QUERY name a Windows service; here the name goes through the
// config's services: map (as ARMLOAD /S resolves it: any case, a systemd unit or start/stop/status
// commands), else it is taken as a systemd unit of that name.
import { spawn } from 'node:child_process';
import type { Interpreter } from '../exec';
import type { ServiceDef, ServiceManager } from '../../platform/services';

export interface Resolved {
  name: string;
  def: ServiceDef;
  manager: ServiceManager;
}

// Loaded when a script first runs NET or SC: the interpreter starts with its own modules only.
export function resolveService(sh: Interpreter, name: string): Resolved {
  const { nativeService, serviceManager } = require('../../platform/services') as typeof import('../../platform/services');
  const { resolveHome } = require('../../platform/home') as typeof import('../../platform/home');
  let def: ServiceDef | undefined;
  try {
    const { loadConfig } = require('../../service/config') as typeof import('../../service/config');
    const env = sh.vars.toEnv();
    const c = loadConfig(resolveHome(env).config);
    const key = Object.keys(c.services).find((k) => k.toUpperCase() === name.toUpperCase());
    if (key) def = c.services[key];
  } catch {
    // no config (or a broken one): the OS's own service of that name
  }
  def ??= nativeService(name);
  return { name, def, manager: serviceManager(def, { cwd: sh.cwd, env: sh.vars.toEnv(), logFile: '/dev/null' }) };
}

/** Does the service exist at all? Configured ones do; systemd is asked about a unit. */
export function known(r: Resolved): Promise<boolean> {
  if (r.def.kind !== 'unit') return Promise.resolve(true);
  const unit = r.def.unit;
  return new Promise((resolve) => {
    const child = spawn('systemctl', ['cat', unit], { stdio: 'ignore' });
    child.once('error', () => resolve(false));
    child.once('exit', (code) => resolve(code === 0));
  });
}
