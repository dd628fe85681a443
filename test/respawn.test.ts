// Restarts the native spawner makes without waiting for armsd (issue 18): when the restart policy's
// answer to an end is known in advance (a restart left, no delay due), armsd approves it and the
// spawner starts the program again the moment it dies. What a user checks: the program runs again,
// counted and logged exactly as any restart, with its run number; the budget, the pacing, a
// suspend and ARMKILL are obeyed as before; and an ARMKILL racing a crash never leaves a copy
// running.
import * as fs from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { call } from '../src/client/client';
import { alive, readLog, run, Service, sleep, sleepers, startService, stopAll, until } from './helpers';

afterAll(stopAll);

interface W {
  id: string;
  pid: number | null;
  state: string;
  restartsUsed: number;
}
const watch = async (svc: Service, id: string) => ((await call(svc.pipe, 'status')) as { watches: W[] }).watches.find((w) => w.id === id);
const environ = (pid: number) => Object.fromEntries(fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
const ppid = (pid: number) => Number(fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')[1]);
const linux = process.platform === 'linux';

describe.skipIf(!linux)('restarts made by the spawner on approval', () => {
  it('a killed program runs again at once, counted and logged as any restart, with the next run number; the budget still ends it', async () => {
    const svc = await startService({ config: 'syslog: false\n' });
    const arg = `${process.pid}1`;
    expect((await run('ARMLOAD', ['APP', '/R', '2', 'sleep', arg], svc.env)).code).toBe(0);
    const first = (await watch(svc, 'APP'))!;
    const spawnerPid = ppid(first.pid!);
    expect(spawnerPid).not.toBe(svc.proc.pid); // started by the spawner
    expect(environ(first.pid!).ARMS_WATCH_RUN).toBe('1');
    process.kill(first.pid!, 'SIGKILL');
    const second = await until(() => watch(svc, 'APP'), (w) => !!w && w.pid !== first.pid && w.restartsUsed === 1);
    expect(second).toMatchObject({ state: 'running', restartsUsed: 1 });
    expect(sleepers(arg)).toEqual([second.pid]);
    expect(ppid(second.pid!)).toBe(spawnerPid);
    expect(environ(second.pid!).ARMS_WATCH_RUN).toBe('2');
    const log = readLog(svc.home).map((r) => r.msg);
    expect(log).toContain('watch APP ended (killed by SIGKILL); restarting it (restart 1 of 2)');
    expect(log).toContain(`watch APP restarted, pid ${second.pid}`);
    // A second end right after: a streak, which the pacing delays (0.2 s): the service's to do.
    process.kill(second.pid!, 'SIGKILL');
    const third = await until(() => watch(svc, 'APP'), (w) => !!w && w.restartsUsed === 2 && w.pid !== second.pid && w.pid !== null);
    expect(readLog(svc.home).map((r) => r.msg)).toContain('watch APP ended (killed by SIGKILL); restarting it in 0.2 s (restart 2 of 2)');
    // The budget is spent: the next end is not restarted by anybody.
    process.kill(third.pid!, 'SIGKILL');
    const last = await until(() => watch(svc, 'APP'), (w) => w?.state === 'exhausted');
    expect(last?.restartsUsed).toBe(2);
    await sleep(300);
    expect(sleepers(arg)).toEqual([]);
    await svc.stop();
  });

  it('each end is counted once: a program killed again and again after good runs (resetAfter) runs exactly once throughout', async () => {
    const svc = await startService({ config: 'syslog: false\nwatches:\n  APP: { resetAfter: 50ms }\n' });
    const arg = `${process.pid}2`;
    expect((await run('ARMLOAD', ['APP', '/R', '999', 'sleep', arg], svc.env)).code).toBe(0);
    let pid = (await watch(svc, 'APP'))!.pid!;
    for (let i = 1; i <= 20; i++) {
      await sleep(80);
      process.kill(pid, 'SIGKILL');
      const w = await until(() => watch(svc, 'APP'), (x) => !!x && x.pid !== pid && x.pid !== null);
      pid = w.pid!;
      expect(sleepers(arg)).toEqual([pid]);
      expect(environ(pid).ARMS_WATCH_RUN).toBe(String(i + 1));
    }
    // resetAfter gave the budget back after each good run: one restart counted at a time, never two
    expect((await watch(svc, 'APP'))!.restartsUsed).toBe(1);
    expect(readLog(svc.home).filter((r) => r.msg.startsWith('watch APP restarted, pid'))).toHaveLength(20);
    await svc.stop();
    expect(sleepers(arg)).toEqual([]);
  });

  it('ARMKILL racing a crash never leaves a copy running, and a suspended watch is not restarted', async () => {
    const svc = await startService({ config: 'syslog: false\n' });
    const arg = `${process.pid}3`;
    const spin = (us: number) => {
      const t = process.hrtime.bigint();
      while (process.hrtime.bigint() - t < BigInt(us) * 1000n);
    };
    for (let i = 0; i < 40; i++) {
      expect((await run('ARMLOAD', ['RACE', '/R', '9', 'sleep', arg], svc.env)).code).toBe(0);
      const w = (await watch(svc, 'RACE'))!;
      // ARMKILL's request and the crash together: the crash from 0.5 ms before to 1.5 ms after
      // the request is sent, so that armsd sees the kill request before, while and after the
      // spawner restarts the program
      const before = i % 2 === 0;
      if (before) spin((i % 8) * 100);
      if (before) process.kill(w.pid!, 'SIGKILL');
      const armkill = call(svc.pipe, 'watch.kill', { id: 'RACE', timeoutS: 5 }, 20_000);
      if (!before) {
        spin((i % 16) * 100);
        process.kill(w.pid!, 'SIGKILL');
      }
      await armkill;
      await sleep(50);
      expect(sleepers(arg), `round ${i}`).toEqual([]);
      expect(await watch(svc, 'RACE')).toBeUndefined();
    }
    expect((await run('ARMLOAD', ['HELD', '/R', '9', 'sleep', arg], svc.env)).code).toBe(0);
    const held = (await watch(svc, 'HELD'))!;
    expect((await run('arms', ['watch', 'suspend', 'HELD'], svc.env)).code).toBe(0);
    process.kill(held.pid!, 'SIGKILL');
    const after = await until(() => watch(svc, 'HELD'), (x) => x?.state === 'ended');
    expect(after?.restartsUsed).toBe(0);
    await sleep(200);
    expect(sleepers(arg)).toEqual([]);
    expect(alive(held.pid!)).toBe(false);
    // resumed: started again by the service, and approved again
    expect((await run('arms', ['watch', 'resume', 'HELD'], svc.env)).code).toBe(0);
    const resumed = await until(() => watch(svc, 'HELD'), (x) => x?.state === 'running' && x.pid !== null);
    process.kill(resumed.pid!, 'SIGKILL');
    const again = await until(() => watch(svc, 'HELD'), (x) => !!x && x.pid !== resumed.pid && x.pid !== null && x.restartsUsed === 1);
    expect(sleepers(arg)).toEqual([again.pid]);
    await svc.stop();
    expect(sleepers(arg)).toEqual([]);
  });
});
