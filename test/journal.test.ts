// The state journal (src/service/journal.ts): what was acknowledged survives kill -9 at any moment;
// a line cut short or damaged is reported and skipped, never fatal; compaction keeps it small.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { openJournal, readJournal } from '../src/service/journal';
import { openState, readState, watchRecord } from '../src/service/state';
import type { SavedWatch } from '../src/service/watches';
import { ROOT, tempDir } from './helpers';

const WRITER = path.join(ROOT, 'test', 'fixtures', 'journal-writer.cjs');
const STATE_WRITER = path.join(ROOT, 'test', 'fixtures', 'state-writer.cjs');

/**
 * Runs the writer until it has acknowledged `killAfterAcks` more changes (then SIGKILL, at once or
 * `delayMs` later: mid-write, mid-sync, mid-compaction) or its end; the changes it acknowledged.
 */
function runWriter(file: string, last: number, killAfterAcks: number, delayMs: number, writer = WRITER): Promise<{ acked: number[]; done: boolean; killed: boolean }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [writer, file, String(last)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let armed = false;
    const kill = () => child.kill('SIGKILL');
    child.stdout.on('data', (d) => {
      out += d;
      if (!armed && (out.match(/^ack /gm)?.length ?? 0) >= killAfterAcks) {
        armed = true;
        if (delayMs === 0) kill();
        else setTimeout(kill, delayMs);
      }
    });
    child.stderr.on('data', (d) => (err += d));
    const timer = setTimeout(kill, 60_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code !== 0 && signal !== 'SIGKILL') return reject(new Error(`writer exited ${code}: ${err}`));
      const acked = [...out.matchAll(/^ack (\d+)$/gm)].map((m) => Number(m[1]));
      resolve({ acked, done: /^done$/m.test(out), killed: signal === 'SIGKILL' });
    });
  });
}

