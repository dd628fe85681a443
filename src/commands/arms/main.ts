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
import { serviceInstall, serviceStart, serviceStatus, serviceStop, serviceUninstall, UnitCommandOptions } from './service';

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
  .description('is armsd running? (exit 0 yes, 3 no); and its systemd unit: installed, enabled')
  .option('--json', 'machine-readable')
  .option('--user', "look for the unit among this user's (default when not root)")
  .option('--unit <name>', 'the unit name', 'armsd')
  .option('--unit-dir <dir>', 'look for the unit in this folder')
  .option('--name <name>', 'Windows: the name of the Windows service to report on', 'ARMS')
  .action(act((o: { json?: boolean; user?: boolean; unit: string; unitDir?: string; name: string }) => serviceStatus({ json: !!o.json, user: o.user, unit: o.unit, unitDir: o.unitDir, name: o.name })));
for (const what of ['install', 'uninstall'] as const) {
  const cmd = service
    .command(what)
    .description(
      what === 'install'
        ? 'Linux: a systemd unit that runs armsd at boot (Type=notify, watchdog, KillMode=process), enabled and started; makes the HTTP token. Windows: a Windows service (automatic start, recovery actions, event source)'
        : 'Linux: stop and disable the systemd unit, and remove it (the home stays). Windows: stop the Windows service (its groups stop first) and remove it',
    )
    .option('--user', 'a unit of your own (systemctl --user) instead of the system one')
    .option('--unit <name>', 'the unit name (several homes on one server: one unit each)', 'armsd')
    .option('--unit-dir <dir>', 'write the unit in this folder, enabled by its link, without calling systemctl (images, tests)')
    .option('--name <name>', 'Windows: the service name', 'ARMS');
  if (what === 'install') {
    cmd.option('--server <name>', "this server's name, given to armsd (default: arms.yaml's server:, else the host name)");
    cmd.option('--watchdog <seconds>', 'WatchdogSec: systemd restarts armsd when its event loop has not answered for this long', seconds, 30);
  }
  cmd.action(act((o: UnitCommandOptions) => (what === 'install' ? serviceInstall : serviceUninstall)({ ...o, user: !!o.user })));
}

service
  .command('reload')
  .description('read arms.yaml again (a broken one changes nothing); SIGHUP does the same')
  .action(act(() => reload()));

program
  .command('account')
  .description('Windows: accounts for ARMLOAD /U')
  .command('set <user>')
  .description("store the password of <user> (read from stdin) for ARMLOAD /U; the service seals it with DPAPI for its own account")
  .action(act((user: string) => (require('./account') as typeof import('./account')).accountSet(user)));

program
  .command('status')
  .description('the groups: state, since when, last event, last error')
  .option('--json', 'machine-readable (schema: docs/status.md)')
  .action(act((o: { json?: boolean }) => status({ json: !!o.json })));

const group = program.command('group').description('start, stop or restart a group (waits for the outcome: exit 0 reached, 1 failed, 4 unknown group)');
for (const action of ['start', 'stop', 'restart'] as const) {
  group
    .command(`${action} <name>`)
    .description(`${action} the group`)
    .option('--no-wait', 'return once the request is queued')
    .action(act((name: string, o: { wait: boolean }) => groupAction(action, name, { wait: o.wait })));
}
group
  .command('move <name> [server]')
  .description('move the group to SERVER, or to the next server of its policy (cluster only)')
  .option('--no-wait', 'return once the request is queued')
  .action(act((name: string, server: string | undefined, o: { wait: boolean }) => groupAction('move', name, { wait: o.wait, to: server })));

const maintenance = () => require('./maintenance') as typeof import('./maintenance');
const monitor = program.command('monitor').description('maintenance of monitors: a suspended monitor does not check (kept across service restarts)');
for (const action of ['suspend', 'resume'] as const) {
  monitor
    .command(`${action} [names...]`)
    .description(`${action} the named monitors (ARMRSP: its watch ID; monitors: of arms.yaml; armsd-os)`)
    .option('--all', 'every monitor the service knows of')
    .action(act((names: string[], o: { all?: boolean }) => maintenance().monitorSuspend(action === 'suspend', names, { all: !!o.all })));
}
const watch = program.command('watch').description('maintenance of watches: a suspended watch is neither restarted nor counted when its program ends');
for (const action of ['suspend', 'resume'] as const) {
  watch
    .command(`${action} <id>`)
    .description(action === 'suspend' ? 'suspend the watch' : 'resume it (its program starts again if it ended meanwhile)')
    .action(act((id: string) => maintenance().watchSuspend(action === 'suspend', id)));
}
program
  .command('alert')
  .description('the alert routes of arms.yaml: "arms alert test [ROUTE]" sends a test alert through each (exit 0 all delivered, 1 not, 4 no such route)')
  .argument('<what>', 'test')
  .argument('[route]', 'only this route')
  .action(
    act(async (what: string, route?: string) => {
      if (what !== 'test') throw new CommandError(`nothing called "${what}" (try: arms alert test [ROUTE])`, EXIT_USAGE);
      return maintenance().alertTest(route);
    }),
  );

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
  .command('check [files...]')
  .description("validate arms.yaml and the groups' batch scripts; every mistake with file:line (exit 0 valid, 1 not); with files, lint those .bat/.cmd files alone")
  .option('--cluster', "also compare this server's group definitions with the other servers' (through the service and etcd)")
  .option('--encoding <name>', 'read the batch files in this encoding (utf-8, shift_jis, utf-16le) instead of detecting it')
  .action(
    act(async (files: string[], o: { cluster?: boolean; encoding?: string }) => {
      if (o.encoding !== undefined || files.length > 0) {
        const { checkFiles } = require('./check-files') as typeof import('./check-files');
        return checkFiles(files, o.encoding);
      }
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
          console.log(`${c.file}: the groups' batch scripts have ${errors} line(s) that cannot be parsed: they would not run (docs/batch.md)`);
          return 1;
        }
        console.log(`${c.file}: valid; server ${c.server}, ${c.groups.length} group(s)${c.groups.length ? ': ' + c.groups.map((g) => g.name).join(', ') : ''}`);
        if (o.cluster) return (require('./cluster-check') as typeof import('./cluster-check')).checkCluster(c, home.config);
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
  .description('run one group script here with the environment the service would give it; it acts on the service for real (its ARMLOADs start watches that stay) unless --dry-run')
  .requiredOption('--event <event>', 'START, FAILOVER or RECOVER (for a stop script: how the group was started)')
  .option('--group <name>', 'the group whose settings apply (default: the group the script belongs to)')
  .option('--factor <factor>', 'run it as a stop script: GROUPSTOP, GROUPMOVE, GROUPFAILOVER, RESOURCERESTART, SERVERSHUTDOWN')
  .option('--disk <result>', 'ARMS_DISK to give (default: probe the group\'s disks, activating nothing)')
  .option('--timeout <seconds>', "stop it after this long (default: the group's timeout)", seconds)
  .option('--trace', 'print each line as it runs, with the branch taken (.bat/.cmd through the batch interpreter; .sh through sh -x)')
  .option('--encoding <name>', 'the .bat/.cmd file\'s encoding (utf-8, shift_jis, utf-16le) instead of detecting it')
  .option('--dry-run', 'show the ARM* lines (ARMLOAD, ARMKILL, ARMLOG, START ARMFOVER...) on stderr instead of sending them (.bat/.cmd)')
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
