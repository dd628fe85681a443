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
// fdatasync'ed (a short write, as a full disk makes, is a failure); a compaction installs its file
// (rename, then fsync of the folder) before anything written only to the new file is acknowledged.
// A background compaction keeps the file it replaces as `<file>.prev` (a hard link: the journal as
// it was at that moment, whole), the previous good copy the state falls back to when the current
// file cannot be used at all.
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface Skipped {
  /** byte offset of the first unreadable line */
  offset: number;
  /** unreadable lines (and records refused by the caller's check) and their bytes */
  lines: number;
  bytes: number;
  /** true when only the end was unreadable: what a write cut short by a crash leaves (never acknowledged) */
  torn: boolean;
  /** why, for the first few: byte offset and reason */
  reasons: string[];
}

/** Why a record's value cannot be used (null: it can). A refused record is skipped like a damaged line. */
export type RecordCheck = (key: string, value: unknown) => string | null;

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
  /** checks each record read at open */
  check?: RecordCheck;
  /** what the caller already read (readJournal), to open on instead of reading `file` again */
  found?: JournalContents | null;
  /** rewrite the file at open from `found` even when it read cleanly (it came from another file) */
  rewrite?: boolean;
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
export function readJournal(file: string, check?: RecordCheck): JournalContents | null {
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
  let lastGood = -1;
  let refusedAny = false;
  const skip = (at: number, bytes: number, why: string) => {
    skipped ??= { offset: at, lines: 0, bytes: 0, torn: false, reasons: [] };
    skipped.lines++;
    skipped.bytes += bytes;
    if (skipped.reasons.length < 5) skipped.reasons.push(`byte ${at}: ${why}`);
  };
  while (start < buf.length) {
    let end = buf.indexOf(10, start);
    if (end === -1) end = buf.length;
    if (end > start) {
      const r = parseLine(buf.toString('utf8', start, end));
      const wrong = r && !r.d && check ? check(r.k, r.v) : null;
      if (r && wrong === null) {
        // A refused record leaves the key's earlier good record, if any, in force.
        const had = latest.get(r.k);
        if (!had || had.n < r.n) latest.set(r.k, r);
        if (r.n > seq) seq = r.n;
        lastGood = start;
      } else if (r) {
        refusedAny = true;
        if (r.n > seq) seq = r.n;
        skip(start, end - start, `record ${JSON.stringify(r.k)}: ${wrong}`);
      } else {
        skip(start, end - start, 'not a whole record (cut short or damaged)');
      }
    }
    start = end + 1;
  }
  const s = skipped as Skipped | null;
  if (s) s.torn = !refusedAny && s.offset > lastGood;
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
  const found = opts.found !== undefined ? opts.found : readJournal(file, opts.check);
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
  const swap = (tmp: string, bytes: number, keepPrevious: boolean) => {
    if (fd !== -1) fs.closeSync(fd);
    fd = -1;
    if (keepPrevious) {
      // A hard link: there is no moment without a previous copy.
      try {
        fs.rmSync(`${file}.prev`, { force: true });
        fs.linkSync(file, `${file}.prev`);
      } catch {
        /* links not supported: the rename below still replaces the file whole */
      }
    }
    fs.renameSync(tmp, file);
    syncFolder(path.dirname(file));
    fd = fs.openSync(file, 'r+');
    fileBytes = bytes;
  };

  // At open, the live records go into a fresh file (a compaction): it leaves out what did not check
  // out (reported once), migrates `seed`, or replaces a file refused as a whole. A file that read
  // cleanly is kept as the previous good copy (`.prev`: the journal as it was at this start). When
  // the rewrite is refused (a full disk) and the file read is this one, it is appended to as it
  // is: its unreadable lines stay, skipped again at the next start.
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o750 });
  const rewriteAtOpen = (keepPrevious: boolean) => {
    const text = [...live.values()].join('');
    const tmp = `${file}.tmp`;
    try {
      const t = fs.openSync(tmp, 'w', 0o600);
      try {
        writeWhole(t, Buffer.from(text, 'utf8'), null);
        fs.fdatasyncSync(t);
      } finally {
        fs.closeSync(t);
      }
    } catch (e) {
      fs.rmSync(tmp, { force: true });
      throw e;
    }
    swap(tmp, Buffer.byteLength(text), keepPrevious);
  };
  const appendAsIs = () => {
    fd = fs.openSync(file, 'r+');
    fileBytes = fs.fstatSync(fd).size;
  };
  if (!found || opts.rewrite) rewriteAtOpen(false);
  else {
    try {
      rewriteAtOpen(!found.skipped);
    } catch {
      appendAsIs();
    }
  }

  // the background writer: one write (then fdatasync) at a time; what comes meanwhile goes with the next
  const writeAsync = async (text: string) => {
    const buf = Buffer.from(text, 'utf8');
    const at = fileBytes;
    fileBytes += buf.length;
    const f = fd;
    try {
      await new Promise<void>((resolve, reject) =>
        fs.write(f, buf, 0, buf.length, at, (e, n) => (e ? reject(e) : n < buf.length ? reject(shortWrite(n, buf.length)) : resolve())),
      );
      await new Promise<void>((resolve, reject) => fs.fdatasync(f, (e) => (e ? reject(e) : resolve())));
    } catch (e) {
      giveBack(f, at, buf.length);
      throw e;
    }
  };
  /** A write that failed: its place is taken back when nothing was written after it (else its bytes stay, unreadable, skipped). */
  const giveBack = (f: number, at: number, length: number) => {
    if (f !== fd || fileBytes !== at + length) return;
    fileBytes = at;
    try {
      fs.ftruncateSync(f, at);
    } catch {
      /* its lines stay, cut short: skipped when read, and written again with the next write */
    }
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
        const { bytesWritten } = await t.write(buf, 0, buf.length, 0);
        if (bytesWritten < buf.length) throw shortWrite(bytesWritten, buf.length);
        await t.datasync();
      } finally {
        await t.close();
      }
      // On the event loop from here to the swap: nothing else can write meanwhile.
      const since = sinceCapture.join('');
      if (since) {
        const t2 = fs.openSync(tmp, 'a');
        try {
          writeWhole(t2, Buffer.from(since, 'utf8'), null);
          fs.fdatasyncSync(t2);
        } finally {
          fs.closeSync(t2);
        }
      }
      swap(tmp, buf.length + Buffer.byteLength(since), true);
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
      const buf = Buffer.from(text, 'utf8');
      const at = fileBytes;
      fileBytes += buf.length;
      try {
        writeWhole(fd, buf, at);
        fs.fdatasyncSync(fd);
      } catch (e) {
        giveBack(fd, at, buf.length);
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

function shortWrite(n: number, of: number): Error {
  return Object.assign(new Error(`ENOSPC: no space left on device (${n} of ${of} bytes written)`), { code: 'ENOSPC' });
}

/** writeSync of the whole buffer, or an error: a short write (a full disk) is a failure. */
function writeWhole(fd: number, buf: Buffer, at: number | null): void {
  const n = fs.writeSync(fd, buf, 0, buf.length, at);
  if (n < buf.length) throw shortWrite(n, buf.length);
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