describe('the journal', () => {
  it('keeps every acknowledged change when killed with SIGKILL at random moments during 1,000 changes', async () => {
    const file = path.join(tempDir(), 'state.journal');
    let seed = 20261203;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const LAST = 1000;
    /** per k-key, the highest change acknowledged for it */
    const ackedFor = new Map<string, number>();
    let maxAcked = 0;
    let kills = 0;
    let finished = false;
    for (let round = 0; round < 200; round++) {
      const r = await runWriter(file, LAST, 1 + Math.floor(random() * 80), Math.floor(random() * 3));
      if (r.killed) kills++;
      for (const i of r.acked) {
        maxAcked = Math.max(maxAcked, i);
        const k = `k${i % 50}`;
        ackedFor.set(k, Math.max(ackedFor.get(k) ?? 0, i));
      }
      const j = readJournal(file);
      if (j === null) {
        expect(maxAcked).toBe(0); // killed before it had opened the journal
        continue;
      }
      const counter = Number(j.values.get('counter') ?? 0);
      expect(counter).toBeGreaterThanOrEqual(maxAcked);
      for (const [k, i] of ackedFor) expect(Number(j.values.get(k)), `${k} after round ${round}`).toBeGreaterThanOrEqual(i);
      if (r.done) {
        finished = true;
        break;
      }
    }
    // It got to the end (the last acknowledgement may have been cut off by a kill after its write:
    // the next run then finds nothing left to do).
    expect(finished).toBe(true);
    expect(Number(readJournal(file)!.values.get('counter'))).toBe(LAST);
    expect(maxAcked).toBeGreaterThan(LAST - 10);
    expect(kills).toBeGreaterThanOrEqual(10); // it was killed mid-way, again and again
    // Compactions kept the file near its live size (56 keys of at most ~260 bytes).
    expect(fs.statSync(file).size).toBeLessThan(64 * 1024);
  }, 120_000);

  it('a line cut short at the end is reported and skipped; what comes after it is read', () => {
    const file = path.join(tempDir(), 'state.journal');
    const j = openJournal(file);
    j.put('a', 1);
    j.put('b', { x: 'two' });
    j.flushSync();
    j.put('a', 3);
    j.flushSync();
    j.close();
    const whole = fs.readFileSync(file);
    fs.writeFileSync(file, whole.subarray(0, whole.length - 6)); // the last write, cut short
    const r = readJournal(file)!;
    expect(r.values).toEqual(new Map<string, unknown>([['a', 1], ['b', { x: 'two' }]]));
    expect(r.skipped).toMatchObject({ lines: 1 });
    expect(r.skipped!.offset).toBeGreaterThan(0);

    const again = openJournal(file);
    expect(again.skippedAtOpen).toMatchObject({ lines: 1 });
    expect(again.initial.get('a')).toBe(1);
    again.put('c', 'after');
    again.close();
    // The damaged line is gone from the file: nothing to report any more, and the new record is there.
    const after = readJournal(file)!;
    expect(after.skipped).toBeNull();
    expect(after.values).toEqual(new Map<string, unknown>([['a', 1], ['b', { x: 'two' }], ['c', 'after']]));
  });

  it('a damaged line in the middle is skipped and reported; the records after it still count', () => {
    const file = path.join(tempDir(), 'state.journal');
    const j = openJournal(file);
    for (const [k, v] of [['a', 1], ['b', 2], ['c', 3]] as const) {
      j.put(k, v);
      j.flushSync();
    }
    j.close();
    const text = fs.readFileSync(file, 'utf8');
    const at = text.indexOf('"k":"b"');
    fs.writeFileSync(file, text.slice(0, at) + '"k":"B"' + text.slice(at + 7)); // a flipped bit: the checksum no longer matches
    const r = readJournal(file)!;
    expect(r.values).toEqual(new Map<string, unknown>([['a', 1], ['c', 3]]));
    expect(r.skipped).toMatchObject({ lines: 1 });
  });

  it('a deleted key stays deleted; a key written twice keeps its last value', () => {
    const file = path.join(tempDir(), 'state.journal');
    const j = openJournal(file);
    j.put('gone', 1);
    j.put('kept', 1);
    j.flushSync();
    j.delete('gone');
    j.put('kept', 2);
    j.flushSync();
    j.close();
    expect(readJournal(file)!.values).toEqual(new Map([['kept', 2]]));
  });

  it('is compacted in the background: a key changed 5,000 times leaves a file the size of its live records', async () => {
    const file = path.join(tempDir(), 'state.journal');
    const j = openJournal(file, { minBytes: 16 * 1024, ratio: 2 });
    for (let i = 0; i < 100; i++) j.put(`static${i}`, 'y'.repeat(100));
    for (let i = 1; i <= 5000; i++) {
      j.put('hot', i);
      if (i % 10 === 0) await j.flush();
    }
    await j.flush();
    const { fileBytes, liveBytes, records } = j.size();
    expect(records).toBe(101);
    expect(fileBytes).toBeLessThanOrEqual(Math.max(16 * 1024, 2 * liveBytes) + 200);
    expect(fs.statSync(file).size).toBe(fileBytes);
    j.close();
    const r = readJournal(file)!;
    expect(r.values.get('hot')).toBe(5000);
    expect(r.values.size).toBe(101);
    expect(fs.existsSync(`${file}.tmp`)).toBe(false);
  });
});

