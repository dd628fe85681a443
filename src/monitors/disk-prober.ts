// The disk probe's helper process (started by disk.ts, never by hand). A file call on a hung disk
// can block forever, and a process whose thread pool has such a call cannot even exit; so ARMRSP
// does its disk I/O here, in a process it can abandon. One request per line on stdin:
//   {"id":1,"dir":"/srv/data","name":".arms-probe-HOST-RSP","minFree":1073741824}
// one answer per line on stdout: {"id":1,"ok":true,"detail":"..."}. Requests run concurrently
// (the parent sets UV_THREADPOOL_SIZE so a few hung disks do not hold up the others).
import { randomBytes } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';

interface Request {
  id: number;
  dir: string;
  name: string;
  minFree?: number;
}

function answer(id: number, ok: boolean, detail: string): void {
  process.stdout.write(JSON.stringify({ id, ok, detail }) + '\n');
}

export async function probe(dir: string, name: string, minFree?: number): Promise<{ ok: boolean; detail: string }> {
  const start = Date.now();
  const file = path.join(dir, name);
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
      if (!line.trim()) continue;
      let req: Request;
      try {
        req = JSON.parse(line) as Request;
      } catch {
        continue;
      }
      probe(req.dir, req.name, req.minFree).then((r) => answer(req.id, r.ok, r.detail));
    }
  });
  // The parent went away: leave at once. A plain exit could wait forever on a hung file call.
  process.stdin.on('end', () => process.kill(process.pid, 'SIGKILL'));
  process.stdout.on('error', () => process.kill(process.pid, 'SIGKILL'));
}

if (require.main === module) main();
