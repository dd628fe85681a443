// TASKKILL [/F] [/T] /IM name | /PID pid (several allowed): /F kills (SIGKILL), without it asks the
// process to end (SIGTERM); /T the process's children too. Exit 0 when all were found and
// signalled, 128 when one was not found, 1 for a usage error. Never the interpreter itself.
import { writeFd } from '../io';
import type { ProgramRun } from '.';
import { imageMatches, Proc, processes } from './processes';

export function taskkill({ args, io }: ProgramRun): number {
  let force = false;
  let tree = false;
  const images: string[] = [];
  const pids: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const u = args[i].toUpperCase();
    if (u === '/F') force = true;
    else if (u === '/T') tree = true;
    else if (u === '/IM') images.push(args[++i] ?? '');
    else if (u === '/PID') pids.push(args[++i] ?? '');
    else if (u === '/FI') i++;
    else {
      writeFd(io.err, `ERROR: Invalid argument/option - '${args[i]}'.\nType "TASKKILL /?" for usage.\n`);
      return 1;
    }
  }
  if (images.length + pids.length === 0) {
    writeFd(io.err, 'ERROR: Invalid syntax. Neither /FI nor /PID nor /IM were specified.\nType "TASKKILL /?" for usage.\n');
    return 1;
  }
  const all = processes().filter((p) => p.pid !== process.pid);
  let code = 0;
  const kill = (p: Proc) => {
    const victims = tree ? [p, ...descendants(all, p.pid)] : [p];
    for (const v of victims) {
      try {
        process.kill(v.pid, force ? 'SIGKILL' : 'SIGTERM');
        writeFd(io.out, force ? `SUCCESS: The process "${v.name}" with PID ${v.pid} has been terminated.\n` : `SUCCESS: Sent termination signal to the process "${v.name}" with PID ${v.pid}.\n`);
      } catch {
        writeFd(io.err, `ERROR: The process "${v.name}" with PID ${v.pid} could not be terminated.\nReason: Access is denied.\n`);
        code = 1;
      }
    }
  };
  for (const im of images) {
    const hits = all.filter((p) => imageMatches(im, p.name));
    if (hits.length === 0) {
      writeFd(io.err, `ERROR: The process "${im}" not found.\n`);
      code = 128;
    }
    hits.forEach(kill);
  }
  for (const pid of pids) {
    const p = all.find((x) => String(x.pid) === pid);
    if (!p) {
      writeFd(io.err, `ERROR: The process "${pid}" not found.\n`);
      code = 128;
      continue;
    }
    kill(p);
  }
  return code;
}

function descendants(all: Proc[], pid: number): Proc[] {
  const kids = all.filter((p) => p.ppid === pid);
  return kids.flatMap((k) => [k, ...descendants(all, k.pid)]);
}
