// PING. The classic wait, `PING -n 6 127.0.0.1 >NUL` (five seconds), is a wait here: a loopback
// target is never sent a packet, each echo after the first waits a second, as Windows' ping does.
// Any other target is the system's ping with the options translated (-n count -> -c, -w ms -> -W
// seconds, -l size -> -s, -i TTL -> -t, -t -> no count), its exit code as ERRORLEVEL.
import * as os from 'node:os';
import { writeFd } from '../io';
import { findCommand } from '../lookup';
import type { ProgramRun } from '.';

export function isLoopback(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) || h === 'localhost' || h === '::1' || h === '0:0:0:0:0:0:0:1';
}

export async function ping({ sh, args, io, frame, line }: ProgramRun): Promise<number> {
  let count = 4;
  let forever = false;
  let size = 32;
  let target: string | null = null;
  const translated: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const k = a.toLowerCase().replace(/^\//, '-');
    const value = () => args[++i] ?? '';
    if (k === '-n') count = Number(value()) || 0;
    else if (k === '-t') forever = true;
    else if (k === '-w') translated.push('-W', String(Math.max(1, Math.ceil((Number(value()) || 1000) / 1000))));
    else if (k === '-l') translated.push('-s', String((size = Number(value()) || 32)));
    else if (k === '-i') translated.push('-t', value());
    else if (k === '-4' || k === '-6') translated.push(k);
    else if (k === '-a') continue;
    else if (a.startsWith('-') || a.startsWith('/')) {
      writeFd(io.err, `Bad option ${a}.\n`);
      return 1;
    } else target = a;
  }
  if (target === null) {
    writeFd(io.err, 'IP address must be specified.\n');
    return 1;
  }
  if (isLoopback(target)) {
    const shown = target.toLowerCase() === 'localhost' ? '::1' : target;
    sh.trace(frame, line, `PING ${target}: a loopback target: waiting ${forever ? 'until stopped' : `${Math.max(0, count - 1)} s`}, no packet sent`);
    writeFd(io.out, `\nPinging ${shown} with ${size} bytes of data:\n`);
    for (let i = 0; forever || i < count; i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, 1000));
      writeFd(io.out, `Reply from ${shown}: bytes=${size} time<1ms TTL=128\n`);
    }
    writeFd(io.out, `\nPing statistics for ${shown}:\n    Packets: Sent = ${count}, Received = ${count}, Lost = 0 (0% loss),\n`);
    return 0;
  }
  const found = findCommand('ping', sh.vars.get('PATH'), sh.cwd);
  if (!found) {
    writeFd(io.err, `'ping' is not recognized as an internal or external command,\noperable program or batch file.\n`);
    return 9009;
  }
  return sh.spawnWait(found.file, [...(forever ? [] : ['-c', String(count)]), ...translated, target], io, sh.cwd);
}

export const hostName = () => os.hostname();
