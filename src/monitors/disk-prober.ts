// ARMRSP's probe helper in node (started by probe-helper.ts, never by hand), where the native one
// (probe-helper.c) was not built: Windows, machines without a C compiler. A file call on a hung disk
// can block forever, and a process whose thread pool has such a call cannot even exit; so ARMRSP
// does its disk I/O here, in a process it can abandon. The line protocol is probe-helper.c's:
//   request  disk NUL ID NUL MINFREE NUL DIR NUL FILE LF   (MINFREE empty: no free-space check)
//            echo NUL ID NUL ADDRESS NUL TIMEOUT_MS LF     (node cannot send ICMP: status 2)
//   answer   ID SP 1|0|2 SP DETAIL LF
// Requests run concurrently (the parent sets UV_THREADPOOL_SIZE so a few hung disks do not hold up
// the others).
import { randomBytes } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';

function answer(id: string, status: 0 | 1 | 2, detail: string): void {
  process.stdout.write(`${id} ${status} ${detail}\n`);
}

export function probe(dir: string, name: string, minFree?: number): Promise<{ ok: boolean; detail: string }> {
  return probeFile(dir, path.join(dir, name), minFree);
}

async function probeFile(dir: string, file: string, minFree?: number): Promise<{ ok: boolean; detail: string }> {
  const start = Date.now();
  const data = Buffer.concat([Buffer.from(`ARMS disk probe ${new Date().toISOString()} `), randomBytes(16), Buffer.from('\n')]);
  let step = 'create';
  let created = false;
  try {
    const fh = await fsp.open(file, 'w');
    created = true;
    try {
      step = 'write';
      await fh.writeFile(data);
      step = 'fsync';
      await fh.sync();
    } finally {
      await fh.close();
    }
    step = 'read back';
    const back = await fsp.readFile(file);
    if (!back.equals(data)) {
      await fsp.unlink(file).catch(() => undefined);
      return { ok: false, detail: `the probe file ${file} read back differs from what was written` };
    }
    step = 'delete';
    await fsp.unlink(file);
    created = false;
    let free = '';
    if (minFree !== undefined) {
      step = 'measure the free space of';
      const s = await fsp.statfs(dir);
      const bytes = s.bavail * s.bsize;
      if (bytes < minFree) return { ok: false, detail: `${size(bytes)} free, below the threshold of ${size(minFree)}` };
      free = `, ${size(bytes)} free`;
    }
    return { ok: true, detail: `write, fsync, read back, delete in ${Date.now() - start} ms${free}` };
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (created) await fsp.unlink(file).catch(() => undefined);
    if (step === 'create' && err.code === 'ENOENT') return { ok: false, detail: `the folder ${dir} does not exist (ENOENT)` };
    return { ok: false, detail: `cannot ${step} the probe file ${file}: ${err.message}` };
  }
}

/** 1536 → "1.5 KB" */
export function size(bytes: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB', 'PB'];
  let n = bytes;
  let u = 0;
  while (n >= 1024 && u < units.length - 1) {
    n /= 1024;
    u++;
  }
  return `${u === 0 ? n : Number(n.toFixed(1))} ${units[u]}`;
}

function main(): void {
  let buf = '';
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (chunk: string) => {
    buf += chunk;
    let nl: number;
    while ((nl = buf.indexOf('\n')) !== -1) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      const [kind, id, ...rest] = line.split('\0');
      if (!/^\d+$/.test(id ?? '')) continue;
      if (kind === 'echo') {
        answer(id, 2, 'the node probe helper sends no ICMP echoes');
        continue;
      }
      const [minFree, dir, file] = rest;
      if (kind !== 'disk' || !dir || !file || (minFree && !Number.isFinite(Number(minFree)))) continue;
      probeFile(dir, file, minFree ? Number(minFree) : undefined).then((r) => answer(id, r.ok ? 1 : 0, r.detail));
    }
  });
  // The parent went away: leave at once. A plain exit could wait forever on a hung file call.
  process.stdin.on('end', () => process.kill(process.pid, 'SIGKILL'));
  process.stdout.on('error', () => process.kill(process.pid, 'SIGKILL'));
}

if (require.main === module) main();
