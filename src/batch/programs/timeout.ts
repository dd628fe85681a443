// TIMEOUT /T n [/NOBREAK]: waits n seconds (no console here, so no key ends it early). -1 would
// wait for a key: without a console it returns at once. Exit 0; 1 for a bad value.
import { writeFd } from '../io';
import type { ProgramRun } from '.';

export async function timeout({ args, io, sh, frame, line }: ProgramRun): Promise<number> {
  let seconds: string | null = null;
  let nobreak = false;
  for (let i = 0; i < args.length; i++) {
    const u = args[i].toUpperCase();
    if (u === '/T') seconds = args[++i] ?? '';
    else if (u === '/NOBREAK') nobreak = true;
    else if (seconds === null && /^-?\d+$/.test(u)) seconds = u;
    else {
      writeFd(io.err, `ERROR: Invalid syntax. Default option is not allowed more than '1' time(s).\nType "TIMEOUT /?" for usage.\n`);
      return 1;
    }
  }
  const n = seconds === null ? NaN : Number(seconds);
  if (!Number.isInteger(n) || n < -1 || n > 99999) {
    writeFd(io.err, `ERROR: Invalid value for timeout (/T) specified. Valid range is -1 to 99999.\n`);
    return 1;
  }
  if (n === -1) {
    sh.trace(frame, line, 'TIMEOUT /T -1: no console to wait for a key on: not waiting');
    return 0;
  }
  writeFd(io.out, `\nWaiting for ${n} seconds, press ${nobreak ? 'CTRL+C to quit' : 'a key to continue'} ...\n`);
  await new Promise((r) => setTimeout(r, n * 1000));
  return 0;
}
