// ARMGETCD name: exits with the value ARMSETCD kept (0 when never set).
import { call, CommandError } from '../client/client';
import { clientPipe } from '../platform/home';
import { defineCommand, EXIT_USAGE, parseArgs } from './cmdline';

const USAGE = `usage: ARMGETCD name

Exits with the value kept under name by ARMSETCD (0 when never set), so a batch file reads it
as ERRORLEVEL. POSIX exit codes hold 0-255: other values arrive modulo 256 there. Errors: 2 usage,
3 service not reachable (as exit codes, indistinguishable from such values: check the message).`;

export const command = defineCommand('ARMGETCD', USAGE, async (argv, ctx) => {
  const { operands } = parseArgs(argv, []);
  if (operands.length !== 1) throw new CommandError('a name is required (try /? for usage)', EXIT_USAGE);
  const r = (await call(clientPipe(ctx.env), 'value.get', { name: operands[0] })) as { value: number };
  return process.platform === 'win32' ? r.value : r.value & 0xff;
});
