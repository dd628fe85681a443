// arms: the operator's tool. POSIX-style options (it is not called from legacy scripts).
import { printable } from '../printable';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { CommandError } from '../../client/client';
import { VERSION } from '../../version';
import { clientPipe, resolveHome } from '../../platform/home';
import { call } from '../../client/client';
import { groupAction, reload, status } from './groups';
import { showLog } from './log';
import type { RunOptions } from './run';
import { serviceStart, serviceStatus, serviceStop } from './service';

// The config (and the yaml package), the batch interpreter and the script runner are loaded only by
// the subcommands that use them: the others start tens of milliseconds sooner without them.
const config = () => require('../../service/config') as typeof import('../../service/config');

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
  .description('Operate the ARMS control service: the service, its groups, its logs.')
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

service
  .command('reload')
  .description('read arms.yaml again (a broken one changes nothing); SIGHUP does the same')
  .action(act(() => reload()));

program
  .command('status')
  .description('the groups: state, since when, last event, last error')
  .option('--json', 'machine-readable (schema: docs/status.md)')
  .action(act((o: { json?: boolean }) => status({ json: !!o.json })));

const group = program.command('group').description('start, stop or restart a group (waits for the outcome: exit 0 reached, 1 failed, 4 unknown group)');
for (const action of ['start', 'stop', 'restart', 'move'] as const) {
  group
    .command(`${action} <name>`)
    .description(action === 'move' ? 'move the group to the next server of its policy' : `${action} the group`)
    .option('--no-wait', 'return once the request is queued')
    .action(act((name: string, o: { wait: boolean }) => groupAction(action, name, { wait: o.wait })));
}

program
  .command('clear')
  .description('clear a count that holds the recovery ladder: "arms clear reboots"')
  .argument('<what>', 'reboots')
  .action(
    act(async (what: string) => {
      if (what !== 'reboots') throw new CommandError(`nothing called "${what}" to clear (try: arms clear reboots)`, EXIT_USAGE);
      const r = (await call(clientPipe(), 'reboots.clear', {})) as { cleared: number };
      console.log(`reboot count cleared (was ${r.cleared})`);
      return 0;
    }),
  );

program
  .command('check')
  .description("validate arms.yaml and the groups' batch scripts; every mistake with file:line (exit 0 valid, 1 not)")
  .action(
    act(async () => {
      const home = resolveHome();
      const { ConfigInvalid, formatProblem, loadConfig } = config();
      const { checkGroupScripts } = require('../../batch/group-check') as typeof import('../../batch/group-check');
      const { formatProblem: formatScriptProblem, isError } = require('../../batch/source') as typeof import('../../batch/source');
      try {
        const c = loadConfig(home.config);
        // cmd.exe runs .bat scripts on Windows; elsewhere the interpreter runs only its dialect.
        const scripts = process.platform === 'win32' ? [] : checkGroupScripts(c.groups);
        for (const p of scripts) console.log(formatScriptProblem(p));
        const errors = scripts.filter(isError).length;
        if (errors > 0) {
          console.log(`${c.file}: the groups' batch scripts have ${errors} construct(s) outside the batch dialect (docs/batch.md)`);
          return 1;
        }
        console.log(`${c.file}: valid; server ${c.server}, ${c.groups.length} group(s)${c.groups.length ? ': ' + c.groups.map((g) => g.name).join(', ') : ''}`);
        return 0;
      } catch (e) {
        if (!(e instanceof ConfigInvalid)) throw e;
        for (const p of e.problems) console.log(formatProblem(p));
        return 1;
      }
    }),
  );

program
  .command('run <script>')
  .description('run one group script here with the environment the service would give it')
  .requiredOption('--event <event>', 'START, FAILOVER or RECOVER (for a stop script: how the group was started)')
  .option('--group <name>', 'the group whose settings apply (default: the group the script belongs to)')
  .option('--factor <factor>', 'run it as a stop script: GROUPSTOP, GROUPMOVE, GROUPFAILOVER, RESOURCERESTART, SERVERSHUTDOWN')
  .option('--disk <result>', 'ARMS_DISK to give (default: probe the group\'s disks, activating nothing)')
  .option('--timeout <seconds>', "stop it after this long (default: the group's timeout)", seconds)
  .option('--trace', 'print each line as it runs, with the branch taken (.bat/.cmd through the batch interpreter; .sh through sh -x)')
  .action(act((script: string, o: RunOptions) => (require('./run') as typeof import('./run')).runOne(script, o)));

program
  .command('migrate <file>')
  .description("what in a legacy .bat will not work on this OS, with file:line and what to use instead (exit 0 nothing, 1 something); --to sh writes it as a POSIX shell script")
  .option('--to <language>', 'write the script in this language: sh')
  .option('-o, --output <file>', 'where --to writes (default: stdout, the report then on stderr)')
  .action(
    act(async (file: string, o: { to?: string; output?: string }) => {
      const fs = await import('node:fs');
      const { ConfigInvalid, loadConfig } = config();
      const { migrate } = require('../../batch/migrate') as typeof import('../../batch/migrate');
      const home = resolveHome();
      let services: string[] = [];
      let configFile: string | undefined;
      try {
        const c = loadConfig(home.config);
        services = Object.keys(c.services);
        configFile = c.file;
      } catch (e) {
        if (!(e instanceof ConfigInvalid)) throw e;
        process.stderr.write(`arms: ${e.problems[0]?.file ?? 'arms.yaml'} is not valid (arms check): its services: map is not used\n`);
      }
      const r = migrate(file, o, { services, configFile, platform: process.platform });
      if (r.usage) throw new CommandError(r.usage, EXIT_USAGE);
      const toStdout = r.sh !== null && o.output === undefined;
      if (r.sh !== null && o.output !== undefined) fs.writeFileSync(o.output, r.sh, { mode: 0o755 });
      if (toStdout) process.stdout.write(r.sh!);
      (toStdout ? process.stderr : process.stdout).write(r.report.join('\n') + '\n');
      return r.code;
    }),
  );

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
    process.stderr.write(`arms: ${printable(e instanceof CommandError ? e.message : `internal error: ${(e as Error).message}`)}\n`);
    process.exitCode = e instanceof CommandError ? e.exitCode : 1;
  },
);
