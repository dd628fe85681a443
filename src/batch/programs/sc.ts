// SC START|STOP|QUERY name, with SC's output and exit codes: 1056 already running, 1062 not
// started, 1060 no such service.
import { writeFd } from '../io';
import type { ProgramRun } from '.';
import { known, resolveService } from './service-control';

function state(name: string, running: boolean): string {
  const s = running ? '4  RUNNING' : '1  STOPPED';
  return `\nSERVICE_NAME: ${name}\n        TYPE               : 10  WIN32_OWN_PROCESS\n        STATE              : ${s}\n        WIN32_EXIT_CODE    : 0  (0x0)\n\n`;
}

export async function sc({ sh, args, io }: ProgramRun): Promise<number> {
  let a = args;
  if (a[0]?.startsWith('\\\\')) a = a.slice(1); // \\server: this machine only
  const verb = (a[0] ?? '').toUpperCase();
  const name = a[1];
  if (!['START', 'STOP', 'QUERY', 'QUERYEX'].includes(verb) || name === undefined) {
    writeFd(io.err, `[SC] ${verb || '(none)'}: only START, STOP and QUERY name map to services here\n`);
    return verb ? 9009 : 1639;
  }
  const svc = resolveService(sh, name);
  if (!(await known(svc))) {
    writeFd(io.out, `[SC] ${verb === 'QUERY' || verb === 'QUERYEX' ? 'EnumQueryServicesStatus:OpenService' : 'OpenService'} FAILED 1060:\n\nThe specified service does not exist as an installed service.\n\n`);
    return 1060;
  }
  const running = await svc.manager.running();
  if (verb === 'QUERY' || verb === 'QUERYEX') {
    writeFd(io.out, state(name, running));
    return 0;
  }
  if (verb === 'START') {
    if (running) {
      writeFd(io.out, '[SC] StartService FAILED 1056:\n\nAn instance of the service is already running.\n\n');
      return 1056;
    }
    const why = await svc.manager.start(false);
    if (why !== null) {
      writeFd(io.out, `[SC] StartService FAILED 1053:\n\n${why}\n\n`);
      return 1053;
    }
    writeFd(io.out, state(name, true));
    return 0;
  }
  if (!running && svc.def.kind !== 'commands') {
    writeFd(io.out, '[SC] ControlService FAILED 1062:\n\nThe service has not been started.\n\n');
    return 1062;
  }
  const ok = await svc.manager.stop(30_000);
  if (!ok) {
    writeFd(io.out, '[SC] ControlService FAILED 1061:\n\nThe service cannot accept control messages at this time.\n\n');
    return 1061;
  }
  writeFd(io.out, state(name, false));
  return 0;
}
