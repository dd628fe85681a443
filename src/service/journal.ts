// A journal of keyed records: what the persisted state is made of. Each change appends one record
// (its key's new value, or its deletion), so a change costs the size of what changed, not of the
// whole state. The file is compacted in the background once most of it is superseded: every live
// record written to a new file, synced, renamed over the old one.
//
// On disk, one record per line, each between newlines: `<crc32 of the JSON, 8 hex digits> <JSON>`,
// the JSON being {n, k, v} (sequence number, key, value) or {n, k, d: 1} (key deleted). A line that
// does not check out (a write cut short by a crash, a failed write, a damaged disk block) is skipped
// and reported; the lines after it still count, because every record starts on a line of its own.
// A key's record with the highest sequence number wins, whatever the order on disk: a synchronous
// write may land before an earlier background one.
//
// Durability: flush() resolves and flushSync() returns only once the records are written and
// fdatasync'ed; a compaction installs its file (rename, then fsync of the folder) before anything
// written only to the new file is acknowledged.
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface Skipped {
  /** byte offset of the first unreadable line */
  offset: number;
  /** unreadable lines and their bytes */
  lines: number;
  bytes: number;
}

export interface JournalContents {
  /** key -> value, as the journal says now */
  values: Map<string, unknown>;
  /** the highest sequence number seen */
  seq: number;
  /** the file's size */
  bytes: number;
  /** lines that did not check out, or null */
  skipped: Skipped | null;
}

export interface Journal {
  readonly file: string;
  /** what was found at open: lines that did not check out (already left out of the file), or null */
  readonly skippedAtOpen: Skipped | null;
  /** the values as they were at open (then the caller's to keep) */
  readonly initial: Map<string, unknown>;
  /** records key's new value; on disk with the next flush */
  put(key: string, value: unknown): void;
  delete(key: string): void;
  /** resolves once everything put so far is on disk; rejects when the disk refused it */
  flush(): Promise<void>;
  /** writes everything put so far and syncs it, on the event loop (small: only what is queued); throws when the disk refuses */
  flushSync(): void;
  /** bytes on disk, and of live records (what a compaction would write) */
  size(): { fileBytes: number; liveBytes: number; records: number };
  /** why the last background compaction failed (the journal then stays as it was, growing), or null */
  lastCompactionError(): Error | null;
  /** flushSync, then closes the file */
  close(): void;
}

export interface JournalOptions {
  /** compact when the file is larger than this many times the live records... */
  ratio?: number;
  /** ...and larger than this (bytes) */
  minBytes?: number;
}

// ---------------------------------------------------------------------------------------------
// records

const CRC_TABLE = (() => {
  const t = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  return t;
})();

export function crc32(text: string): number {
  const buf = Buffer.from(text, 'utf8');
  let c = -1;
  for (let i = 0; i < buf.length; i++) c = CRC_TABLE[(c ^ buf[i]) & 0xff] ^ (c >>> 8);
  return (c ^ -1) >>> 0;
}

function line(json: string): string {
  return `\n${crc32(json).toString(16).padStart(8, '0')} ${json}\n`;
}

interface Record_ {
  n: number;
  k: string;
  v?: unknown;
  d?: 1;
}

function parseLine(text: string): Record_ | null {
  if (text.length < 10 || text[8] !== ' ') return null;
  const json = text.slice(9);
  if (parseInt(text.slice(0, 8), 16) !== crc32(json) || !/^[0-9a-f]{8}$/.test(text.slice(0, 8))) return null;
  try {
    const r = JSON.parse(json) as Record_;
    return typeof r?.n === 'number' && typeof r.k === 'string' ? r : null;
  } catch {
    return null;
  }
}

/** Reads a journal file: every record that checks out, the last of each key (by sequence number). Missing file: null. */
export function readJournal(file: string): JournalContents | null {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  const latest = new Map<string, Record_>();
  let seq = 0;
  let skipped: Skipped | null = null;
  let start = 0;
  while (start < buf.length) {
    let end = buf.indexOf(10, start);
    if (end === -1) end = buf.length;
    if (end > start) {
      const r = parseLine(buf.toString('utf8', start, end));
      if (r) {
        const had = latest.get(r.k);
        if (!had || had.n < r.n) latest.set(r.k, r);
        if (r.n > seq) seq = r.n;
      } else {
        skipped ??= { offset: start, lines: 0, bytes: 0 };
        skipped.lines++;
        skipped.bytes += end - start;
      }
    }
    start = end + 1;
  }
  const values = new Map<string, unknown>();
  for (const [k, r] of latest) if (!r.d) values.set(k, r.v);
  return { values, seq, bytes: buf.length, skipped };
}

// ---------------------------------------------------------------------------------------------
// the open journal

/**
 * Opens (or creates) the journal `file`. What it holds is rewritten at once into a fresh file (a
 * compaction), so that a damaged line found now is gone from the file and reported once.
 * `seed` (used when there is no journal yet) becomes its first content: a migration.
 */
