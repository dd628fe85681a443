// ARMDOWN [/R | /P] [/NOSTOP]   (commands.md §5)
import { call, CommandError } from '../client/client';
import { clientPipe } from '../platform/home';
import { defineCommand, EXIT_USAGE, parseArgs } from './cmdline';

const USAGE = `usage: ARMDOWN [/R | /P] [/NOSTOP]

Asks the service to stop every group (CLP_FACTOR=SERVERSHUTDOWN), then shut the server down (the
config's power.shutdown command), /R reboot it (power.reboot), /P power it off (power.poweroff).
/NOSTOP skips the groups' stop (emergency). Returns once the request is accepted.
Exit codes: 0 accepted, 2 usage, 3 service not reachable.`;

export const command = defineCommand('ARMDOWN', USAGE, async (argv, ctx) => {
  const { switches, operands } = parseArgs(argv, [
    { name: 'R', long: 'reboot' },
    { name: 'P', long: 'poweroff' },
    { name: 'NOSTOP', long: 'no-stop' },
  ]);
  if (operands.length > 0) throw new CommandError(`unexpected "${operands[0]}" (try /? for usage)`, EXIT_USAGE);
  if (switches.has('R') && switches.has('P')) throw new CommandError('/R and /P exclude each other', EXIT_USAGE);
  const action = switches.has('R') ? 'reboot' : switches.has('P') ? 'poweroff' : 'shutdown';
  await call(clientPipe(ctx.env), 'server.down', { action, noStop: switches.has('NOSTOP'), pid: ctx.pid, group: ctx.env.ARMS_GROUPNAME || undefined });
  ctx.out(`ARMDOWN: server ${action} accepted${switches.has('NOSTOP') ? ' (groups not stopped)' : ''}\n`);
});
