// The batch interpreter the service keeps waiting for the next .bat script (src/service/batch-spare.ts):
// it is there only when a group has a .bat script, the script runs in that very process (in the
// script's folder, with the script's environment), a new one takes its place, a dead one is
// replaced without the script noticing, a timeout still stops the script's whole tree, and the
// service leaves none behind when it stops.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { alive, readLog, ROOT, run, startService, stopAll, tempDir, until } from '../helpers';
import { bat } from './run-bat';

afterAll(stopAll);

interface Proc {
  pid: number;
  ppid: number;
  cmdline: string[];
}

function processes(): Proc[] {
  const out: Proc[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (fields[0] === 'Z') continue;
      const cmdline = fs.readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0').filter(Boolean);
      out.push({ pid: Number(name), ppid: Number(fields[1]), cmdline });
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** The service's waiting runners: children of armsd running dist/batch/runner.js --warm. */
function spares(armsd: number): Proc[] {
  return processes().filter((p) => p.ppid === armsd && p.cmdline.some((a) => a.endsWith(path.join('batch', 'runner.js'))) && p.cmdline.includes('--warm'));
}

/** Blocked reading its stdin: warmed up and waiting for a job (node's "pipes" are socket pairs). */
function waiting(pid: number): boolean {
  try {
    return /pipe_read|pipe_wait|unix_stream_read/.test(fs.readFileSync(`/proc/${pid}/wchan`, 'utf8'));
  } catch {
    return false;
  }
}

/** The one runner the service keeps, once it waits for its job. */
const oneSpare = (armsd: number) => until(async () => spares(armsd), (s) => s.length === 1 && waiting(s[0].pid), 10_000);

function groupsConfig(groups: Record<string, { start: string; stop: string; timeout?: string }>): string {
  let y = 'server: SRV\nsyslog: false\ngroups:\n';
  for (const [name, g] of Object.entries(groups)) {
    y += `  ${name}:\n    start: ${g.start}\n    stop: ${g.stop}\n`;
    if (g.timeout) y += `    timeouts: { start: ${g.timeout}, stop: ${g.timeout} }\n`;
  }
  return y;
}

function writeGroup(home: string, name: string, files: Record<string, string>): string {
  const dir = path.join(home, 'groups', name);
  fs.mkdirSync(dir, { recursive: true });
  for (const [file, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, file), text, { mode: 0o755 });
  return dir;
}

/** A start script that tells which process ran it (the parent of the sh it starts), its folder and its event. */
const REPORTER = bat(`
  @ECHO OFF
  sh -c "echo ran-in $PPID"
  ECHO folder %CD% event %ARMS_EVENT% group %ARMS_GROUPNAME%
`);

const scriptLines = (home: string, group: string) => readLog(home).filter((x) => x.src === 'script' && x.group === group).map((x) => x.msg);

describe.runIf(process.platform === 'linux')('the waiting batch interpreter', () => {
  it('a .bat group\'s script runs in the runner the service kept waiting, in its folder with its event; a new one waits after it', async () => {
    const home = tempDir();
    const dir = writeGroup(home, 'ORDERS', { 'START.BAT': REPORTER, 'STOP.BAT': bat('@ECHO OFF') });
    const svc = await startService({ home, config: groupsConfig({ ORDERS: { start: 'START.BAT', stop: 'STOP.BAT' } }) });
    const [first] = await oneSpare(svc.proc.pid!);
    expect(fs.readlinkSync(`/proc/${first.pid}/cwd`)).toBe('/'); // never holds a disk a group may unmount

    expect((await run('arms', ['group', 'start', 'ORDERS'], svc.env)).code).toBe(0);
    expect(scriptLines(home, 'ORDERS')).toEqual([`ran-in ${first.pid}`, `folder ${dir} event START group ORDERS`]);
    const [next] = await oneSpare(svc.proc.pid!);
    expect(next.pid).not.toBe(first.pid);
    expect(alive(first.pid)).toBe(false);
    await svc.stop();
  });

  it('none is kept without a .bat group; a reload that adds one starts it, one that removes it stops it; none is left after the service', async () => {
    const home = tempDir();
    writeGroup(home, 'SH', { 'start.sh': 'echo sh\n', 'stop.sh': 'true\n' });
    writeGroup(home, 'BAT', { 'START.BAT': bat('@ECHO bat'), 'STOP.BAT': bat('@ECHO OFF') });
    const shOnly = groupsConfig({ SH: { start: 'start.sh', stop: 'stop.sh' } });
    const both = groupsConfig({ SH: { start: 'start.sh', stop: 'stop.sh' }, BAT: { start: 'START.BAT', stop: 'STOP.BAT' } });
    const svc = await startService({ home, config: shOnly });
    expect(spares(svc.proc.pid!)).toEqual([]);

    fs.writeFileSync(path.join(home, 'arms.yaml'), both);
    expect((await run('arms', ['service', 'reload'], svc.env)).code).toBe(0);
    const [spare] = await oneSpare(svc.proc.pid!);

    fs.writeFileSync(path.join(home, 'arms.yaml'), shOnly);
    expect((await run('arms', ['service', 'reload'], svc.env)).code).toBe(0);
    expect(await until(async () => alive(spare.pid), (a) => !a, 5000)).toBe(false);
    expect(spares(svc.proc.pid!)).toEqual([]);

    fs.writeFileSync(path.join(home, 'arms.yaml'), both);
    expect((await run('arms', ['service', 'reload'], svc.env)).code).toBe(0);
    const [again] = await oneSpare(svc.proc.pid!);
    await svc.stop();
    expect(await until(async () => alive(again.pid), (a) => !a, 5000)).toBe(false);
  });

  it('warmBatch: false keeps none (the script starts its own runner); a reload turning it on starts one', async () => {
    const home = tempDir();
    const dir = writeGroup(home, 'ORDERS', { 'START.BAT': REPORTER, 'STOP.BAT': bat('@ECHO OFF') });
    const config = groupsConfig({ ORDERS: { start: 'START.BAT', stop: 'STOP.BAT' } });
    const svc = await startService({ home, config: `warmBatch: false\n${config}` });
    expect((await run('arms', ['group', 'start', 'ORDERS'], svc.env)).code).toBe(0);
    expect(scriptLines(home, 'ORDERS')).toEqual([expect.stringMatching(/^ran-in \d+$/), `folder ${dir} event START group ORDERS`]);
    expect(spares(svc.proc.pid!)).toEqual([]);
    fs.writeFileSync(path.join(home, 'arms.yaml'), `warmBatch: true\n${config}`);
    expect((await run('arms', ['service', 'reload'], svc.env)).code).toBe(0);
    await oneSpare(svc.proc.pid!);
    fs.writeFileSync(path.join(home, 'arms.yaml'), `warmBatch: sometimes\n${config}`);
    const check = await run('arms', ['check'], svc.env);
    expect([check.code, check.stdout + check.stderr]).toEqual([1, expect.stringContaining(`${path.join(home, 'arms.yaml')}:1: warmBatch: expected true or false`)]);
    await svc.stop();
  });

  it('a runner killed while it waits is replaced: the script still runs, and a runner waits again', async () => {
    const home = tempDir();
    writeGroup(home, 'ORDERS', { 'START.BAT': REPORTER, 'STOP.BAT': bat('@ECHO OFF') });
    const svc = await startService({ home, config: groupsConfig({ ORDERS: { start: 'START.BAT', stop: 'STOP.BAT' } }) });
    const [first] = await oneSpare(svc.proc.pid!);
    process.kill(first.pid, 'SIGKILL');
    await until(async () => alive(first.pid), (a) => !a, 5000);

    expect((await run('arms', ['group', 'start', 'ORDERS'], svc.env)).code).toBe(0);
    const lines = scriptLines(home, 'ORDERS');
    expect(lines[0]).toMatch(/^ran-in \d+$/);
    expect(lines[0]).not.toBe(`ran-in ${first.pid}`);
    expect(lines[1]).toBe(`folder ${path.join(home, 'groups', 'ORDERS')} event START group ORDERS`);
    await oneSpare(svc.proc.pid!);
    await svc.stop();
  });

  it('a script past its timeout is stopped with the programs it started, as a script of its own process', async () => {
    const home = tempDir();
    const marker = `60.${String(process.pid % 1000).padStart(3, '0')}${String(Date.now() % 1000).padStart(3, '0')}`; // a sleep only this test starts
    writeGroup(home, 'SLOW', {
      'START.BAT': bat(`
        @ECHO OFF
        START /B sleep ${marker}
        sleep ${marker}
      `),
      'STOP.BAT': bat('@ECHO OFF'),
    });
    const svc = await startService({ home, config: groupsConfig({ SLOW: { start: 'START.BAT', stop: 'STOP.BAT', timeout: '1s' } }) });
    await oneSpare(svc.proc.pid!);
    const r = await run('arms', ['group', 'start', 'SLOW'], svc.env);
    expect(r.code).not.toBe(0);
    expect(readLog(home).map((x) => x.msg).filter((m) => m.startsWith('start script'))).toEqual([expect.stringMatching(/^start script START\.BAT \(START\) timed out after 1 s/)]);
    const left = await until(async () => processes().filter((p) => p.cmdline[0] === 'sleep' && p.cmdline[1] === marker), (ps) => ps.length === 0, 10_000);
    expect(left).toEqual([]);
    await svc.stop();
  });

  it('a job it cannot read is refused with one line and exit 2; no job at all (the service went away) ends it quietly', () => {
    const runner = path.join(ROOT, 'dist', 'batch', 'runner.js');
    const cases: Array<[string, RegExp | '']> = [
      ['not json', /^batch: no job to run: Unexpected token .*\n$/],
      ['{"file":"x.bat"}', /^batch: no job to run: a job needs file, args, env and cwd\n$/],
      ['{"file":"x.bat","args":[1],"env":{},"cwd":"/"}', /^batch: no job to run: a job needs file, args, env and cwd\n$/],
      ['', ''],
    ];
    for (const [input, said] of cases) {
      const r = spawnSync(process.execPath, [runner], { input, encoding: 'utf8' });
      expect([r.status, r.stdout]).toEqual([2, '']);
      if (said === '') expect(r.stderr).toBe('');
      else expect(r.stderr).toMatch(said);
    }
    const dir = tempDir();
    const r = spawnSync(process.execPath, [runner], { input: JSON.stringify({ file: 'S.BAT', args: [], env: {}, cwd: path.join(dir, 'gone') }), encoding: 'utf8' });
    expect([r.status, r.stderr]).toEqual([1, `batch: cannot change to the folder ${path.join(dir, 'gone')} (ENOENT)\n`]);
  });
});
