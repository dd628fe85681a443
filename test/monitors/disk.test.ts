// The disk probe, in its helper process, native (probe-helper.c) and node (disk-prober.ts), each
// proven on its own: write, fsync, read back, delete; removed folders, full, read-only and
// unwritable filesystems, free space, odd paths, and a probe that hangs (a FIFO where the probe file
// goes). And the two word their answers alike.
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { probeName } from '../../src/monitors/disk';
import { HelperCommand, nativeHelper, nodeHelper, ProbeHelper } from '../../src/monitors/probe-helper';
import { probe, size } from '../../src/monitors/disk-prober';
import { ROOT, sleep, tempDir } from '../helpers';

const SCRIPT = path.join(ROOT, 'dist', 'monitors', 'disk-prober.js');
const NATIVE = path.join(ROOT, 'dist', 'monitors', 'arms-probe');
const NAME = '.arms-probe-test';
const isRoot = process.getuid?.() === 0;
const posix = process.platform !== 'win32';
// Where a C compiler is, `npm run build` must have built the native helper: its tests then run
// (and fail when it is missing).
const hasCc = posix && spawnSync(process.env.CC || 'cc', ['--version'], { stdio: 'ignore' }).status === 0;
if (!hasCc) console.warn('native disk helper tests skipped: no C compiler (Debian: apt-get install gcc libc6-dev)');

const HELPERS: { name: string; helper: HelperCommand; cmdline: string; available: boolean }[] = [
  { name: 'native', helper: nativeHelper(NATIVE), cmdline: `^${NATIVE}$`, available: hasCc },
  { name: 'node', helper: nodeHelper(SCRIPT), cmdline: `${SCRIPT}$`, available: true },
];

const probers: ProbeHelper[] = [];
afterAll(() => probers.forEach((p) => p.close()));

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

