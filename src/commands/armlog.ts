// ARMLOG "message" [/ARM] [/L INFO|WARN|ERR]   (commands.md §3)
import { call, CommandError } from '../client/client';
import { clientPipe } from '../platform/home';
import { defineCommand, EXIT_USAGE, parseArgs } from './cmdline';

const USAGE = `usage: ARMLOG "message" [/ARM] [/L INFO|WARN|ERR]

Appends the message to the cluster log with the caller's group (ARMS_GROUPNAME), server, time
and PID. /ARM also writes it to the alert log (and syslog / the Application event log).
/L sets the level (default INFO; /ARM alone implies WARN). Words given without quotes are joined
with single spaces.
Exit codes: 0 logged, 2 usage, 3 service not reachable.`;

const LEVELS: Record<string, 'INFO' | 'WARN' | 'ERR'> = { INFO: 'INFO', WARN: 'WARN', WARNING: 'WARN', ERR: 'ERR', ERROR: 'ERR' };

export const command = defineCommand('ARMLOG', USAGE, async (argv, ctx) => {
  const { switches, operands } = parseArgs(argv, [
    { name: 'ARM', long: 'alert' },
    { name: 'L', long: 'level', value: true },
  ]);
  if (operands.length === 0) throw new CommandError('a message is required (try /? for usage)', EXIT_USAGE);
  const alert = switches.has('ARM');
  const levelArg = switches.get('L');
  let level: 'INFO' | 'WARN' | 'ERR' = alert ? 'WARN' : 'INFO';
  if (typeof levelArg === 'string') {
    const l = LEVELS[levelArg.toUpperCase()];
    if (!l) throw new CommandError(`level "${levelArg}" is not one of INFO, WARN, ERR`, EXIT_USAGE);
    level = l;
  }
  await call(clientPipe(ctx.env), 'log', {
    message: operands.join(' '),
    level,
    alert,
    group: ctx.env.ARMS_GROUPNAME || undefined,
    pid: ctx.pid,
    ppid: ctx.ppid,
    source: 'ARMLOG',
  });
});
