// The OS stall monitor, in-process: a busy wait blocks this process's event loop (what a stalled
// service or OS looks like from inside), the watchdog is a file or a FIFO.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { OS_MONITOR_DEFAULTS, OsMonitor, startOsMonitor } from '../src/service/os-monitor';
import { call } from '../src/client/client';
import { readLog, Service, sleep as pause, startService, stopAll, tempDir } from './helpers';

interface Line {
  kind: 'write' | 'alert';
  level: string;
  fields: Record<string, unknown>;
  msg: string;
}
function fakeLogs() {
  const lines: Line[] = [];
  return {
    lines,
    alerts: () => lines.filter((l) => l.kind === 'alert'),
    write: (level: string, fields: Record<string, unknown>, msg: string) => void lines.push({ kind: 'write', level, fields, msg }),
    alert: (level: string, fields: Record<string, unknown>, msg: string) => void lines.push({ kind: 'alert', level, fields, msg }),
  };
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
function busyWait(ms: number): void {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    // the event loop is blocked meanwhile
  }
}

let mon: OsMonitor | null = null;
afterEach(() => {
  mon?.stop();
  mon = null;
});

describe('OS stall monitor', () => {
  it('alerts once when the event loop is blocked longer than the threshold, and reports to the monitors', async () => {
    const logs = fakeLogs();
    const reports: Array<{ ok: boolean; failures: number; detail: string; kind: string; monitor: string }> = [];
    mon = startOsMonitor({ enabled: true, stallThreshold: 0.5, interval: 0.1, watchdog: null }, logs, { monitors: { report: (r) => void reports.push(r) } });
    await sleep(450);
    expect(logs.alerts()).toEqual([]);
    expect(reports.length).toBeGreaterThanOrEqual(3);
    expect(reports.every((r) => r.ok && r.kind === 'os' && r.monitor === 'armsd-os')).toBe(true);

    busyWait(150); // well under the threshold: no alert
    await sleep(250);
    expect(logs.alerts()).toEqual([]);

    busyWait(900);
    await sleep(350);
    const alerts = logs.alerts();
    expect(alerts).toHaveLength(1);
    expect(alerts[0].level).toBe('ERR');
    expect(alerts[0].msg).toMatch(/^OS stall: the service's event loop was blocked for ([89]\d\d ms|1(\.\d+)? s) \(threshold 500 ms\): the service or the OS under it stopped responding$/);
    expect(alerts[0].fields.delayMs as number).toBeGreaterThanOrEqual(800);
    expect(reports.some((r) => !r.ok && r.failures === 1)).toBe(true);
    expect(reports[reports.length - 1]).toMatchObject({ ok: true, failures: 0 });
    expect(logs.lines.some((l) => l.kind === 'write' && /OS stall over/.test(l.msg))).toBe(true);
    expect(mon.status()).toMatchObject({ totalStalls: 1, stalls: 0 });
  });

  it('writes to the watchdog file every interval, not while the loop is blocked, and disarms it ("V") at the stop', async () => {
    const file = path.join(tempDir(), 'watchdog');
    fs.writeFileSync(file, '');
    const logs = fakeLogs();
    mon = startOsMonitor({ enabled: true, stallThreshold: 5, interval: 0.05, watchdog: file }, logs);
    await sleep(520);
    const writes = fs.readFileSync(file, 'utf8').length;
    expect(writes).toBeGreaterThanOrEqual(5); // one at the start, then one each 50 ms (some late under load)
    expect(writes).toBeLessThanOrEqual(12);
    busyWait(400);
    expect(fs.readFileSync(file, 'utf8').length).toBe(writes); // a stalled loop does not pet the dog
    await sleep(120);
    expect(fs.readFileSync(file, 'utf8').length).toBeGreaterThan(writes);
    mon.stop();
    mon = null;
    const text = fs.readFileSync(file, 'utf8');
    expect(text).toMatch(/^\n+V$/);
    expect(logs.alerts()).toEqual([]);
  });

  it.skipIf(process.platform === 'win32')('a FIFO without a reader neither blocks the service nor stops it: it is opened once a reader comes', async () => {
    const fifo = path.join(tempDir(), 'dog');
    execFileSync('mkfifo', [fifo]);
    const logs = fakeLogs();
    mon = startOsMonitor({ enabled: true, stallThreshold: 5, interval: 0.05, watchdog: fifo }, logs);
    await sleep(200);
    expect(mon.status().watchdog).toMatchObject({ open: false, writes: 0, lastError: expect.stringMatching(/ENXIO/) });
    expect(logs.alerts()).toHaveLength(1); // said once, not at every interval
    const reader = fs.openSync(fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    await sleep(300);
    const buf = Buffer.alloc(1024);
    const n = fs.readSync(reader, buf);
    expect(n).toBeGreaterThanOrEqual(3);
    expect(buf.subarray(0, n).toString()).toMatch(/^\n+$/);
    expect(mon.status().watchdog).toMatchObject({ open: true, lastError: null });
    // The reader goes away: writes fail (EPIPE), it is said once, and it is opened again later.
    fs.closeSync(reader);
    await sleep(200);
    expect(mon.status().watchdog!.open).toBe(false);
    expect(logs.alerts().map((a) => a.msg)).toEqual([expect.stringMatching(/cannot open it: .*ENXIO/), expect.stringMatching(/cannot write to it: .*EPIPE/), expect.stringMatching(/cannot open it: .*ENXIO/)]);
  });

  it('a watchdog path that does not exist is never created (a missing /dev/watchdog must not become a file)', async () => {
    const file = path.join(tempDir(), 'no-such-dog');
    const logs = fakeLogs();
    mon = startOsMonitor({ ...OS_MONITOR_DEFAULTS, interval: 0.05, watchdog: file }, logs);
    await sleep(150);
    expect(fs.existsSync(file)).toBe(false);
    expect(logs.alerts()).toHaveLength(1);
    expect(logs.alerts()[0].msg).toMatch(new RegExp(`^watchdog ${file}: cannot open it: ENOENT`));
  });

  it('enabled: false does nothing', async () => {
    const logs = fakeLogs();
    const reports: unknown[] = [];
    mon = startOsMonitor({ ...OS_MONITOR_DEFAULTS, enabled: false, stallThreshold: 0.01, interval: 0.01 }, logs, { monitors: { report: (r) => void reports.push(r) } });
    busyWait(100);
    await sleep(100);
    expect(logs.lines).toEqual([]);
    expect(reports).toEqual([]);
  });
});

describe('OS stall monitor in the service (osMonitor: in arms.yaml)', () => {
  afterAll(stopAll);

  it.skipIf(process.platform === 'win32')('a service frozen from outside (SIGSTOP) logs the stall; the watchdog file is written, then disarmed at the stop', async (ctx) => {
    const home = tempDir();
    fs.writeFileSync(path.join(home, 'dog'), '');
    let svc: Service;
    try {
      svc = await startService({ home, config: 'syslog: false\nosMonitor:\n  stallThreshold: 300ms\n  interval: 100ms\n  watchdog: dog\n' });
    } catch (e) {
      if (/unknown setting "osMonitor"/.test((e as Error).message)) {
        console.warn('skipped: the service does not read osMonitor: yet (config.ts/main.ts wiring not applied)');
        return ctx.skip();
      }
      throw e;
    }
    await pause(600);
    expect(fs.readFileSync(path.join(home, 'dog'), 'utf8').length).toBeGreaterThanOrEqual(3);
    svc.proc.kill('SIGSTOP');
    await pause(1000);
    svc.proc.kill('SIGCONT');
    const deadline = Date.now() + 5000;
    while (!readLog(home, 'alert').some((l) => /^OS stall/.test(l.msg)) && Date.now() < deadline) await pause(50);
    const stall = readLog(home, 'alert').find((l) => /^OS stall/.test(l.msg))!;
    expect(stall.msg).toMatch(/^OS stall: the service's event loop was blocked for ([\d.]+ s|\d{3} ms) \(threshold 300 ms\)/);
    expect(stall.delayMs as number).toBeGreaterThanOrEqual(800);
    const s = (await call(svc.pipe, 'status')) as { monitors: Array<{ monitor: string; kind: string; ok: boolean }> };
    expect(s.monitors.find((m) => m.monitor === 'armsd-os')).toMatchObject({ kind: 'os' });
    await svc.stop();
    expect(fs.readFileSync(path.join(home, 'dog'), 'utf8')).toMatch(/^\n+V$/);
  });
});
