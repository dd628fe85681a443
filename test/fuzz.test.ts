// The pipe under abuse: 250,000 random and mutated frames (seeded, reproducible) while a parallel
// connection's well-formed requests are all answered; slow and silent clients are dropped; a flood
// of requests does not starve the restarts of a watch.
import * as fs from 'node:fs';
import * as net from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { call, connect } from '../src/client/client';
import { run, sleep, startService, stopAll } from './helpers';

afterAll(stopAll);

/** A small seeded generator (mulberry32): the same frames on every run. */
function rng(seed: number) {
  return () => {
    seed |= 0;
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SEEDS = [
  '{"v":1,"id":1,"op":"ping"}',
  '{"v":1,"id":2,"op":"log","args":{"message":"fuzz","level":"WARN","alert":false,"source":"fuzz"}}',
  '{"v":1,"id":"x","op":"status"}',
  '{"v":1,"id":3,"op":"value.set","args":{"name":"F","value":3}}',
  '{"v":1,"id":4,"op":"watch.kill","args":{"id":"nope","timeoutS":0}}',
  '{"v":1,"id":5,"op":"group.start","args":{"name":"none","wait":false}}',
];

/** A frame: random bytes, or a well-formed frame with bytes flipped, cut, doubled or spliced. */
function frame(random: () => number): Buffer {
  const pick = <T>(xs: T[]) => xs[Math.floor(random() * xs.length)];
  const kind = random();
  if (kind < 0.2) {
    const b = Buffer.alloc(Math.floor(random() * 200));
    for (let i = 0; i < b.length; i++) b[i] = Math.floor(random() * 256);
    return Buffer.concat([b.filter((x) => x !== 10), Buffer.from('\n')]);
  }
  let s = pick(SEEDS);
  const edits = 1 + Math.floor(random() * 4);
  for (let e = 0; e < edits; e++) {
    const at = Math.floor(random() * s.length);
    const r = random();
    if (r < 0.3) s = s.slice(0, at) + String.fromCharCode(Math.floor(random() * 128)) + s.slice(at + 1);
    else if (r < 0.5) s = s.slice(0, at);
    else if (r < 0.65) s = s.slice(0, at) + pick(['"', '{', '}', '[', ']', ':', ',', '\\', 'null', '-1', '1e999', '"v":2', '"__proto__":{}']) + s.slice(at);
    else if (r < 0.8) s = s.replace(/"(v|id|op|args)"/, `"${pick(['v', 'id', 'op', 'args', 'constructor', 'prototype'])}"`);
    else s = s.slice(0, at) + pick(SEEDS).slice(Math.floor(random() * 20));
  }
  return Buffer.from(s.replace(/\n/g, '') + '\n');
}

function rss(pid: number): number {
  return Number(/VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024;
}

describe('pipe hardening', () => {
  it('250,000 random and mutated frames: every line answered, the well-formed requests beside them all answered, memory does not grow', async () => {
    const svc = await startService({ config: 'syslog: false\nlog: { maxSize: 1MB, keep: 1 }\n' });
    const random = rng(20261122);
    const roundRss: number[] = [];
    // Rounds of 50,000: two that let the heap grow to its working size, then three measured.
    for (let round = 0; round < 5; round++) {
      const bad = net.connect(svc.pipe);
      await new Promise((r) => bad.once('connect', r));
      let answers = 0;
      bad.on('data', (d) => (answers += d.toString().split('\n').length - 1));
      bad.on('error', () => undefined);
      const good = await connect(svc.pipe);
      let goodAnswered = 0;
      const goodDone: Promise<unknown>[] = [];
      let expected = 0;
      for (let i = 0; i < 50_000; i++) {
        const f = frame(random);
        // An empty line is no request and gets no answer; every other line gets exactly one.
        if (f.toString('latin1').replace(/\r?\n$/, '').length > 0) expected++;
        if (!bad.write(f)) await new Promise((r) => bad.once('drain', r));
        if (i % 500 === 0) goodDone.push(good.request('ping', {}, 30_000).then(() => goodAnswered++));
      }
      await Promise.all(goodDone);
      expect(goodAnswered).toBe(100);
      // Every frame has its answer (an error, or a result for the ones that were still well-formed).
      const deadline = Date.now() + 30_000;
      while (answers < expected && Date.now() < deadline) await sleep(50);
      await sleep(200);
      expect(answers).toBe(expected);
      expect(expected).toBeGreaterThan(49_000);
      bad.destroy();
      good.close();
      await sleep(500);
      roundRss.push(rss(svc.proc.pid!));
    }
    expect((await call(svc.pipe, 'ping')) as { pid: number }).toMatchObject({ pid: svc.proc.pid });
    // The last 150,000 frames cost nothing the ones before did not: a leak of 80 bytes a frame
    // would show as 12 MiB. The heap grows to its working size in the first rounds, at a pace
    // that depends on when V8 collects (measured here 81, 97, 99, 99, 100, 100 MiB; on CI's 2
    // cores once +13 MiB from the second round to the third), so the first two are not compared.
    expect(roundRss[4] - roundRss[1], `RSS after each round (MiB): ${roundRss.map((x) => (x / 1048576).toFixed(1)).join(' ')}`).toBeLessThan(12 * 1024 * 1024);
    await svc.stop();
  }, 180_000);

  it('a silent client and a byte-a-second client are dropped after the timeouts; others are served meanwhile', async () => {
    const svc = await startService({ config: 'syslog: false\npipe: { idleTimeout: 1s, lineTimeout: 2s }\n' });
    const closedAfter = (sock: net.Socket) => {
      const began = Date.now();
      sock.on('error', () => undefined); // a write racing the service's close: EPIPE, expected here
      return new Promise<number>((r) => sock.once('close', () => r(Date.now() - began)));
    };
    const silent = net.connect(svc.pipe);
    const silentClosed = closedAfter(silent);
    const slow = net.connect(svc.pipe);
    const slowClosed = closedAfter(slow);
    await new Promise((r) => slow.once('connect', r));
    const request = '{"v":1,"id":1,"op":"ping"}\n';
    let i = 0;
    const dribble = setInterval(() => slow.writable && slow.write(request[i++ % request.length]), 300);
    const blank = net.connect(svc.pipe);
    const blankClosed = closedAfter(blank);
    const blanks = setInterval(() => blank.writable && blank.write('\n'), 200);
    expect((await run('armlog', ['served meanwhile'], svc.env)).code).toBe(0);
    const [s, sl, b] = await Promise.all([silentClosed, slowClosed, blankClosed]);
    clearInterval(dribble);
    clearInterval(blanks);
    expect(s).toBeLessThan(10_000);
    expect(sl).toBeLessThan(10_000);
    expect(b).toBeLessThan(10_000);
    // A client waiting for an answer (ARMLOAD /W) is not idle.
    const r = await run('ARMLOAD', ['waits', '/W', 'sleep', '2'], svc.env);
    expect(r.code).toBe(0);
    await svc.stop();
  }, 60_000);

  it('a flood of requests on 16 connections does not starve the restarts of a crashing watch', async () => {
    // Restart pacing without growth (0.1 s between restarts): the restarts go on at a steady rate.
    const svc = await startService({ config: 'syslog: false\nlog: { maxSize: 1MB, keep: 1 }\nwatches:\n  crashy:\n    restartBackoff: 1\n' });
    expect((await run('ARMLOAD', ['crashy', '/R', '999', 'sh', '-c', 'sleep 0.1'], svc.env)).code).toBe(0);
    const restarts = async () => ((await call(svc.pipe, 'status')) as { watches: Array<{ restartsUsed: number }> }).watches[0].restartsUsed;
    let flooding = true;
    const conns = await Promise.all(Array.from({ length: 16 }, () => connect(svc.pipe)));
    const floods = conns.map(async (c) => {
      while (flooding) await Promise.all(Array.from({ length: 64 }, () => c.request('log', { message: 'flood', source: 'fuzz' })));
    });
    const before = await restarts();
    await sleep(3000);
    const after = await restarts();
    flooding = false;
    await Promise.all(floods);
    for (const c of conns) c.close();
    // About five a second when idle; under the flood it must still go on (no timing asserted).
    expect(after - before).toBeGreaterThanOrEqual(5);
    expect((await run('ARMKILL', ['crashy'], svc.env)).code).toBe(0);
    await svc.stop();
  }, 60_000);
});
