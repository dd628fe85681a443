// ARMKILL watchID [/T seconds]   (commands.md §2)
import { call, CommandError } from '../client/client';
import { clientPipe } from '../platform/home';
import { defineCommand, EXIT_USAGE, parseArgs } from './cmdline';

const USAGE = `usage: ARMKILL watchID [/T seconds]

Stops monitoring the watch, then stops its program and everything it started: politely first
(SIGTERM to its process group; Windows: taskkill /T), by force after /T seconds (default 10).
Exit codes: 0 stopped (or it had already ended), 1 it would not stop, 2 usage, 3 service not
reachable, 4 unknown watch ID, 5 the watch belongs to another group.`;

export const command = defineCommand('ARMKILL', USAGE, async (argv, ctx) => {
  const { switches, operands } = parseArgs(argv, [{ name: 'T', long: 'timeout', value: true }]);
  if (operands.length !== 1) throw new CommandError(operands.length ? `one watch ID, not ${operands.length} words` : 'a watch ID is required (try /? for usage)', EXIT_USAGE);
  const t = switches.get('T');
  if (t !== undefined && (typeof t !== 'string' || !/^\d+$/.test(t) || Number(t) > 86_400)) throw new CommandError(`/T needs a number of seconds, not "${t}"`, EXIT_USAGE);
  const timeoutS = t === undefined ? 10 : Number(t);
  const r = (await call(clientPipe(ctx.env), 'watch.kill', { id: operands[0], timeoutS, group: ctx.env.ARMS_GROUPNAME || undefined }, (timeoutS + 30) * 1000)) as { result: string };
  ctx.out(`ARMKILL: watch ${operands[0]} ${r.result === 'stopped' ? 'stopped' : 'released (its program had already ended)'}\n`);
});
