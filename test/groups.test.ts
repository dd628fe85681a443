import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { call } from '../src/client/client';
import { alive, envFor, readLog, run, sleep, startService, stopAll, tempDir } from './helpers';

afterAll(stopAll);

interface Scripts {
  [group: string]: { start: string; stop?: string; settings?: string };
}

/** A home with these groups (scripts written into groups/NAME/) and the service started on it. */
async function serviceWith(groups: Scripts, extraConfig = '', env: NodeJS.ProcessEnv = {}) {
  const home = tempDir();
  let config = `server: TESTSRV\nsyslog: false\ngroups:\n`;
  for (const [name, g] of Object.entries(groups)) {
    const dir = path.join(home, 'groups', name);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'start.sh'), g.start);
    fs.writeFileSync(path.join(dir, 'stop.sh'), g.stop ?? 'exit 0\n');
    config += `  ${name}:\n    start: start.sh\n    stop: stop.sh\n${(g.settings ?? '').replace(/^/gm, '    ')}\n`;
  }
  return startService({ home, config: config + extraConfig, env });
}

type Status = { groups: Array<{ name: string; state: string; lastError: { exitCode: number | null; message: string; step: string } | null; queued: number; lastEvent: any; since: string; startedAs: string | null; disk: string | null }> };

async function groupStatus(pipe: string, name: string) {
  const s = (await call(pipe, 'status')) as Status;
  return s.groups.find((g) => g.name === name)!;
}


