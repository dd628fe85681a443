// arms: the operator's tool. POSIX-style options (it is not called from legacy scripts).
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { CommandError } from '../../client/client';
import { VERSION } from '../../version';
import { showLog } from './log';
import { serviceStart, serviceStatus, serviceStop } from './service';

const EXIT_USAGE = 2;

function seconds(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a number of seconds');
  return n;
}

function count(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('expected a whole number (0 = all)');
  return n;
}

let result: Promise<number> = Promise.resolve(0);
const act =
  <A extends unknown[]>(fn: (...a: A) => Promise<number>) =>
  (...a: A) => {
    result = fn(...a);
  };

const program = new Command('arms')
  .description('Operate the ARMS control service: start and stop it, read its logs.')
  .version(VERSION, '-V, --version')
  .exitOverride()
  .configureOutput({ outputError: (s, write) => write(`arms: ${s.replace(/^error: /, '')}`) })
  .showSuggestionAfterError(true);

const service = program.command('service').description('start, stop or query the control service (armsd) of this home');
service
  .command('start')
  .description('start armsd in the background; returns once its pipe answers')
  .option('--timeout <seconds>', 'how long to wait for the pipe to answer', seconds, 15)
  .action(act((o: { timeout: number }) => serviceStart(o)));
service
  .command('stop')
  .description('stop armsd cleanly; returns once it has exited')
  .option('--timeout <seconds>', 'how long to wait for it to exit', seconds, 600)
  .action(act((o: { timeout: number }) => serviceStop(o)));
service
  .command('status')
  .description('is armsd running? (exit 0 yes, 3 no)')
  .option('--json', 'machine-readable')
  .action(act((o: { json?: boolean }) => serviceStatus({ json: !!o.json })));

program
  .command('log')
  .description('show the cluster log (or the alert log) for people')
  .option('-f, --follow', 'keep printing new lines')
  .option('--alert', 'the alert log instead of the cluster log')
  .option('--group <name>', 'only lines of this group')
  .option('--json', 'the raw JSON lines')
  .option('-n, --lines <count>', 'how many of the newest lines (0 = all)', count, 100)
  .action(
    act((o: { follow?: boolean; alert?: boolean; group?: string; json?: boolean; lines: number }) =>
      showLog({ follow: !!o.follow, alert: !!o.alert, group: o.group, json: !!o.json, lines: o.lines }),
    ),
  );

async function main(): Promise<number> {
  try {
    await program.parseAsync(process.argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      if (['commander.helpDisplayed', 'commander.version', 'commander.help'].includes(e.code)) return 0;
      return EXIT_USAGE;
    }
    throw e;
  }
  return result;
}

main().then(
  (code) => (process.exitCode = code),
  (e) => {
    process.stderr.write(`arms: ${e instanceof CommandError ? e.message : `internal error: ${(e as Error).message}`}\n`);
    process.exitCode = e instanceof CommandError ? e.exitCode : 1;
  },
);
