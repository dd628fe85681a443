// Process monitors the service runs: N to M processes by name or by command line, and a watched
// program's CPU, memory, threads and open files against thresholds held over a window, with the
// same recovery settings as every monitor. Real processes, the real service.
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { call } from '../../src/client/client';
import { usageCheck } from '../../src/monitors/process';
import { readLog, run, Service, startService, stopAll, tempDir, until } from '../helpers';

const children = new Set<ChildProcess>();
afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  await stopAll();
});

interface M {
  monitor: string;
  kind: string;
  resource: string;
  ok: boolean;
  detail: string;
  failures: number;
}
const result = async (svc: Service, name: string) => ((await call(svc.pipe, 'status')) as { monitors: M[] }).monitors.find((m) => m.monitor === name);
const linux = process.platform === 'linux';

describe.runIf(linux)('process monitors', () => {
  it('by name: N to M of them; by command line: a regular expression', async () => {
    const home = tempDir();
    // A program with a name of its own: a copy of sleep.
    const name = `ap${process.pid % 100000}`;
    const prog = path.join(home, name);
    fs.copyFileSync('/bin/sleep', prog);
    fs.chmodSync(prog, 0o755);
    const start = (arg: string) => {
      const c = spawn(prog, [arg], { stdio: 'ignore' });
      children.add(c);
      return c;
    };
    const svc = await startService({
      home,
      config: `syslog: false
monitors:
  BYNAME: { process: { name: ${name}, min: 2, max: 3 }, interval: 100ms }
  BYLINE: { process: { commandLine: "^${prog} 9[0-9]{2}$" }, interval: 100ms }
`,
    });
    await until(async () => [await result(svc, 'BYNAME'), await result(svc, 'BYLINE')], (m) => m.every((x) => x !== undefined && x.failures >= 1), 45_000);
    expect(await result(svc, 'BYNAME')).toMatchObject({ kind: 'process', resource: `name ${name} (2 to 3)`, ok: false, detail: '0 running, at least 2 expected' });
    expect(await result(svc, 'BYLINE')).toMatchObject({ ok: false, resource: `command line /^${prog} 9[0-9]{2}$/ (at least 1)` });
    const a = start('900');
    const b = start('600');
    await until(() => result(svc, 'BYNAME'), (m) => m!.ok, 45_000);
    expect((await result(svc, 'BYNAME'))!.detail).toMatch(/^2 running \(pid \d+, \d+\)$/);
    expect(await until(() => result(svc, 'BYLINE'), (m) => m!.ok, 45_000)).toMatchObject({ ok: true, detail: `1 running (pid ${a.pid})` });
    start('601');
    start('602');
    expect(await until(() => result(svc, 'BYNAME'), (m) => !m!.ok, 45_000)).toMatchObject({ ok: false, detail: expect.stringMatching(/^4 running, at most 3 expected/) });
    b.kill('SIGKILL');
    await svc.stop();
  });

  it("a watch's memory and open files over their thresholds for the window: the monitor fails and restarts the watch", async () => {
    const home = tempDir();
    const hog = path.join(home, 'hog.js');
    // 80 MB held, 60 files open, and alive.
    fs.writeFileSync(hog, "const b = Buffer.alloc(80 * 1024 * 1024, 1); const fs = require('fs'); for (let i = 0; i < 60; i++) fs.openSync(__filename, 'r'); setInterval(() => b[0]++, 1000);\n");
    const svc = await startService({
      home,
      config: `syslog: false
monitors:
  HOGUSE:
    usage: { watch: HOG, memory: 50MB, files: 40, window: 300ms }
    interval: 100ms
    failures: 2
    recovery: { target: "watch:HOG", restarts: 1 }
`,
    });
    expect((await run('ARMLOAD', ['HOG', process.execPath, hog], svc.env)).code).toBe(0);
    const failed = await until(() => result(svc, 'HOGUSE'), (m) => m !== undefined && !m.ok && /files/.test(m.detail));
    expect(failed).toMatchObject({ kind: 'usage', resource: 'watch HOG: memory > 50.0 MB, files > 40 for 0.3 s' });
    expect(failed!.detail).toMatch(/^pid \d+: memory \d+\.\d MB over 50\.0 MB for [\d.]+ s; files \d+ over 40 for [\d.]+ s$/);
    await until(async () => readLog(home), (l) => l.some((x) => /^watch HOG restarted by a monitor's recovery/.test(x.msg)));
    expect(readLog(home, 'alert').some((l) => l.monitor === 'HOGUSE' && /restarting watch HOG \(1 of 1\)$/.test(l.msg))).toBe(true);
    expect((await run('ARMKILL', ['HOG'], svc.env)).code).toBe(0);
    await svc.stop();
  });

  it('CPU: the share of one CPU between two samples, held over the window (a fake clock and samples)', async () => {
    let t = 0;
    let cpu = 0;
    const check = usageCheck('APP', { cpu: 90, window: 2 }, () => 42, async () => ({ cpuSeconds: cpu, rssBytes: 1, threads: 1, files: 1 }), () => t);
    const step = async (dt: number, busy: number) => {
      t += dt * 1000;
      cpu += busy * dt;
      return check.run(1000);
    };
    expect(await step(0, 0)).toMatchObject({ ok: true, detail: 'pid 42: measuring' });
    expect(await step(1, 0.5)).toMatchObject({ ok: true, detail: 'pid 42: cpu 50.0%' });
    expect(await step(1, 1)).toMatchObject({ ok: true, detail: 'pid 42: cpu 100.0%' }); // over, not yet for 2 s
    expect(await step(1, 1)).toMatchObject({ ok: true });
    expect(await step(1, 0.99)).toMatchObject({ ok: false, detail: 'pid 42: cpu 99.0% over 90.0% for 2 s' });
    expect(await step(1, 0.1)).toMatchObject({ ok: true, detail: 'pid 42: cpu 10.0%' });
    // threads, with no window: at once
    const threads = usageCheck('APP', { threads: 2, window: 0 }, () => 7, async () => ({ cpuSeconds: 0, rssBytes: 1, threads: 5, files: null }));
    expect(await threads.run(1000)).toMatchObject({ ok: false, detail: 'pid 7: threads 5 over 2' });
    // a watch without a running program is nothing to measure, not a failure
    expect(await usageCheck('APP', { cpu: 1, window: 0 }, () => null).run(1000)).toMatchObject({ ok: true, detail: 'watch APP has no running program: nothing to measure' });
  });
});