describe('group life cycle', () => {
  it('a failing start script puts the group in error, with the exit code in the status and the logs', async () => {
    const svc = await serviceWith({ BAD: { start: 'echo "about to fail"\necho "on stderr" >&2\nexit 3\n' } });
    const r = await run('arms', ['group', 'start', 'BAD'], svc.env);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('arms: group BAD: start script start.sh exited with code 3\n');
    const st = await groupStatus(svc.pipe, 'BAD');
    expect(st).toMatchObject({ state: 'error', startedAs: 'START', lastError: { step: 'start', exitCode: 3 }, lastEvent: { action: 'start', result: 'failed' } });

    const human = await run('arms', ['status'], svc.env);
    expect(human.stdout).toMatch(/BAD\s+error\s+.*start START failed\s+.*start script start.sh exited with code 3/);
    const json = JSON.parse((await run('arms', ['status', '--json'], svc.env)).stdout);
    expect(json.groups[0]).toMatchObject({ name: 'BAD', state: 'error', lastError: { exitCode: 3 } });

    const lines = readLog(svc.home).filter((x) => x.group === 'BAD');
    expect(lines).toContainEqual(expect.objectContaining({ src: 'script', script: 'start.sh', msg: 'about to fail', level: 30 }));
    expect(lines).toContainEqual(expect.objectContaining({ src: 'script', script: 'start.sh', msg: 'on stderr', level: 40 }));
    expect(lines).toContainEqual(expect.objectContaining({ exitCode: 3, level: 50 }));
    expect(readLog(svc.home, 'alert').some((x) => x.group === 'BAD' && /exited with code 3/.test(x.msg))).toBe(true);

    // The operator's stop cleans up after a failed start: the stop script runs, the group goes offline.
    expect((await run('arms', ['group', 'stop', 'BAD'], svc.env)).code).toBe(0);
    expect(await groupStatus(svc.pipe, 'BAD')).toMatchObject({ state: 'offline', startedAs: null });
    await svc.stop();
  });

  it('a start script that hangs is stopped with its children at the timeout, and counts as failure', async () => {
    const pids = tempDir();
    const svc = await serviceWith({
      HANG: {
        start: `sleep 300 &\necho $! > ${pids}/child\n(trap '' TERM; sleep 300) &\necho $! > ${pids}/stubborn\necho $$ > ${pids}/script\nsleep 300\n`,
        settings: 'timeouts: { start: 1s }',
      },
    });
    const r = await run('arms', ['group', 'start', 'HANG'], svc.env);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/start script start.sh timed out after 1 s and was stopped with everything it started/);
    const all = ['child', 'stubborn', 'script'].map((f) => Number(fs.readFileSync(path.join(pids, f), 'utf8')));
    const deadline = Date.now() + 10_000;
    while (all.filter(alive).length > 0 && Date.now() < deadline) await sleep(50);
    expect(all.filter(alive)).toEqual([]);
    expect(await groupStatus(svc.pipe, 'HANG')).toMatchObject({ state: 'error', lastError: { exitCode: null } });
    await svc.stop();
  });

  it('a stop runs before a start queued behind it, in order', async () => {
    const trace = tempDir();
    const svc = await serviceWith({
      Q: { start: `echo start >> ${trace}/order\n`, stop: `echo stop-begin >> ${trace}/order\nsleep 0.5\necho stop-end >> ${trace}/order\n` },
    });
    expect((await run('arms', ['group', 'start', 'Q'], svc.env)).code).toBe(0);
    const stopping = run('arms', ['group', 'stop', 'Q'], svc.env);
    while (!fs.readFileSync(path.join(trace, 'order'), 'utf8').includes('stop-begin')) await sleep(20);
    const queued = await run('arms', ['group', 'start', 'Q', '--no-wait'], svc.env);
    expect(queued).toMatchObject({ code: 0, stdout: 'group Q: start queued\n' });
    expect(await groupStatus(svc.pipe, 'Q')).toMatchObject({ state: 'stopping', queued: 1 });
    expect((await stopping).code).toBe(0);
    const deadline = Date.now() + 10_000;
    while ((await groupStatus(svc.pipe, 'Q')).state !== 'online' && Date.now() < deadline) await sleep(50);
    expect(fs.readFileSync(path.join(trace, 'order'), 'utf8')).toBe('start\nstop-begin\nstop-end\nstart\n');
    const events = readLog(svc.home).filter((x) => x.group === 'Q' && /^group Q (starting|online|stopping|offline)/.test(x.msg)).map((x) => x.msg.replace(/ \(.*/, ''));
    expect(events).toEqual(['group Q starting', 'group Q online', 'group Q stopping', 'group Q offline', 'group Q starting', 'group Q online']);
    await svc.stop();
  });

  it('two groups start in parallel', async () => {
    const trace = tempDir();
    // Each start script waits until it sees the other one running: they can only both finish if they overlap.
    const script = (me: string, other: string) =>
      `touch ${trace}/${me}\ni=0\nwhile [ ! -f ${trace}/${other} ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done\n[ -f ${trace}/${other} ]\n`;
    const svc = await serviceWith({ A: { start: script('a', 'b') }, B: { start: script('b', 'a') } });
    const [a, b] = await Promise.all([run('arms', ['group', 'start', 'A'], svc.env), run('arms', ['group', 'start', 'B'], svc.env)]);
    expect([a.code, b.code]).toEqual([0, 0]);
    await svc.stop();
  });

  it('a disk whose activation fails gives ARMS_DISK=FAILURE to the start script, and the failure is logged', async () => {
    const trace = tempDir();
    const disk = tempDir();
    const svc = await serviceWith({
      D: {
        start: `echo "$ARMS_DISK" > ${trace}/disk\n`,
        settings: `disks:\n  - path: ${disk}\n    activate: echo mounting; exit 7`,
      },
      OK: { start: `echo "$ARMS_DISK" > ${trace}/ok\n`, settings: `disks:\n  - path: ${disk}\n    activate: echo mounted` },
    });
    expect((await run('arms', ['group', 'start', 'D'], svc.env)).code).toBe(0);
    expect(fs.readFileSync(path.join(trace, 'disk'), 'utf8')).toBe('FAILURE\n');
    expect(readLog(svc.home, 'alert').some((x) => x.group === 'D' && /activating .* exited with code 7/.test(x.msg))).toBe(true);
    expect(await groupStatus(svc.pipe, 'D')).toMatchObject({ state: 'online', disk: 'FAILURE' });
    expect((await run('arms', ['group', 'start', 'OK'], svc.env)).code).toBe(0);
    expect(fs.readFileSync(path.join(trace, 'ok'), 'utf8')).toBe('SUCCESS\n');
    await svc.stop();
  });

  it('deactivation runs after the stop script, in reverse order', async () => {
    const trace = tempDir();
    const [d1, d2] = [tempDir(), tempDir()];
    const svc = await serviceWith({
      R: {
        start: 'exit 0\n',
        stop: `echo stop-script >> ${trace}/order\n`,
        settings: `disks:\n  - { path: ${d1}, activate: echo up1 >> ${trace}/order, deactivate: echo down1 >> ${trace}/order }\n  - { path: ${d2}, activate: echo up2 >> ${trace}/order, deactivate: echo down2 >> ${trace}/order }`,
      },
    });
    expect((await run('arms', ['group', 'restart', 'R'], svc.env)).code).toBe(0); // restart of an offline group starts it
    expect((await run('arms', ['group', 'stop', 'R'], svc.env)).code).toBe(0);
    expect(fs.readFileSync(path.join(trace, 'order'), 'utf8')).toBe('up1\nup2\nstop-script\ndown2\ndown1\n');
    await svc.stop();
  });

  it('unknown groups: exit 4 for start, stop, restart and move', async () => {
    const svc = await serviceWith({ G: { start: 'exit 0\n' } });
    for (const action of ['start', 'stop', 'restart', 'move']) {
      const r = await run('arms', ['group', action, 'NOPE'], svc.env);
      expect(r.code, action).toBe(4);
      expect(r.stderr).toBe('arms: unknown group "NOPE" (groups: G)\n');
    }
    const move = await run('arms', ['group', 'move', 'g'], svc.env);
    expect(move.code).toBe(1);
    expect(move.stderr).toMatch(/group G cannot move: this server \(TESTSRV\) is the only one/);
    await svc.stop();
  });

  it('autostart groups are online after the service starts', async () => {
    const svc = await serviceWith({ AUTO: { start: 'exit 0\n', settings: 'autostart: true' }, MANUAL: { start: 'exit 0\n' } });
    const deadline = Date.now() + 10_000;
    while ((await groupStatus(svc.pipe, 'AUTO')).state !== 'online' && Date.now() < deadline) await sleep(50);
    expect(await groupStatus(svc.pipe, 'AUTO')).toMatchObject({ state: 'online' });
    expect(await groupStatus(svc.pipe, 'MANUAL')).toMatchObject({ state: 'offline' });
    await svc.stop();
  });

  it('a .bat group on Linux runs through the batch interpreter; one that cannot be parsed fails naming file and line', async () => {
    const home = tempDir();
    const dir = path.join(home, 'groups', 'LEGACY');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'START.BAT'), 'IF "%ARMS_EVENT%" == "START" ARMLOG "hello from %ARMS_GROUPNAME%"\r\n');
    fs.writeFileSync(path.join(dir, 'STOP.BAT'), '@ECHO OFF\r\n(\r\nECHO never closed\r\n');
    const svc = await startService({ home, config: 'syslog: false\ngroups:\n  LEGACY:\n    start: START.BAT\n    stop: STOP.BAT\n' });
    expect((await run('arms', ['group', 'start', 'LEGACY'], svc.env)).code).toBe(0);
    expect(readLog(svc.home).some((x) => x.src === 'ARMLOG' && x.group === 'LEGACY' && x.msg === 'hello from LEGACY')).toBe(true);
    // ECHO is on, as under cmd: the command shows in the cluster log after the prompt.
    expect(readLog(svc.home).some((x) => x.src === 'script' && x.msg === `${dir}>IF "START" == "START" ARMLOG "hello from LEGACY"`)).toBe(true);
    const r = await run('arms', ['group', 'stop', 'LEGACY'], svc.env);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/STOP\.BAT exited with code 255/);
    expect(readLog(svc.home).some((x) => x.src === 'script' && x.msg === `${path.join(dir, 'STOP.BAT')}:2: this ( is never closed: ) is missing`)).toBe(true);
    await svc.stop();
  });
});

