// ARMRSP [/A] [/DISK path]... [/IP address]... [/NIC name]... [/HTTP url [/EXPECT text]]...
//        [/CMD "command"]... [/INT seconds] [/TIMEOUT seconds] [/N count]   (commands.md §6)
// The resident resource monitor: checks every /INT seconds, reports each result to the service,
// exits 1 when one resource has failed /N checks in a row (so that ARMLOAD restarts it, then fails
// the group over). Docs: docs/armrsp.md.
import { call, CommandError, connect, Connection } from '../client/client';
import { clientPipe } from '../platform/home';
import { addressCheck, parseAddress } from '../monitors/address';
import { killRunningCommands, commandCheck } from '../monitors/command';
import { diskCheck, probeName } from '../monitors/disk';
import { httpCheck, parseHttpUrl } from '../monitors/http';
import { Check, CheckResult, seconds, startLoop } from '../monitors/loop';
import { nicCheck } from '../monitors/nic';
import { ProbeHelper } from '../monitors/probe-helper';
import { defineCommand, EXIT_USAGE, HelpRequested } from './cmdline';

const USAGE = `usage: ARMRSP [/A] [/DISK path [/FREE size]]... [/IP address]... [/NIC name]...
              [/HTTP url [/EXPECT text]]... [/CMD "command"]... [/INT seconds] [/TIMEOUT seconds] [/N count]

Checks resources every /INT seconds (default 10) until one of them fails /N checks in a row
(default 3), then names it and the reason on stderr and in the alert log and exits 1. Meant to run
under ARMLOAD: ARMLOAD RSP /R 9 /H 1 /FOV ARMRSP /A
  /A           every resource of the caller's group (ARMS_GROUPNAME) in the config: its disks,
               addresses and NICs
  /DISK path   write, fsync, read back and delete a probe file in the folder
  /FREE size   with the /DISK before it: also fail when less is free (512MB, 10GB); before any
               /DISK: for every disk without its own
  /IP address  ICMP echo through the OS ping; host:port (or [v6]:port): a TCP connect
  /NIC name    the network interface's link is up
  /HTTP url    a GET answers 2xx or 3xx; /EXPECT text: and its body contains the text
  /CMD "cmd"   a command line through the shell; exit code 0 is healthy
  /TIMEOUT s   each check fails when it has not answered within this time (default 10)
Each option may be repeated; seconds may have a fraction (0.5). Every result goes to the service
("arms status" shows the last one of each resource).
Exit codes: 1 a resource failed, 2 usage or nothing to check, 3 service not reachable (/A),
4 unknown group (/A).`;

type Spec =
  | { kind: 'disk'; path: string; minFree?: number }
  | { kind: 'ip'; text: string }
  | { kind: 'nic'; name: string }
  | { kind: 'http'; url: string; expect?: string }
  | { kind: 'cmd'; command: string };

interface Options {
  all: boolean;
  specs: Spec[];
  /** /FREE before any /DISK */
  defaultFree?: number;
  intervalS: number;
  timeoutS: number;
  count: number;
}

const SWITCHES: Record<string, { long: string; value: boolean }> = {
  A: { long: 'all', value: false },
  DISK: { long: 'disk', value: true },
  FREE: { long: 'free', value: true },
  IP: { long: 'ip', value: true },
  NIC: { long: 'nic', value: true },
  HTTP: { long: 'http', value: true },
  EXPECT: { long: 'expect', value: true },
  CMD: { long: 'cmd', value: true },
  INT: { long: 'interval', value: true },
  TIMEOUT: { long: 'timeout', value: true },
  N: { long: 'count', value: true },
};

const usage = (msg: string) => new CommandError(msg, EXIT_USAGE);

