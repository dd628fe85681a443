// Issue 12's pipe-abuse test: 1,000 connections held open, a slowloris client (a byte at a time,
// never a newline), and a flood of malformed frames from a client that does not read its answers,
// all at once, while ARMLOG from a script keeps succeeding, each within 1 s, and the service is
// unharmed afterwards.
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { call } from '../src/client/client';
import { fromArmlog, run, sleep, startService, stopAll } from './helpers';

afterAll(stopAll);

describe('pipe abuse', () => {
  it('1,000 held connections, a slowloris and a malformed-frame flood: ARMLOG from a script succeeds within 1 s every time', async () => {
    const svc = await startService({ config: 'syslog: false\n' });
    const abusers: net.Socket[] = [];
    const open = () => {
      const s = net.connect(svc.pipe);
      s.on('error', () => undefined);
      s.on('data', () => undefined);
      abusers.push(s);
      return s;
    };
    // Held open: each says something now and then, so none is merely idle.
    for (let i = 0; i < 1000; i++) open();
    const ping = setInterval(() => {
      for (const s of abusers.slice(0, 1000)) if (!s.destroyed) s.write('{"v":1,"id":1,"op":"ping"}\n');
    }, 2000);
    // Slowloris: one byte at a time, never a whole line, on fresh connections again and again.
    const slow = setInterval(() => {
      const s = open();
      s.write('{"v":1,');
    }, 20);
    // Flood: malformed frames as fast as the socket takes them, answers never read.
    const flood = net.connect(svc.pipe);
    flood.on('error', () => undefined);
    flood.pause();
    let flooding = true;
    const junk = Buffer.from('{"v":1,"id":"x","op":}\nnot json at all\n\u0000\u0001\u0002{{{\n'.repeat(2000));
    const pump = () => {
      while (flooding && !flood.destroyed && flood.write(junk));
      if (flooding && !flood.destroyed) flood.once('drain', pump);
    };
    flood.once('connect', pump);

    await sleep(1000);
    // The script: ARMLOG after ARMLOG, each timed.
    const script = path.join(svc.home, 'logger.sh');
    fs.writeFileSync(script, 'for i in 1 2 3 4 5 6 7 8 9 10; do\n  s=$(date +%s%3N); ARMLOG "abuse $i"; c=$?; e=$(date +%s%3N); echo "$i $c $((e - s))"\ndone\n');
    // Run asynchronously: the abusers in this process go on meanwhile.
    const { spawn } = await import('node:child_process');
    const out = await new Promise<{ stdout: string }>((resolve) => {
      const child = spawn('sh', [script], { env: svc.env });
      let stdout = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.on('close', () => resolve({ stdout }));
    });
    flooding = false;
    clearInterval(ping);
    clearInterval(slow);
    const results = out.stdout.trim().split('\n').map((l) => l.split(' ').map(Number));
    expect(results, out.stdout).toHaveLength(10);
    for (const [i, code, ms] of results) {
      expect(code, `ARMLOG ${i}`).toBe(0);
      expect(ms, `ARMLOG ${i} took ${ms} ms (all: ${out.stdout.trim().split('\n').join('; ')})`).toBeLessThan(1000);
    }
    for (let i = 1; i <= 10; i++) expect(fromArmlog(svc.home).some((x) => x.msg === `abuse ${i}`)).toBe(true);
    for (const s of abusers) s.destroy();
    flood.destroy();
    // Unharmed: it answers and stops cleanly.
    expect((await run('ARMLOG', ['after the abuse'], svc.env)).code).toBe(0);
    await svc.stop();
    expect(await svc.exited).toBe(0);
  }, 120_000);

  it('an answer of several MB (the status of a large service) reaches a client that reads it; only a backlog of unread answers gets a client dropped', async () => {
    const svc = await startService({ config: 'syslog: false\n' });
    const long = 'A'.repeat(10_000);
    for (let i = 0; i < 320; i++) {
      await call(svc.pipe, 'watch.start', { id: `BIG${i}`, file: 'sh', args: ['-c', 'exec sleep 1000', long], cwd: svc.home, env: { PATH: process.env.PATH }, wait: false, restarts: 1, monitorOnly: false, final: 'none', scriptRestart: false, service: false, noWait: false });
    }
    const status = (await call(svc.pipe, 'status', {}, 30_000)) as { watches: Array<{ id: string; command: string }> };
    expect(status.watches).toHaveLength(320);
    expect(JSON.stringify(status).length).toBeGreaterThan(3_000_000);
    expect((await run('arms', ['status'], svc.env)).code).toBe(0);
    await svc.stop();
  }, 120_000);
});