describe('a script that floods its output', () => {
  it('survives binary garbage and 100 MB of output: the log rotates, memory stays bounded', async () => {
    const svc = await serviceWith(
      {
        FLOOD: { start: 'head -c 20000000 /dev/urandom\nhead -c 80000000 /dev/zero | tr "\\0" "a"\necho\necho done-flooding\n', settings: 'timeouts: { start: 300s }' },
      },
      'log:\n  maxSize: 2MB\n  keep: 2\n',
    );
    const r = await run('arms', ['group', 'start', 'FLOOD'], svc.env, { timeoutMs: 300_000 });
    expect(r.code, r.stderr).toBe(0);
    expect((await run('armlog', ['still answering'], svc.env)).code).toBe(0);
    const logDir = path.join(svc.home, 'log');
    const total = fs.readdirSync(logDir).reduce((n, f) => n + fs.statSync(path.join(logDir, f)).size, 0);
    expect(total).toBeLessThan(3 * (2 * 1024 * 1024 + 64 * 1024) + 1024 * 1024);
    expect(readLog(svc.home).some((x) => x.msg === 'done-flooding')).toBe(true);
    // Peak resident memory of the service over the whole flood.
    const hwm = Number(/VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${svc.proc.pid}/status`, 'utf8'))![1]) * 1024;
    expect(hwm).toBeLessThan(200 * 1024 * 1024);
    await svc.stop();
  }, 300_000);
});

describe('config mistakes', () => {
  it('arms check reports every mistake of the groups with file:line', async () => {
    const home = tempDir();
    fs.mkdirSync(path.join(home, 'groups', 'A'), { recursive: true });
    fs.writeFileSync(path.join(home, 'groups', 'A', 'start.sh'), 'exit 0\n');
    const file = path.join(home, 'arms.yaml');
    fs.writeFileSync(
      file,
      [
        'server: SRV1', //                       1
        'groups:', //                            2
        '  A:', //                               3
        '    start: start.sh', //                4
        '    stop: missing.sh', //               5
        '    timeouts: { start: soon }', //      6
        '    autostart: yes please', //          7
        '    policy: [SRV2]', //                 8
        '    colour: blue', //                   9
        '  B:', //                               10
        '    stop: stop.sh', //                  11
        '    disks: [{ activate: mount }]', //   12
        '  a:', //                               13
        '    start: x', //                       14
      ].join('\n') + '\n',
    );
    const r = await run('arms', ['check'], envFor(home));
    expect(r.code).toBe(1);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toEqual([
      `${file}:5: groups.A.stop: ${path.join(home, 'groups', 'A', 'missing.sh')} is not a readable file`,
      `${file}:6: groups.A.timeouts.start: expected a duration such as 300s, 5m, 1h (a bare number is seconds)`,
      `${file}:7: groups.A.autostart: expected true or false`,
      `${file}:8: groups.A.policy: this server (SRV1) is not in the policy [SRV2]`,
      `${file}:9: groups.A: unknown setting "colour" (expected one of: policy, start, stop, dir, autostart, timeouts, disks, addresses, nics, maxFailovers, failoverWindow, maxStartRetries, finalAction)`,
      `${file}:11: groups.B: "start" is required (the start script, relative to the group folder)`,
      `${file}:11: groups.B.stop: ${path.join(home, 'groups', 'B', 'stop.sh')} is not a readable file`,
      `${file}:12: groups.B.disks[0]: "path" is required`,
      `${file}:13: groups: "a" is declared twice (group names are case-insensitive: "A")`,
    ]);
  });

  it('arms check says a valid config is valid', async () => {
    const home = tempDir();
    fs.mkdirSync(path.join(home, 'groups', 'W'), { recursive: true });
    for (const s of ['start.sh', 'stop.sh']) fs.writeFileSync(path.join(home, 'groups', 'W', s), 'exit 0\n');
    fs.writeFileSync(path.join(home, 'arms.yaml'), 'server: S\ngroups:\n  W: { start: start.sh, stop: stop.sh }\n');
    const r = await run('arms', ['check'], envFor(home));
    expect(r).toMatchObject({ code: 0 });
    expect(r.stdout).toMatch(/arms\.yaml: valid; server S, 1 group\(s\): W/);
  });

  it('a reload that finds a broken config keeps the old one; a good one takes effect', async () => {
    const svc = await serviceWith({ KEEP: { start: 'exit 0\n' } });
    expect((await run('arms', ['group', 'start', 'KEEP'], svc.env)).code).toBe(0);
    const file = path.join(svc.home, 'arms.yaml');
    const good = fs.readFileSync(file, 'utf8');
    fs.writeFileSync(file, good + '  BROKEN:\n    start: nothing.sh\n');
    const bad = await run('arms', ['service', 'reload'], svc.env);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^arms: the config was not reloaded \(the service keeps its current one\): .*arms\.yaml:\d+: groups\.BROKEN/);
    expect(await groupStatus(svc.pipe, 'KEEP')).toMatchObject({ state: 'online' });

    // Removing an online group is refused; adding one works.
    fs.mkdirSync(path.join(svc.home, 'groups', 'NEW'), { recursive: true });
    for (const s of ['start.sh', 'stop.sh']) fs.writeFileSync(path.join(svc.home, 'groups', 'NEW', s), 'exit 0\n');
    fs.writeFileSync(file, good.replace(/  KEEP:[\s\S]*/, '  NEW:\n    start: start.sh\n    stop: stop.sh\n'));
    const refused = await run('arms', ['service', 'reload'], svc.env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/cannot remove group KEEP \(online\): stop it first/);
    fs.writeFileSync(file, good + '  NEW:\n    start: start.sh\n    stop: stop.sh\n');
    const ok = await run('arms', ['service', 'reload'], svc.env);
    expect(ok).toMatchObject({ code: 0 });
    expect(ok.stdout).toMatch(/config reloaded: 2 group\(s\)/);
    expect((await run('arms', ['group', 'start', 'new'], svc.env)).code).toBe(0);
    await svc.stop();
  });
});