/** cmd-style options that may repeat (cmdline.parseArgs keeps the last value of a switch). */
export function parseOptions(argv: string[]): Options {
  const o: Options = { all: false, specs: [], intervalS: 10, timeoutS: 10, count: 3 };
  for (let i = 0; i < argv.length; i++) {
    const tok = argv[i];
    if (tok === '/?' || tok === '-?' || tok === '-h' || tok === '--help') throw new HelpRequested();
    let name: string | undefined;
    let inline: string | undefined;
    if (tok.startsWith('--') && tok.length > 2) {
      const [n, ...rest] = tok.slice(2).split('=');
      name = Object.keys(SWITCHES).find((k) => SWITCHES[k].long === n.toLowerCase());
      if (!name) throw usage(`unknown option "${tok}" (try /? for usage)`);
      if (rest.length > 0) inline = rest.join('=');
    } else if (tok.startsWith('/') && /^\/[A-Za-z?][A-Za-z0-9]{0,7}$/.test(tok)) {
      name = tok.slice(1).toUpperCase();
      if (!SWITCHES[name]) throw usage(`unknown option "${tok}" (try /? for usage)`);
    } else if (/^-[A-Za-z]$/.test(tok)) {
      throw usage(`unknown option "${tok}" (try /? for usage)`);
    } else {
      throw usage(`unexpected argument "${tok}": resources are named with /DISK, /IP, /NIC, /HTTP or /CMD (try /? for usage)`);
    }
    const sw = SWITCHES[name];
    let value = '';
    if (sw.value) {
      const v = inline ?? argv[++i];
      if (v === undefined) throw usage(`option ${tok} needs a value`);
      value = v;
    } else if (inline !== undefined) {
      throw usage(`option --${sw.long} takes no value`);
    }
    switch (name) {
      case 'A':
        o.all = true;
        break;
      case 'DISK':
        if (!value) throw usage('/DISK needs a folder');
        if (/[\n\0]/.test(value)) throw usage(`/DISK ${JSON.stringify(value)}: a folder with a line break in its path cannot be checked`);
        o.specs.push({ kind: 'disk', path: value });
        break;
      case 'FREE': {
        const bytes = parseSize(value);
        if (bytes === null) throw usage(`/FREE needs a size such as 512MB or 10GB, not "${value}"`);
        const disk = [...o.specs].reverse().find((s): s is Extract<Spec, { kind: 'disk' }> => s.kind === 'disk');
        if (!disk) o.defaultFree = bytes;
        else if (disk.minFree !== undefined) throw usage(`/FREE is given twice for /DISK ${disk.path}`);
        else disk.minFree = bytes;
        break;
      }
      case 'IP':
        if (!parseAddress(value)) throw usage(`/IP needs an address, a host name, or host:port, not "${value}"`);
        o.specs.push({ kind: 'ip', text: value.trim() });
        break;
      case 'NIC':
        if (!value || /[\s/]/.test(value)) throw usage(`/NIC needs a network interface name, not "${value}"`);
        o.specs.push({ kind: 'nic', name: value });
        break;
      case 'HTTP':
        if (!parseHttpUrl(value)) throw usage(`/HTTP needs an http:// or https:// URL, not "${value}"`);
        o.specs.push({ kind: 'http', url: value });
        break;
      case 'EXPECT': {
        const last = o.specs[o.specs.length - 1];
        if (!last || last.kind !== 'http') throw usage('/EXPECT applies to the /HTTP just before it');
        if (last.expect !== undefined) throw usage(`/EXPECT is given twice for /HTTP ${last.url}`);
        if (!value) throw usage('/EXPECT needs a text');
        last.expect = value;
        break;
      }
      case 'CMD':
        if (!value.trim()) throw usage('/CMD needs a command line');
        o.specs.push({ kind: 'cmd', command: value });
        break;
      case 'INT':
        o.intervalS = secondsArg(value, '/INT');
        break;
      case 'TIMEOUT':
        o.timeoutS = secondsArg(value, '/TIMEOUT');
        break;
      case 'N':
        if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > 1000) throw usage(`/N needs a whole number from 1 to 1000, not "${value}"`);
        o.count = Number(value);
        break;
    }
  }
  return o;
}

function secondsArg(v: string, name: string): number {
  const n = Number(v);
  if (!/^\d+(\.\d+)?$/.test(v) || n < 0.1 || n > 86_400) throw usage(`${name} needs a number of seconds from 0.1 to 86400, not "${v}"`);
  return n;
}

const SIZE_UNITS: Record<string, number> = { '': 1, B: 1, K: 1024, KB: 1024, M: 1024 ** 2, MB: 1024 ** 2, G: 1024 ** 3, GB: 1024 ** 3, T: 1024 ** 4, TB: 1024 ** 4 };

function parseSize(text: string): number | null {
  const m = /^(\d+(?:\.\d+)?)\s*([A-Za-z]*)$/.exec(text.trim());
  const unit = m ? SIZE_UNITS[m[2].toUpperCase().replace(/IB$/, 'B')] : undefined;
  return m && unit !== undefined ? Math.round(Number(m[1]) * unit) : null;
}

/** The service's answer to group.resources. */
interface GroupResources {
  group: string;
  disks: string[];
  addresses: string[];
  nics: string[];
}

/** /A: the group's resources from the config, and its name as configured. */
async function groupSpecs(pipe: string, group: string | undefined): Promise<{ group: string; specs: Spec[] }> {
  if (!group) throw usage('/A checks the resources of the caller\'s group: run it from a group script (ARMS_GROUPNAME is not set)');
  const r = (await call(pipe, 'group.resources', { name: group })) as GroupResources;
  const specs: Spec[] = [];
  for (const path of r.disks) {
    if (/[\n\0]/.test(path)) throw usage(`group ${r.group}: disk ${JSON.stringify(path)} in the config has a line break in its path: it cannot be checked`);
    specs.push({ kind: 'disk', path });
  }
  for (const text of r.addresses) {
    if (!parseAddress(text)) throw usage(`group ${r.group}: address "${text}" in the config is neither an address nor host:port`);
    specs.push({ kind: 'ip', text: text.trim() });
  }
  for (const name of r.nics) specs.push({ kind: 'nic', name });
  return { group: r.group, specs };
}