for (const h of HELPERS) {
  describe.skipIf(!h.available)(`disk probe in the ${h.name} helper`, () => {
    const newProber = () => {
      const p = new ProbeHelper(h.helper);
      probers.push(p);
      return p;
    };
    const helperPids = () => spawnSync('pgrep', ['-f', h.cmdline], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean).map(Number);

    it('is there (built by npm run build)', () => {
      expect(fs.existsSync(h.helper.args[0] ?? h.helper.command)).toBe(true);
    });

    it('passes on a writable folder and leaves nothing behind', async () => {
      const dir = tempDir();
      const o = await newProber().disk(dir, NAME, 5000);
      expect(o.ok).toBe(true);
      expect(o.detail).toMatch(/^write, fsync, read back, delete in \d+ ms$/);
      expect(fs.readdirSync(dir)).toEqual([]);
    });

    it('takes paths with spaces, tabs, quotes, backslashes and non-ASCII; refuses a line break', async () => {
      const dir = path.join(tempDir(), "a b\tc 'd' \"e\" \\f é\r");
      fs.mkdirSync(dir);
      const p = newProber();
      expect(await p.disk(dir, NAME, 5000)).toMatchObject({ ok: true });
      expect(fs.readdirSync(dir)).toEqual([]);
      expect(await p.disk(`${dir}\nx`, NAME, 5000)).toEqual({ ok: false, detail: `the folder ${JSON.stringify(`${dir}\nx`)} has a line break or NUL in its path: the disk monitor cannot check it` });
      expect(await p.disk(dir, NAME, 5000)).toMatchObject({ ok: true }); // and goes on
    });

    it('twenty folders at once, each answered', async () => {
      const dirs = Array.from({ length: 20 }, () => tempDir());
      const p = newProber();
      const all = await Promise.all(dirs.map((d) => p.disk(d, NAME, 5000)));
      expect(all.filter((o) => o.ok)).toHaveLength(20);
      for (const d of dirs) expect(fs.readdirSync(d)).toEqual([]);
    });

    it('fails on a folder that was removed, naming it', async () => {
      const dir = tempDir();
      fs.rmdirSync(dir);
      expect(await newProber().disk(dir, NAME, 5000)).toEqual({ ok: false, detail: `the folder ${dir} does not exist (ENOENT)` });
    });

    it('fails on a path that is a file, not a folder', async () => {
      const file = path.join(tempDir(), 'f');
      fs.writeFileSync(file, '');
      const target = path.join(file, NAME);
      expect(await newProber().disk(file, NAME, 5000)).toEqual({ ok: false, detail: `cannot create the probe file ${target}: ENOTDIR: not a directory, open '${target}'` });
    });

    it.skipIf(isRoot || !posix)('fails on a folder it may not write (not root)', async () => {
      const dir = tempDir();
      fs.chmodSync(dir, 0o555);
      const target = path.join(dir, NAME);
      expect(await newProber().disk(dir, NAME, 5000)).toEqual({ ok: false, detail: `cannot create the probe file ${target}: EACCES: permission denied, open '${target}'` });
    });

    it('checks free space against a threshold', async () => {
      const dir = tempDir();
      const p = newProber();
      const fine = await p.disk(dir, NAME, 5000, 1024);
      expect(fine.ok).toBe(true);
      expect(fine.detail).toMatch(/^write, fsync, read back, delete in \d+ ms, [\d.]+ [KMGTP]?B free$/);
      const below = (o: { detail: string }) => o.detail.replace(/^[\d.]+ [KMGTP]?B free, /, '');
      expect(below(await p.disk(dir, NAME, 5000, 2 ** 60))).toBe('below the threshold of 1024 PB');
      expect(below(await p.disk(dir, NAME, 5000, 1.25 * 2 ** 50))).toBe('below the threshold of 1.3 PB');
      expect(below(await p.disk(dir, NAME, 5000, 2 ** 50 * 1023.96))).toBe('below the threshold of 1024 PB');
      expect(below(await p.disk(dir, NAME, 5000, 2 ** 51))).toBe('below the threshold of 2 PB');
      expect(fs.readdirSync(dir)).toEqual([]);
    });

    it.skipIf(!isRoot)('fails on a full tmpfs (ENOSPC) and on a read-only one (EROFS), and cleans up its probe file', async () => {
      const dir = tmpfs(64);
      if (!dir) return void console.warn('skipped: cannot mount a tmpfs here');
      mounted.push(dir);
      const target = path.join(dir, NAME);
      const p = newProber();
      expect((await p.disk(dir, NAME, 5000)).ok).toBe(true);
      spawnSync('dd', ['if=/dev/zero', `of=${path.join(dir, 'fill')}`, 'bs=4k'], { stdio: 'ignore' });
      expect(await p.disk(dir, NAME, 5000)).toEqual({ ok: false, detail: `cannot write the probe file ${target}: ENOSPC: no space left on device, write` });
      expect(fs.readdirSync(dir)).toEqual(['fill']);
      fs.unlinkSync(path.join(dir, 'fill'));
      execFileSync('mount', ['-o', 'remount,ro', dir]);
      expect(await p.disk(dir, NAME, 5000)).toEqual({ ok: false, detail: `cannot create the probe file ${target}: EROFS: read-only file system, open '${target}'` });
    });

    it.skipIf(!posix)('a probe that hangs fails at the timeout; the disk stays "hung" until it answers; other disks go on', async () => {
      const hungDir = tempDir();
      const okDir = tempDir();
      execFileSync('mkfifo', [path.join(hungDir, NAME)]); // opening it for writing blocks until a reader comes
      const p = newProber();
      const start = Date.now();
      const [hung, fine] = await Promise.all([p.disk(hungDir, NAME, 400), p.disk(okDir, NAME, 400)]);
      expect(Date.now() - start).toBeGreaterThanOrEqual(390);
      expect(Date.now() - start).toBeLessThan(1500);
      expect(hung).toEqual({ ok: false, detail: 'no answer within 0.4 s: write, fsync, read back or delete of the probe file hung' });
      expect(fine.ok).toBe(true);
      // Still hung: the next check fails at once, without piling another blocked call on the helper.
      const again = await p.disk(hungDir, NAME, 400);
      expect(again.ok).toBe(false);
      expect(again.detail).toMatch(/^hung: the probe started [\d.]+ s ago has not finished$/);
      expect((await p.disk(okDir, NAME, 400)).ok).toBe(true);
      // A reader unblocks the FIFO: the late answer clears the hang, and the disk is checked again.
      const reader = fs.openSync(path.join(hungDir, NAME), fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
      await sleep(300);
      fs.closeSync(reader);
      fs.rmSync(path.join(hungDir, NAME), { force: true });
      const back = await p.disk(hungDir, NAME, 2000);
      expect(back.ok).toBe(true);
    });

    it.skipIf(!posix)('close() kills the helper even while a probe hangs', async () => {
      const hungDir = tempDir();
      execFileSync('mkfifo', [path.join(hungDir, NAME)]);
      const before = helperPids();
      const p = new ProbeHelper(h.helper);
      await p.disk(hungDir, NAME, 200);
      const mine = helperPids().filter((pid) => !before.includes(pid));
      expect(mine).toHaveLength(1);
      p.close();
      await sleep(300);
      expect(helperPids().filter((pid) => mine.includes(pid))).toEqual([]);
      expect(await p.disk(hungDir, NAME, 200)).toEqual({ ok: false, detail: 'the disk monitor is stopping' });
    });
  });
}

describe('disk probe', () => {
  it.skipIf(!hasCc)('the native and the node helper word the same failures alike', async () => {
    const native = new ProbeHelper(nativeHelper(NATIVE));
    const node = new ProbeHelper(nodeHelper(SCRIPT));
    probers.push(native, node);
    // Each case set up afresh for each helper: a failed probe removes what it created (the FIFO too).
    const cases: Record<string, () => [string, string, () => void]> = {
      'removed folder': () => {
        const d = tempDir();
        fs.rmdirSync(d);
        return [d, NAME, () => undefined];
      },
      'a file, not a folder': () => {
        const f = path.join(tempDir(), 'f');
        fs.writeFileSync(f, '');
        return [f, NAME, () => undefined];
      },
      'a subfolder that is not there': () => [tempDir(), 'sub/x', () => undefined],
      'a FIFO with a reader (fsync fails)': () => {
        const d = tempDir();
        execFileSync('mkfifo', [path.join(d, NAME)]);
        const reader = fs.openSync(path.join(d, NAME), fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
        return [d, NAME, () => fs.closeSync(reader)];
      },
    };
    for (const [what, make] of Object.entries(cases)) {
      const answers = [];
      for (const p of [native, node]) {
        const [dir, name, done] = make();
        try {
          answers.push({ ...(await p.disk(dir, name, 5000)), dir });
        } finally {
          done();
        }
      }
      const [a, b] = answers;
      expect(a.ok, what).toBe(false);
      expect(a.detail.split(a.dir).join('DIR'), what).toBe(b.detail.split(b.dir).join('DIR'));
    }
  });

  it('probe() in-process: read back and delete; the probe name is per server and monitor', async () => {
    const dir = tempDir();
    expect((await probe(dir, 'x')).ok).toBe(true);
    expect(fs.existsSync(path.join(dir, 'x'))).toBe(false);
    expect(size(1536)).toBe('1.5 KB');
    expect(probeName('RSP')).toMatch(/^\.arms-probe-[A-Za-z0-9_.-]+-RSP$/);
    expect(probeName('pid 42')).toMatch(/-pid42$/);
  });
});
