// The service's logs rotate by size: a burst written in one turn of the event loop (a script flooding
// its output) is spread over the files so that none passes the cap, and nothing in between is lost.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { openRotatingFile } from '../src/service/rotating-file';
import { tempDir } from './helpers';

describe('a rotating log file', () => {
  it('a burst of one turn is cut at the cap: no file passes it, and the newest lines are all there in order', async () => {
    const file = path.join(tempDir(), 'cluster.log');
    const log = openRotatingFile(file, { maxBytes: 1000, keep: 2 });
    const line = (i: number) => `line ${String(i).padStart(4, '0')} ${'x'.repeat(88)}\n`; // 99 bytes
    for (let i = 0; i < 50; i++) log.write(line(i)); // one turn: one batch of 4950 bytes
    await log.flushed();
    log.close();
    const files = [`${file}.2`, `${file}.1`, file];
    for (const f of files) expect(fs.statSync(f).size).toBeLessThanOrEqual(1000);
    const text = files.map((f) => fs.readFileSync(f, 'utf8')).join('');
    // Each file holds 10 lines (990 bytes); the two kept and the current one: the last 30, in order, none cut.
    expect(text).toBe(Array.from({ length: 30 }, (_, k) => line(20 + k)).join(''));
  });

  it('a line longer than the cap is written whole, alone in its file', async () => {
    const file = path.join(tempDir(), 'cluster.log');
    const log = openRotatingFile(file, { maxBytes: 100, keep: 3 });
    log.write('short\n');
    log.write(`${'y'.repeat(250)}\n`);
    log.write('after\n');
    await log.flushed();
    log.close();
    expect([fs.readFileSync(`${file}.2`, 'utf8'), fs.readFileSync(`${file}.1`, 'utf8'), fs.readFileSync(file, 'utf8')]).toEqual(['short\n', `${'y'.repeat(250)}\n`, 'after\n']);
  });
});