export function openJournal(file: string, opts: JournalOptions = {}, seed?: Map<string, unknown>): Journal {
  const ratio = opts.ratio ?? 2;
  const minBytes = opts.minBytes ?? 1 << 20;
  const found = readJournal(file);
  const initial = found ? found.values : new Map(seed ?? []);
  let seq = found?.seq ?? 0;

  /** key -> its current line (what a compaction writes) */
  const live = new Map<string, string>();
  let liveBytes = 0;
  const setLive = (key: string, text: string | null) => {
    const had = live.get(key);
    if (had !== undefined) liveBytes -= had.length;
    if (text === null) live.delete(key);
    else {
      live.set(key, text);
      liveBytes += text.length;
    }
  };
  for (const [k, v] of initial) setLive(k, line(JSON.stringify({ n: ++seq, k, v })));

  let fd = -1;
  let fileBytes = 0;
  /** each key's line not yet written (only its latest: a key changed twice meanwhile is written once) */
  let queue = new Map<string, string>();
  /** the lines written since a compaction captured the live records (null: none running) */
  let sinceCapture: string[] | null = null;
  const takeQueue = () => {
    const batch = queue;
    queue = new Map();
    return { batch, text: [...batch.values()].join('') };
  };
  /** a write failed (its lines may be on disk in part, unreadable): its records go with the next one */
  const requeue = (batch: Map<string, string>) => {
    for (const [k, v] of batch) if (!queue.has(k)) queue.set(k, v);
  };

  /** `tmp` (written and synced) becomes the journal, which is appended to from then on. */
  const swap = (tmp: string, bytes: number) => {
    if (fd !== -1) fs.closeSync(fd);
    fd = -1;
    fs.renameSync(tmp, file);
    syncFolder(path.dirname(file));
    fd = fs.openSync(file, 'r+');
    fileBytes = bytes;
  };

  // At open: the live records into a fresh file (leaves out what did not check out; migrates `seed`).
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o750 });
  {
    const text = [...live.values()].join('');
    const tmp = `${file}.tmp`;
    const t = fs.openSync(tmp, 'w', 0o600);
    try {
      fs.writeSync(t, text);
      fs.fdatasyncSync(t);
    } finally {
      fs.closeSync(t);
    }
    swap(tmp, Buffer.byteLength(text));
  }

  // the background writer: one write (then fdatasync) at a time; what comes meanwhile goes with the next
  const writeAsync = async (text: string) => {
    const buf = Buffer.from(text, 'utf8');
    const at = fileBytes;
    fileBytes += buf.length;
    const f = fd;
    await new Promise<void>((resolve, reject) => fs.write(f, buf, 0, buf.length, at, (e) => (e ? reject(e) : resolve())));
    await new Promise<void>((resolve, reject) => fs.fdatasync(f, (e) => (e ? reject(e) : resolve())));
  };
  const compact = async () => {
    // The live records as they are now; what is written to the old file from here on is added to the new one.
    const text = [...live.values()].join('');
    sinceCapture = [];
    const tmp = `${file}.tmp`;
    try {
      const buf = Buffer.from(text, 'utf8');
      const t = await fs.promises.open(tmp, 'w', 0o600);
      try {
        await t.writeFile(buf);
        await t.datasync();
      } finally {
        await t.close();
      }
      // On the event loop from here to the swap: nothing else can write meanwhile.
      const since = sinceCapture.join('');
      if (since) {
        const t2 = fs.openSync(tmp, 'a');
        try {
          fs.writeSync(t2, since);
          fs.fdatasyncSync(t2);
        } finally {
          fs.closeSync(t2);
        }
      }
      swap(tmp, buf.length + Buffer.byteLength(since));
    } catch (e) {
      fs.rmSync(tmp, { force: true });
      throw e;
    } finally {
      sinceCapture = null;
    }
  };
  let running: Promise<void> | null = null;
  let compactionError: Error | null = null;
  const drain = async () => {
    try {
      while (queue.size > 0) {
        const { batch, text } = takeQueue();
        sinceCapture?.push(text);
        try {
          await writeAsync(text);
        } catch (e) {
          requeue(batch);
          throw e;
        }
        // A failed compaction leaves the journal as it was (what was written stays acknowledged): tried again after the next write.
        if (fileBytes > minBytes && fileBytes > ratio * liveBytes) await compact().catch((e: Error) => (compactionError = e));
      }
    } finally {
      running = null;
    }
  };

  const add = (key: string, record: Record_, keep: boolean) => {
    const text = line(JSON.stringify(record));
    setLive(key, keep ? text : null);
    queue.set(key, text);
  };

  return {
    file,
    skippedAtOpen: found?.skipped ?? null,
    initial,
    put(key, value) {
      add(key, { n: ++seq, k: key, v: value }, true);
    },
    delete(key) {
      if (!live.has(key)) return;
      add(key, { n: ++seq, k: key, d: 1 }, false);
    },
    flush() {
      if (!running) {
        if (queue.size === 0) return Promise.resolve();
        running = drain();
      }
      return running;
    },
    flushSync() {
      if (queue.size === 0) return;
      const { batch, text } = takeQueue();
      sinceCapture?.push(text);
      try {
        const at = fileBytes;
        fileBytes += Buffer.byteLength(text);
        fs.writeSync(fd, text, at);
        fs.fdatasyncSync(fd);
      } catch (e) {
        requeue(batch);
        throw e;
      }
    },
    size: () => ({ fileBytes, liveBytes, records: live.size }),
    lastCompactionError: () => compactionError,
    close() {
      this.flushSync();
      if (fd !== -1) fs.closeSync(fd);
      fd = -1;
    },
  };
}

function syncFolder(dir: string): void {
  try {
    const d = fs.openSync(dir, 'r');
    try {
      fs.fsyncSync(d);
    } finally {
      fs.closeSync(d);
    }
  } catch {
    /* Windows cannot open a folder for fsync: its rename is durable by itself */
  }
}