function toCheck(s: Spec, prober: () => ProbeHelper, monitor: string, loop: { intervalMs: number; timeoutMs: number }, defaultFree?: number): Check {
  switch (s.kind) {
    case 'disk':
      return diskCheck(s.path, { prober: prober(), probeName: probeName(monitor), minFree: s.minFree ?? defaultFree });
    case 'ip':
      return addressCheck(s.text, parseAddress(s.text)!, { ...loop, helper: prober });
    case 'nic':
      return nicCheck(s.name);
    case 'http':
      return httpCheck(s.url, s.expect);
    case 'cmd':
      return commandCheck(s.command);
  }
}

const specKey = (s: Spec) => (s.kind === 'disk' ? `disk ${s.path}` : s.kind === 'ip' ? `ip ${s.text}` : s.kind === 'nic' ? `nic ${s.name}` : s.kind === 'http' ? `http ${s.url} ${s.expect ?? ''}` : `cmd ${s.command}`);

/**
 * Reports go through one connection kept open; when the service is away the monitor goes on (the
 * checks are local) and says so once on stderr.
 */
class Reporter {
  private conn: Promise<Connection> | null = null;
  private away = false;

  constructor(private pipe: string) {}

  /** what the service answered, or null when it did not */
  answer: unknown = null;

  async send(op: string, args: Record<string, unknown>, timeoutMs = 5000): Promise<boolean> {
    if (!this.conn) {
      this.conn = connect(this.pipe, timeoutMs);
      this.conn.catch(() => undefined);
    }
    const conn = this.conn;
    try {
      const c = await conn;
      this.answer = await c.request(op, args, timeoutMs);
      if (this.away) {
        this.away = false;
        say('the service answers again: reporting to it again');
      }
      return true;
    } catch (e) {
      // Drop this connection (not a newer one another report has made meanwhile).
      if (this.conn === conn) this.conn = null;
      conn.then((c) => c.destroy(), () => undefined);
      if (!this.away) {
        this.away = true;
        process.stderr.write(`ARMRSP: cannot report to the service (${(e as Error).message}); monitoring goes on\n`);
      }
      return false;
    }
  }

  close(): void {
    this.conn?.then((c) => c.destroy(), () => undefined);
    this.conn = null;
  }
}

function say(line: string): void {
  process.stdout.write(`ARMRSP: ${line}\n`);
}

const describe = (c: Check) => `${c.kind} ${c.resource}`;

/**
 * /A on a group with nothing to check: says why (watch log, cluster log at WARN, `arms status`) and
 * stays resident until ARMKILL stops it, so that its watch neither restarts it nor fails the group over.
 */
async function stayIdle(pipe: string, monitor: string, group: string): Promise<number> {
  const why = `group ${group} has no disks, addresses or NICs in the config and no /DISK, /IP, /NIC, /HTTP or /CMD was given: nothing to watch`;
  say(`${monitor}: ${why}; staying resident without checking (ARMKILL ends it)`);
  const reporter = new Reporter(pipe);
  await reporter.send('monitor.report', { monitor, group, resource: '(nothing to watch)', kind: 'none', ok: true, detail: why, failures: 0 });
  await reporter.send('log', {
    message: `ARMRSP ${monitor}: ${why}; it stays resident without checking (add disks:, addresses: or nics: to the group, then restart the group)`,
    level: 'WARN',
    group,
    pid: process.pid,
    ppid: process.ppid,
    source: 'ARMRSP',
  });
  reporter.close();
  return new Promise<number>((resolve) => {
    const keep = setInterval(() => undefined, 1 << 30);
    for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as NodeJS.Signals[]) {
      process.on(sig, () => {
        clearInterval(keep);
        say(`stopped by ${sig}`);
        resolve(128 + ({ SIGHUP: 1, SIGINT: 2, SIGTERM: 15 } as Record<string, number>)[sig]);
      });
    }
  });
}

