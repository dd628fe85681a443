// ARMSETCD name value: keeps a small integer in the service under a case-insensitive name.
import { call, CommandError } from '../client/client';
import { clientPipe } from '../platform/home';
import { defineCommand, EXIT_USAGE, parseArgs } from './cmdline';

const USAGE = `usage: ARMSETCD name value

Keeps the integer value in the service under name (case-insensitive), for ARMGETCD to read
back, from this or any other process. Exit codes: 0 kept, 2 usage, 3 service not reachable.`;

export const command = defineCommand('ARMSETCD', USAGE, async (argv, ctx) => {
  const { operands } = parseArgs(argv, []);
  if (operands.length !== 2) throw new CommandError('a name and a value are required (try /? for usage)', EXIT_USAGE);
  const [name, value] = operands;
  if (!/^-?\d+$/.test(value) || Math.abs(Number(value)) > 2147483647) throw new CommandError(`value must be an integer, not "${value}"`, EXIT_USAGE);
  await call(clientPipe(ctx.env), 'value.set', { name, value: Number(value) });
});
