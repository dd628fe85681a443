// NET START name / NET STOP name, with NET's messages and exit codes (2 for "already started",
// "not started", an unknown service). Other NET verbs have no counterpart here (9009).
import { writeFd } from '../io';
import type { ProgramRun } from '.';
import { known, resolveService } from './service-control';

export async function net({ sh, args, io, frame }: ProgramRun): Promise<number> {
  const verb = (args[0] ?? '').toUpperCase();
  const name = args.slice(1).join(' ').replace(/"/g, '');
  if ((verb !== 'START' && verb !== 'STOP') || (verb === 'STOP' && name === '')) {
    writeFd(io.err, `NET ${verb}: no counterpart here (NET START/STOP name map to services); instead: arms migrate ${frame.script.file} says what to use\n`);
    return 9009;
  }
  if (name === '') {
    writeFd(io.out, 'These Windows services are started:\n\nThe command completed successfully.\n\n');
    return 0;
  }
  const svc = resolveService(sh, name);
  if (!(await known(svc))) {
    writeFd(io.err, 'The service name is invalid.\n\nMore help is available by typing NET HELPMSG 2185.\n\n');
    return 2;
  }
  const running = await svc.manager.running();
  if (verb === 'START') {
    if (running) {
      writeFd(io.err, 'The requested service has already been started.\n\nMore help is available by typing NET HELPMSG 2182.\n\n');
      return 2;
    }
    writeFd(io.out, `The ${name} service is starting.\n`);
    const why = await svc.manager.start(false);
    if (why !== null) {
      writeFd(io.err, `The ${name} service could not be started.\n\n${why}\n\n`);
      return 2;
    }
    writeFd(io.out, `The ${name} service was started successfully.\n\n`);
    return 0;
  }
  if (!running && svc.def.kind !== 'commands') {
    writeFd(io.err, `The ${name} service is not started.\n\nMore help is available by typing NET HELPMSG 3521.\n\n`);
    return 2;
  }
  writeFd(io.out, `The ${name} service is stopping.\n`);
  if (!(await svc.manager.stop(30_000))) {
    writeFd(io.err, `The ${name} service could not be stopped.\n\n`);
    return 2;
  }
  writeFd(io.out, `The ${name} service was stopped successfully.\n\n`);
  return 0;
}