describe('the persisted state on the journal', () => {
  it('keeps every acknowledged commit() and save() when killed with SIGKILL at random moments during 1,000 changes', async () => {
    const dir = tempDir();
    let seed = 20261204;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const LAST = 1000;
    const ackedFor = new Map<string, number>();
    let maxAcked = 0;
    let kills = 0;
    let finished = false;
    for (let round = 0; round < 200; round++) {
      const r = await runWriter(dir, LAST, 1 + Math.floor(random() * 80), Math.floor(random() * 3), STATE_WRITER);
      if (r.killed) kills++;
      for (const i of r.acked) {
        maxAcked = Math.max(maxAcked, i);
        for (const k of [`K${i % 50}`, `W${i % 20}`]) ackedFor.set(k, Math.max(ackedFor.get(k) ?? 0, i));
      }
      const read = readState(dir);
      if (read.state === null) {
        expect(maxAcked).toBe(0); // killed before its first write
        continue;
      }
      expect(read.from, `round ${round}`).toBe('current');
      const s = read.state;
      expect(s.values.COUNTER ?? 0).toBeGreaterThanOrEqual(maxAcked);
      for (const [k, i] of ackedFor) {
        const got = k.startsWith('K') ? s.values[k] : s.watches.find((w) => w.req.id === k)?.pid;
        expect(got, `${k} after round ${round}`).toBeGreaterThanOrEqual(i);
      }
      if (r.done) {
        finished = true;
        break;
      }
    }
    expect(finished).toBe(true);
    expect(readState(dir).state!.values.COUNTER).toBe(LAST);
    expect(kills).toBeGreaterThanOrEqual(10);
    expect(fs.statSync(path.join(dir, 'state.journal')).size).toBeLessThan(64 * 1024); // compacted as it went
  }, 180_000);

  const watch = (id: string, env: NodeJS.ProcessEnv, pid: number): SavedWatch => ({
    req: { id, group: null, file: 'sleep', args: ['1000'], cwd: '/', env, wait: false, policy: { restarts: 3, windowMs: null, monitorOnly: false, final: null }, scriptRestart: false, graceMs: 0, intervalMs: 5000 },
    pid,
    identity: null,
    state: 'running',
    since: 1,
    startedAt: 1,
    counters: { used: 0, windowStart: null },
    lastExit: null,
    escalation: null,
  });

  /** the state with a map standing in for the watches' owner (what watches.ts answers) */
  const withWatches = (dir: string) => {
    const ws = new Map<string, SavedWatch>();
    const asked: string[] = [];
    const state = openState(dir, {
      owners: () => ({
        watch: (k) => (asked.push(k), ws.get(k) ?? null),
        group: () => null,
        watchKeys: () => ws.keys(),
        groupKeys: () => [],
      }),
    });
    const set = (id: string, w: SavedWatch | null) => {
      if (w) ws.set(id.toUpperCase(), w);
      else ws.delete(id.toUpperCase());
      state.changed(watchRecord(id.toUpperCase()));
    };
    return { state, set, asked };
  };

  it('stores each distinct environment once, however many watches share it', async () => {
    const dir = tempDir();
    const { state, set } = withWatches(dir);
    const big: NodeJS.ProcessEnv = {};
    for (let i = 0; i < 60; i++) big[`VARIABLE_${i}`] = `some value of a typical length ${i}`;
    const other = { ...big, ONE_MORE: 'x' };
    for (let i = 0; i < 200; i++) set(`W${i}`, watch(`W${i}`, i === 7 ? other : { ...big }, 1000 + i));
    await state.commit();
    const text = fs.readFileSync(path.join(dir, 'state.journal'), 'utf8');
    expect(text.match(/"k":"env:/g)).toHaveLength(2);
    expect(text.split('VARIABLE_59').length - 1).toBe(2);
    const back = readState(dir).state!;
    expect(back.watches).toHaveLength(200);
    expect(back.watches.find((w) => w.req.id === 'W7')!.req.env).toEqual(other);
    expect(back.watches.find((w) => w.req.id === 'W8')!.req.env).toEqual(big);
    expect(back.watches.find((w) => w.req.id === 'W8')!.pid).toBe(1008);
    // An environment no watch uses any more is dropped.
    set('W7', null);
    state.save();
    expect([...readJournal(path.join(dir, 'state.journal'))!.values.keys()].filter((k) => k.startsWith('env:'))).toHaveLength(1);
    expect(readState(dir).state!.watches).toHaveLength(199);
  });

  it('a change costs what changed: one watch restarted among 2,000 appends one record', async () => {
    const dir = tempDir();
    const { state, set, asked } = withWatches(dir);
    const env = { PATH: '/usr/bin:/bin', HOME: '/root' };
    for (let i = 0; i < 2000; i++) set(`W${i}`, watch(`W${i}`, env, 1000 + i));
    await state.commit();
    const before = fs.statSync(path.join(dir, 'state.journal')).size;
    asked.length = 0;
    set('W5', watch('W5', env, 99999));
    expect(state.dirty()).toBe(true);
    await state.commit();
    expect(state.dirty()).toBe(false);
    expect(asked).toEqual(['W5']); // the owner was asked for that watch alone, not for all 2,000
    const grown = fs.statSync(path.join(dir, 'state.journal')).size - before;
    expect(grown).toBeGreaterThan(0);
    expect(grown).toBeLessThan(1000);
    expect(readState(dir).state!.watches.find((w) => w.req.id === 'W5')!.pid).toBe(99999);
  });

  it('takes over a state.json from before the journal, then removes it', () => {
    const dir = tempDir();
    const old = { version: 1, cleanStop: false, reboots: 2, failovers: { G: [5] }, values: { X: 7 }, groups: {}, watches: [watch('OLD', { A: 'b' }, 4242)] };
    fs.writeFileSync(path.join(dir, 'state.json'), JSON.stringify(old));
    const state = openState(dir);
    expect(state.recovery).toMatchObject({ from: 'current', lost: false, incomplete: false });
    expect(state.previous).toMatchObject({ cleanStop: false, reboots: 2, values: { X: 7 }, failovers: { G: [5] } });
    expect(state.previous!.watches[0]).toMatchObject({ pid: 4242, req: { id: 'OLD', env: { A: 'b' } } });
    expect(fs.existsSync(path.join(dir, 'state.json'))).toBe(false);
    expect(readState(dir)).toMatchObject({ from: 'current', source: 'journal', state: { reboots: 2, values: { X: 7 } } });
  });

  it('a record of the wrong shape is skipped and reported, the key\'s earlier good record stays in force', () => {
    const dir = tempDir();
    const { state, set } = withWatches(dir);
    set('A', watch('A', { X: '1' }, 1111));
    state.save();
    const j = openJournal(path.join(dir, 'state.journal'), { found: readJournal(path.join(dir, 'state.journal')) });
    j.put('watch:A', { ...j.initial.get('watch:A')!, counters: 'many' }); // right checksum, wrong shape
    j.close();
    const again = openState(dir);
    expect(again.recovery).toMatchObject({ from: 'current', incomplete: true, skipped: { lines: 1, torn: false } });
    expect(again.recovery.skipped!.reasons[0]).toMatch(/record "watch:A": watch:A\.counters: expected a mapping/);
    expect(again.previous!.watches).toMatchObject([{ pid: 1111, counters: { used: 0 } }]);
    expect(fs.existsSync(path.join(dir, 'state.journal.damaged'))).toBe(true);
  });

  it('a journal that cannot be used at all: its previous good copy (the journal at its last compaction), else nothing, said so', async () => {
    const dir = tempDir();
    const ws = new Map<string, SavedWatch>();
    const state = openState(dir, { compactMinBytes: 2048, compactRatio: 2, owners: () => ({ watch: (k) => ws.get(k) ?? null, group: () => null, watchKeys: () => ws.keys(), groupKeys: () => [] }) });
    for (let i = 0; i < 100; i++) {
      state.data.values.N = i;
      state.changed();
      await state.commit();
    }
    expect(fs.existsSync(path.join(dir, 'state.journal.prev'))).toBe(true); // compacted at least once
    fs.writeFileSync(path.join(dir, 'state.journal'), 'garbage\n');
    const back = openState(dir);
    expect(back.recovery).toMatchObject({ from: 'previous', lost: false, incomplete: true });
    expect(back.recovery.refused[0]).toMatch(/^state\.journal: no usable meta record/);
    expect(back.previous!.values.N).toBeGreaterThan(10);
    expect(fs.readFileSync(path.join(dir, 'state.journal.damaged'), 'utf8')).toBe('garbage\n');
    expect(readState(dir)).toMatchObject({ from: 'current', state: { values: { N: back.previous!.values.N } } }); // rewritten from the copy
    fs.writeFileSync(path.join(dir, 'state.journal'), 'garbage\n');
    fs.writeFileSync(path.join(dir, 'state.journal.prev'), '');
    expect(openState(dir).recovery).toMatchObject({ from: 'none', lost: true });
  });
});
