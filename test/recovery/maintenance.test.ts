// Maintenance: arms watch suspend|resume and arms monitor suspend|resume against the real service,
// real ARMLOAD/ARMRSP and real programs; the suspension survives a kill -9 of the service, shows in
// arms status (text and --json) and in the cluster log; bad requests are one-line errors.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { call } from '../../src/client/client';
import { alive, readLog, run, Service, sleep, startService, stopAll, tempDir, until } from '../helpers';

afterAll(stopAll);

interface W {
  id: string;
  pid: number | null;
  state: string;
  restartsUsed: number;
  suspended: boolean;
  lastExit: { code: number | null } | null;
}
interface S {
  watches: W[];
  monitors: Array<{ monitor: string; ok: boolean; failures: number; suspended: boolean; at: string }>;
  suspendedMonitors: string[];
}
const status = async (svc: Service) => (await call(svc.pipe, 'status')) as S;
const watch = async (svc: Service, id: string) => (await status(svc)).watches.find((w) => w.id === id)!;

async function crash(svc: Service): Promise<void> {
  svc.proc.kill('SIGKILL');
  await svc.exited;
}

describe('arms watch suspend|resume', () => {
  it('a suspended watch is neither restarted nor counted, across a kill -9 of the service; the resume starts it again', async () => {
    const home = tempDir();
    let svc = await startService({ home, config: 'syslog: false\n' });
    expect((await run('ARMLOAD', ['APP', '/R', '3', 'sleep', '600'], svc.env)).code).toBe(0);
    const first = await watch(svc, 'APP');
    expect(first).toMatchObject({ state: 'running', suspended: false });

    const s = await run('arms', ['watch', 'suspend', 'app'], svc.env);
    expect(s).toMatchObject({ code: 0, stdout: 'watch APP suspended: an end of its program is neither restarted nor counted until "arms watch resume APP"\n' });
    expect((await run('arms', ['watch', 'suspend', 'APP'], svc.env)).stdout).toBe('watch APP was already suspended\n');
    process.kill(first.pid!, 'SIGKILL');
    const held = await until(() => watch(svc, 'APP'), (w) => w.state === 'ended');
    expect(held).toMatchObject({ state: 'ended', pid: null, restartsUsed: 0, suspended: true });
    await sleep(300);
    expect(await watch(svc, 'APP')).toMatchObject({ state: 'ended', restartsUsed: 0 });

    await crash(svc);
    svc = await startService({ home });
    expect(await watch(svc, 'APP')).toMatchObject({ state: 'ended', pid: null, restartsUsed: 0, suspended: true });
    const text = await run('arms', ['status'], svc.env);
    expect(text.stdout).toMatch(/^APP +- +- +ended \(suspended\) +0\/3/m);

    const r = await run('arms', ['watch', 'resume', 'APP'], svc.env);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^watch APP resumed \(running, pid \d+\)\n$/);
    const again = await watch(svc, 'APP');
    expect(again).toMatchObject({ state: 'running', suspended: false, restartsUsed: 0 });
    expect(alive(again.pid!)).toBe(true);
    // Monitored again: an end is restarted and counted.
    process.kill(again.pid!, 'SIGKILL');
    expect(await until(() => watch(svc, 'APP'), (w) => w.restartsUsed === 1 && w.pid !== null)).toMatchObject({ state: 'running', restartsUsed: 1 });

    const log = readLog(home).map((l) => l.msg);
    expect(log).toContain('watch APP suspended (maintenance): an end of its program is not restarted and not counted');
    expect(log.some((m) => /^watch APP ended \(killed by SIGKILL\) while suspended: not restarted, not counted/.test(m))).toBe(true);
    expect(log).toContain('watch APP resumed');
    expect((await run('ARMKILL', ['APP'], svc.env)).code).toBe(0);
    await svc.stop();
  });

  it('bad requests: an unknown watch is exit 4, a missing ID exit 2; the service goes on', async () => {
    const svc = await startService({ config: 'syslog: false\n' });
    expect(await run('arms', ['watch', 'suspend', 'NOPE'], svc.env)).toMatchObject({ code: 4, stderr: 'arms: no watch "NOPE"\n' });
    expect((await run('arms', ['watch', 'resume'], svc.env)).code).toBe(2);
    expect((await run('arms', ['watch', 'pause', 'X'], svc.env)).code).toBe(2);
    expect((await run('arms', ['service', 'status'], svc.env)).code).toBe(0);
    await svc.stop();
  });
});

