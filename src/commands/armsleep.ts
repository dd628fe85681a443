// ARMSLEEP seconds: waits, exit 0 (legacy Windows had no sleep command).
import { CommandError } from '../client/client';
import { defineCommand, EXIT_USAGE, parseArgs } from './cmdline';

export const command = defineCommand('ARMSLEEP', 'usage: ARMSLEEP seconds\n\nWaits that many seconds (decimals allowed), then exits 0.', async (argv) => {
  const { operands } = parseArgs(argv, []);
  const s = Number(operands[0]);
  if (operands.length !== 1 || !/^\d+(\.\d+)?$/.test(operands[0]) || s > 86_400 * 7) throw new CommandError('a number of seconds is required (try /? for usage)', EXIT_USAGE);
  await new Promise((r) => setTimeout(r, s * 1000));
});
