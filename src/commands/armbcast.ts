// ARMBCAST /MSG "text" [/A]: an operator message to the alert log and to every terminal.
import { call, CommandError } from '../client/client';
import { clientPipe } from '../platform/home';
import { defineCommand, EXIT_USAGE, parseArgs } from './cmdline';

const USAGE = `usage: ARMBCAST /MSG "text" [/A]

Writes the message to the alert log and broadcasts it to the users logged in (wall on Linux,
msg * on Windows, where present). /A (all) is accepted for legacy scripts: it is always all.
Exit codes: 0 done, 2 usage, 3 service not reachable.`;

export const command = defineCommand('ARMBCAST', USAGE, async (argv, ctx) => {
  const { switches, operands } = parseArgs(argv, [{ name: 'MSG', long: 'message', value: true }, { name: 'A', long: 'all' }]);
  const msg = switches.get('MSG');
  if (typeof msg !== 'string' || operands.length > 0) throw new CommandError('/MSG "text" is required (try /? for usage)', EXIT_USAGE);
  await call(clientPipe(ctx.env), 'broadcast', { message: msg, group: ctx.env.ARMS_GROUPNAME || undefined, pid: ctx.pid });
});
