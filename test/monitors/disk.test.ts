// The disk probe, in its helper process: write, fsync, read back, delete; removed folders, full
// and read-only filesystems, free space, and a probe that hangs (a FIFO where the probe file goes).
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DiskProber, probeName } from '../../src/monitors/disk';
import { probe, size } from '../../src/monitors/disk-prober';
import { ROOT, tempDir } from '../helpers';

const SCRIPT = path.join(ROOT, 'dist', 'monitors', 'disk-prober.js');
const NAME = '.arms-probe-test';
const probers: DiskProber[] = [];
const newProber = () => {
  const p = new DiskProber(SCRIPT);
  probers.push(p);
  return p;
};
afterAll(() => probers.forEach((p) => p.close()));

const isRoot = process.getuid?.() === 0;
/** A small tmpfs the test mounts (root only); undefined when it cannot. */
function tmpfs(sizeKb: number): string | undefined {
  if (!isRoot || process.platform !== 'linux') return undefined;
  const dir = tempDir('arms-tmpfs-');
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeKb}k`, 'tmpfs', dir]);
  return r.status === 0 ? dir : undefined;
}
const mounted: string[] = [];
afterAll(() => {
  for (const d of mounted) spawnSync('umount', ['-l', d]);
});

describe('disk probe (in the helper process)', () => {
  it('passes on a writable folder and leaves nothing behind', async () => {
    const dir = tempDir();
    const o = await newProber().probe(dir, NAME, 5000);
    expect(o.ok).toBe(true);
    expect(o.detail).toMatch(/^write, fsync, read back, delete in \d+ ms$/);
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('fails on a folder that was removed, naming it', async () => {
    const dir = tempDir();
    fs.rmdirSync(dir);
    expect(await newProber().probe(dir, NAME, 5000)).toEqual({ ok: false, detail: `the folder ${dir} does not exist (ENOENT)` });
  });

  it('fails on a path that is a file, not a folder', async () => {
    const file = path.join(tempDir(), 'f');
    fs.writeFileSync(file, '');
    const o = await newProber().probe(file, NAME, 5000);
    expect(o.ok).toBe(false);
    expect(o.detail).toMatch(/cannot create the probe file .*ENOTDIR/);
  });

  it('checks free space against a threshold', async () => {
    const dir = tempDir();
    const p = newProber();
    const fine = await p.probe(dir, NAME, 5000, 1024);
    expect(fine.ok).toBe(true);
    expect(fine.detail).toMatch(/, [\d.]+ [KMGTP]?B free$/);
    const tooMuch = await p.probe(dir, NAME, 5000, 2 ** 60);
    expect(tooMuch).toMatchObject({ ok: false, detail: expect.stringMatching(/free, below the threshold of 1024 PB$/) });
    expect(size(1536)).toBe('1.5 KB');
  });

  it.skipIf(!isRoot)('fails on a full tmpfs (ENOSPC) and on a read-only one (EROFS), and cleans up its probe file', async () => {
    const dir = tmpfs(64);
    if (!dir) return void console.warn('skipped: cannot mount a tmpfs here');
    mounted.push(dir);
    const p = newProber();
    expect((await p.probe(dir, NAME, 5000)).ok).toBe(true);
    spawnSync('dd', ['if=/dev/zero', `of=${path.join(dir, 'fill')}`, 'bs=4k'], { stdio: 'ignore' });
    const full = await p.probe(dir, NAME, 5000);
    expect(full.ok).toBe(false);
    expect(full.detail).toMatch(/ENOSPC/);
    expect(fs.readdirSync(dir)).toEqual(['fill']);
    fs.unlinkSync(path.join(dir, 'fill'));
    execFileSync('mount', ['-o', 'remount,ro', dir]);
    const ro = await p.probe(dir, NAME, 5000);
    expect(ro.ok).toBe(false);
    expect(ro.detail).toMatch(/EROFS/);
  });

  it.skipIf(process.platform === 'win32')('a probe that hangs fails at the timeout; the disk stays "hung" until it answers; other disks go on', async () => {
    const hungDir = tempDir();
    const okDir = tempDir();
    execFileSync('mkfifo', [path.join(hungDir, NAME)]); // opening it for writing blocks until a reader comes
    const p = newProber();
    const start = Date.now();
    const [hung, fine] = await Promise.all([p.probe(hungDir, NAME, 400), p.probe(okDir, NAME, 400)]);
    expect(Date.now() - start).toBeGreaterThanOrEqual(390);
    expect(Date.now() - start).toBeLessThan(1500);
    expect(hung).toEqual({ ok: false, detail: 'no answer within 0.4 s: write, fsync, read back or delete of the probe file hung' });
    expect(fine.ok).toBe(true);
    // Still hung: the next check fails at once, without piling another blocked call on the helper.
    const again = await p.probe(hungDir, NAME, 400);
    expect(again.ok).toBe(false);
    expect(again.detail).toMatch(/^hung: the probe started [\d.]+ s ago has not finished$/);
    expect((await p.probe(okDir, NAME, 400)).ok).toBe(true);
    // A reader unblocks the FIFO: the late answer clears the hang, and the disk is checked again.
    const reader = fs.openSync(path.join(hungDir, NAME), fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    await new Promise((r) => setTimeout(r, 300));
    fs.closeSync(reader);
    fs.rmSync(path.join(hungDir, NAME), { force: true });
    const back = await p.probe(hungDir, NAME, 2000);
    expect(back.ok).toBe(true);
  });

  it.skipIf(process.platform === 'win32')('close() kills the helper even while a probe hangs', async () => {
    const hungDir = tempDir();
    execFileSync('mkfifo', [path.join(hungDir, NAME)]);
    const p = new DiskProber(SCRIPT);
    await p.probe(hungDir, NAME, 200);
    const helpers = () => spawnSync('pgrep', ['-f', SCRIPT], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean).map(Number);
    const before = helpers();
    expect(before.length).toBeGreaterThan(0);
    p.close();
    await new Promise((r) => setTimeout(r, 300));
    expect(helpers().filter((pid) => before.includes(pid)).length).toBeLessThan(before.length);
    expect(await p.probe(hungDir, NAME, 200)).toEqual({ ok: false, detail: 'the disk monitor is stopping' });
  });

  it('probe() in-process: read back and delete; the probe name is per server and monitor', async () => {
    const dir = tempDir();
    expect((await probe(dir, 'x')).ok).toBe(true);
    expect(fs.existsSync(path.join(dir, 'x'))).toBe(false);
    expect(probeName('RSP')).toMatch(/^\.arms-probe-[A-Za-z0-9_.-]+-RSP$/);
    expect(probeName('pid 42')).toMatch(/-pid42$/);
  });
});
