// ARMFOVER [/F] [/W] groupname   (commands.md §4)
import { call, CommandError } from '../client/client';
import { clientPipe } from '../platform/home';
import { defineCommand, EXIT_USAGE, parseArgs } from './cmdline';

const USAGE = `usage: ARMFOVER [/F] [/W] groupname

Asks the service to fail the group over: stop it (CLP_FACTOR=GROUPFAILOVER), then start it on the
next server of its policy with ARMS_EVENT=FAILOVER (on one server: here again), within the group's
failover limit (maxFailovers per failoverWindow). Returns once the request is queued; a request
while one waits joins it. Called from the group's own start or stop script, it is carried out
after that script ends.
  /W   wait for the outcome (exit 0 online, 1 failed); not possible from the group's own script
  /F   go on even when the stop script fails
Exit codes: 0 queued (or, with /W, online), 1 failed, 2 usage, 3 service not reachable, 4 unknown group.`;

export const command = defineCommand('ARMFOVER', USAGE, async (argv, ctx) => {
  const { switches, operands } = parseArgs(argv, [
    { name: 'F', long: 'force' },
    { name: 'W', long: 'wait' },
  ]);
  if (operands.length !== 1) throw new CommandError(operands.length ? `one group name, not ${operands.length} words` : 'a group name is required (try /? for usage)', EXIT_USAGE);
  const wait = switches.has('W');
  const r = (await call(
    clientPipe(ctx.env),
    'group.failover',
    { name: operands[0], force: switches.has('F'), wait, group: ctx.env.ARMS_GROUPNAME || undefined, pid: ctx.pid },
    0,
  )) as { group: string; waited: boolean; joined: boolean; message?: string };
  if (r.waited) ctx.out(`ARMFOVER: ${r.message}\n`);
  else if (wait) ctx.out(`ARMFOVER: failover of group ${r.group} queued; it runs after this script ends (/W cannot wait from the group's own script)\n`);
  else ctx.out(`ARMFOVER: failover of group ${r.group} ${r.joined ? 'already queued (this request joins it)' : 'queued'}\n`);
});