describe('arms monitor suspend|resume', () => {
  it('a suspended ARMRSP does not check, across a kill -9 of the service; resumed, it checks and ends as before', async () => {
    const home = tempDir();
    const flag = path.join(home, 'healthy');
    fs.writeFileSync(flag, '');
    let svc = await startService({ home, config: 'syslog: false\n' });
    expect((await run('ARMLOAD', ['RSP', 'ARMRSP', '/CMD', `test -f ${flag}`, '/INT', '0.2', '/N', '2'], svc.env)).code).toBe(0);
    await until(() => status(svc), (s) => s.monitors.some((m) => m.monitor === 'RSP' && m.ok));

    expect(await run('arms', ['monitor', 'suspend', 'rsp'], svc.env)).toMatchObject({ code: 0, stdout: 'monitor RSP suspended\n' });
    // Its next report learns it; from then on no check runs.
    await sleep(600);
    const quiet = (await status(svc)).monitors.find((m) => m.monitor === 'RSP')!;
    expect(quiet.suspended).toBe(true);
    fs.rmSync(flag);
    await sleep(1500);
    const still = (await status(svc)).monitors.find((m) => m.monitor === 'RSP')!;
    expect(still).toMatchObject({ ok: true, failures: 0, at: quiet.at }); // not checked meanwhile
    expect(await watch(svc, 'RSP')).toMatchObject({ state: 'running' });

    await crash(svc);
    svc = await startService({ home });
    const s = await status(svc);
    expect(s.suspendedMonitors).toEqual(['RSP']);
    await sleep(1500);
    expect(await watch(svc, 'RSP')).toMatchObject({ state: 'running' }); // still not checking
    expect((await run('arms', ['status'], svc.env)).stdout).toMatch(/suspended monitors without a result: RSP|RSP +- +cmd test -f .* +suspended/);

    expect(await run('arms', ['monitor', 'resume', 'RSP'], svc.env)).toMatchObject({ code: 0, stdout: 'monitor RSP resumed\n' });
    // It learns of the resume within a second, checks, fails twice and ends (exit 1), as it always did.
    // (Its exit code is not known: after the kill -9 the new service watches it by its PID.)
    const ended = await until(() => watch(svc, 'RSP'), (w) => w.lastExit !== null, 10_000);
    expect(ended.lastExit).not.toBe(null);
    expect(readLog(home, 'alert').some((l) => l.src === 'ARMRSP' && /^ARMRSP RSP: cmd test -f .* failed 2 checks in a row: exit code 1; exiting$/.test(l.msg))).toBe(true);
    expect(readLog(home).some((l) => l.msg === 'monitor RSP suspended (maintenance, arms, pid ' + l.msg.split('pid ')[1])).toBe(true);
    expect(readLog(home).some((l) => /^monitor RSP resumed/.test(l.msg))).toBe(true);
    await svc.stop();
  });

  it('--all suspends every known monitor (the OS monitor among them); bad names and arguments are one-line errors', async () => {
    const svc = await startService({ config: 'syslog: false\nosMonitor: { interval: 100ms }\n' });
    await until(() => status(svc), (s) => s.monitors.some((m) => m.monitor === 'armsd-os'));
    expect(await run('arms', ['monitor', 'suspend', '--all'], svc.env)).toMatchObject({ code: 0, stdout: 'monitor armsd-os suspended\n' });
    expect((await status(svc)).suspendedMonitors).toEqual(['ARMSD-OS']);
    const at = (await status(svc)).monitors.find((m) => m.monitor === 'armsd-os')!.at;
    await sleep(400);
    expect((await status(svc)).monitors.find((m) => m.monitor === 'armsd-os')!.at).toBe(at);
    expect(await run('arms', ['monitor', 'resume', '--all'], svc.env)).toMatchObject({ code: 0, stdout: 'monitor armsd-os resumed\n' });
    await until(() => status(svc), (s) => s.monitors.find((m) => m.monitor === 'armsd-os')!.at !== at);

    expect(await run('arms', ['monitor', 'suspend', 'NOPE'], svc.env)).toMatchObject({ code: 4, stderr: 'arms: no monitor "NOPE" (monitors: armsd-os)\n' });
    expect(await run('arms', ['monitor', 'suspend'], svc.env)).toMatchObject({ code: 2, stderr: 'arms: name the monitors to suspend, or give --all\n' });
    expect(await run('arms', ['monitor', 'resume', 'X', '--all'], svc.env)).toMatchObject({ code: 2, stderr: 'arms: name monitors or give --all, not both\n' });
    expect(await call(svc.pipe, 'monitor.suspend', { names: 'RSP' }).catch((e: Error) => e.message)).toBe('"names" must be a list of monitor names');
    expect((await run('arms', ['service', 'status'], svc.env)).code).toBe(0);
    await svc.stop();
  });
});
