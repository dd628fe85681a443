// ARMLOAD watchID [options] target [args...]   (commands.md §1)
import os = require('node:os');
import { call, CommandError } from '../client/client';
import { clientPipe } from '../platform/home';
import { defineCommand, EXIT_USAGE, parseArgs } from './cmdline';

const USAGE = `usage: ARMLOAD watchID [/U user] [/W] [/S [/A]] [/M | /R count [/H hours]] [/FOV | /SHUT] [/SCR]
               [/WAIT seconds] [/INT seconds] target [args...]

Asks the service to start target under watchID (1-255 letters, digits, "_"; NEC_ is reserved),
detached from this script, with this script's environment and folder. Everything after the target
goes to it untouched.
  /W         wait for the target to end and exit with its exit code (128+n for signal n)
  /R count   restart it when it ends (any end but ARMKILL, exit code 0 too), at most count times
  /H hours   with /R: the count returns to zero this many hours after the first counted end
  /M         monitor without restarting: its end goes straight to the final action
  /FOV       final action when restarts run out (or at once with /M): fail the group over
  /SHUT      final action: shut the server down
  /SCR       restart by re-running the group's stop and start scripts
  /WAIT s    an end within s seconds of a start is handled only once they have passed
  /S         target is a service: a name the config's services: map gives (a systemd unit or
             start/stop/status commands), else a systemd unit (Windows: a Windows service);
             monitored by polling every /INT seconds (default 5)
  /A         with /S: return once the start is asked for, without waiting for it to run
  /U user    run it as this account (the service must run as root)
Exit codes: 0 started, 2 usage, 3 service not reachable, 5 watch ID in use, 6 cannot start;
with /W the target's own.`;

function count(v: string | true | undefined, name: string, min: number, max: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (typeof v !== 'string' || !/^\d+$/.test(v) || n < min || n > max) throw new CommandError(`${name} needs a whole number from ${min} to ${max}, not "${v}"`, EXIT_USAGE);
  return n;
}

export const command = defineCommand('ARMLOAD', USAGE, async (argv, ctx) => {
  const { switches: sw, operands } = parseArgs(
    argv,
    [
      { name: 'U', long: 'user', value: true },
      { name: 'W', long: 'wait' },
      { name: 'S', long: 'service' },
      { name: 'A', long: 'async' },
      { name: 'M', long: 'monitor' },
      { name: 'R', long: 'retries', value: true },
      { name: 'H', long: 'hours', value: true },
      { name: 'FOV', long: 'failover' },
      { name: 'SHUT', long: 'shutdown' },
      { name: 'SCR', long: 'script-restart' },
      { name: 'WAIT', long: 'grace', value: true },
      { name: 'INT', long: 'interval', value: true },
    ],
    2,
  );
  const [id, target, ...args] = operands;
  if (!id) throw new CommandError('a watch ID is required (try /? for usage)', EXIT_USAGE);
  if (!target) throw new CommandError(`watch ${id}: a target program is required`, EXIT_USAGE);
  if (sw.has('FOV') && sw.has('SHUT')) throw new CommandError('/FOV and /SHUT exclude each other', EXIT_USAGE);
  if (sw.has('A') && !sw.has('S')) throw new CommandError('/A applies to /S services only', EXIT_USAGE);
  if (sw.has('S') && args.length > 0) throw new CommandError(`/S takes a service name alone, not arguments ("${args[0]}")`, EXIT_USAGE);

  const wait = sw.has('W');
  const answer = (await call(
    clientPipe(ctx.env),
    'watch.start',
    {
      id,
      group: ctx.env.ARMS_GROUPNAME || undefined,
      file: target,
      args,
      cwd: ctx.cwd,
      env: ctx.env,
      wait,
      restarts: count(sw.get('R'), '/R', 1, 999),
      hours: count(sw.get('H'), '/H', 1, 24),
      monitorOnly: sw.has('M'),
      final: sw.has('FOV') ? 'failover' : sw.has('SHUT') ? 'shutdown' : 'none',
      scriptRestart: sw.has('SCR'),
      graceS: count(sw.get('WAIT'), '/WAIT', 0, 86_400),
      user: typeof sw.get('U') === 'string' ? sw.get('U') : undefined,
      service: sw.has('S'),
      noWait: sw.has('A'),
      intervalS: count(sw.get('INT'), '/INT', 1, 86_400),
    },
    // No limit: with /W it waits for the end; without, a ready: check of the config may hold the answer
    // for its own timeout (the group script's timeout bounds both).
    0,
  )) as { pid: number | null; exitCode?: number | null; signal?: string | null };
  if (!wait) {
    ctx.out(`ARMLOAD: watch ${id} started${answer.pid === null ? ` (service ${target})` : `, pid ${answer.pid}`}\n`);
    return 0;
  }
  if (answer.signal) return 128 + (os.constants.signals[answer.signal as NodeJS.Signals] ?? 0);
  return answer.exitCode ?? 1;
});