export const command = defineCommand('ARMRSP', USAGE, async (argv) => {
  const opts = parseOptions(argv);
  const pipe = clientPipe();
  let group = process.env.ARMS_GROUPNAME || undefined;
  const monitor = process.env.ARMS_WATCH_ID || `pid ${process.pid}`;

  const specs: Spec[] = [];
  const seen = new Set<string>();
  const fromGroup = opts.all ? await groupSpecs(pipe, group) : null;
  if (fromGroup) group = fromGroup.group;
  for (const s of [...(fromGroup?.specs ?? []), ...opts.specs]) {
    if (seen.has(specKey(s))) continue;
    seen.add(specKey(s));
    specs.push(s);
  }
  if (specs.length === 0) {
    if (!opts.all) throw usage('nothing to check: give /A or at least one /DISK, /IP, /NIC, /HTTP or /CMD (try /? for usage)');
    // The guide's START.BAT loads ARMRSP /A in every group; a group without disks, addresses or NICs
    // is a configuration, not a failure: exiting would only feed its watch's restart loop.
    return stayIdle(pipe, monitor, group!);
  }

  let prober: ProbeHelper | null = null;
  const getProber = () => (prober ??= new ProbeHelper());
  const intervalMs = opts.intervalS * 1000;
  const timeoutMs = opts.timeoutS * 1000;
  const checks = specs.map((s) => toCheck(s, getProber, monitor, { intervalMs, timeoutMs }, opts.defaultFree));
  const reporter = new Reporter(pipe);

  say(
    `${monitor}${group ? ` (group ${group})` : ''}: checking ${checks.length} resource${checks.length === 1 ? '' : 's'} every ${seconds(intervalMs)} ` +
      `(timeout ${seconds(timeoutMs)}; exit after ${opts.count} failed check${opts.count === 1 ? '' : 's'} in a row): ${checks.map(describe).join(', ')}`,
  );

  // Maintenance and recovery are the service's: a suspended monitor does not check; a monitor with a
  // recovery: in the config keeps checking past /N, the service acting on its failures. Asked once
  // at the start, then learnt from the answer to each report (and asked again while suspended).
  const learn = (a: unknown) => {
    if (typeof a !== 'object' || a === null) return;
    const s = a as { suspended?: unknown; recovery?: unknown };
    if (typeof s.suspended === 'boolean' && s.suspended !== suspended) {
      suspended = s.suspended;
      say(suspended ? `${monitor}: suspended by the service (maintenance): not checking until resumed` : `${monitor}: resumed: checking again`);
    }
    if (typeof s.recovery === 'boolean') recovery = s.recovery;
  };
  let suspended = false;
  let recovery = false;
  if (await reporter.send('monitor.state', { monitor })) learn(reporter.answer);
  const askWhileSuspended = setInterval(() => {
    if (suspended) void reporter.send('monitor.state', { monitor }).then((ok) => ok && learn(reporter.answer));
  }, Math.max(1000, Math.min(intervalMs, 10_000)));
  askWhileSuspended.unref();

  const report = (r: CheckResult) =>
    reporter
      .send('monitor.report', {
        monitor,
        group,
        resource: r.check.resource.slice(0, 4096),
        kind: r.check.kind,
        ok: r.outcome.ok,
        detail: r.outcome.detail.slice(0, 4096),
        failures: r.failures,
        limit: opts.count,
      })
      .then((ok) => {
        if (ok) learn(reporter.answer);
        return ok;
      });

  let lastReport: Promise<boolean> = Promise.resolve(true);
  const wasFailing = new Set<Check>();
  const loop = startLoop({
    checks,
    intervalMs,
    timeoutMs,
    maxFailures: opts.count,
    paused: () => suspended,
    endsAtMax: () => !recovery,
    onResult(r) {
      lastReport = report(r);
      if (!r.outcome.ok) say(`${describe(r.check)} FAILED (${r.failures} of ${opts.count}): ${r.outcome.detail}`);
      else if (wasFailing.delete(r.check)) say(`${describe(r.check)} ok again: ${r.outcome.detail}`);
      if (!r.outcome.ok) wasFailing.add(r.check);
    },
  });

  const cleanup = () => {
    clearInterval(askWhileSuspended);
    loop.stop();
    killRunningCommands();
    (prober as ProbeHelper | null)?.close();
    for (const c of checks) c.close?.();
  };
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as NodeJS.Signals[]) {
    process.on(sig, () => {
      cleanup();
      reporter.close();
      say(`stopped by ${sig}`);
      process.exit(128 + ({ SIGHUP: 1, SIGINT: 2, SIGTERM: 15 } as Record<string, number>)[sig]);
    });
  }

  const failed = await loop.failed;
  cleanup();
  const what = `${describe(failed.check)} failed ${failed.failures} check${failed.failures === 1 ? '' : 's'} in a row: ${failed.outcome.detail}`;
  process.stderr.write(`ARMRSP: ${what}\n`);
  await lastReport;
  await reporter.send('log', {
    message: `ARMRSP ${monitor}: ${what}; exiting`,
    level: 'ERR',
    alert: true,
    group,
    pid: process.pid,
    ppid: process.ppid,
    source: 'ARMRSP',
  });
  reporter.close();
  // A check still under way (a ping waiting for its reply) must not hold the exit up.
  setTimeout(() => process.exit(), 200).unref();
  return 1;
});
