// An append-only file that rotates by size (file, file.1 ... file.N; none past maxBytes unless one
// line is longer) and batches writes: lines written in the same turn of the event loop reach the OS
// in one write (or one per file they are spread over), and `flushed()` tells when they are on disk.
//
// The writer owns its file: before each batch it checks that the name still leads to the file it
// has open, and opens it again when an operator or logrotate removed or moved it. A descriptor is
// never used after it is closed (a closed number is soon another file's or a client's socket).
import * as fs from 'node:fs';

export interface RotationPolicy {
  maxBytes: number;
  keep: number;
}

export interface RotatingFile {
  write(text: string): void;
  /**
   * Resolves once everything written so far is in the file and synced to the disk; rejects with
   * the reason when some of it could not be written (a full disk, a folder gone).
   */
  flushed(): Promise<void>;
  flushSync(): void;
  close(): void;
  /** lines lost because the disk refused them (full, gone), since the service started */
  readonly lost: number;
}

/** An open descriptor, closed only once no fsync still uses it. */
interface Handle {
  fd: number;
  dev: number;
  ino: number;
  size: number;
  syncing: number;
  closing: boolean;
}

export function openRotatingFile(file: string, policy: RotationPolicy, onError: (err: Error) => void = () => {}): RotatingFile {
  let handle: Handle | null = null;
  let queue: string[] = [];
  let waiters: Array<{ ok(): void; fail(e: Error): void }> = [];
  let scheduled = false;
  let lost = 0;
  let failing = false;

  const open = (): Handle => {
    const fd = fs.openSync(file, 'a', 0o640);
    const st = fs.fstatSync(fd);
    return { fd, dev: st.dev, ino: st.ino, size: st.size, syncing: 0, closing: false };
  };
  const release = (h: Handle) => {
    h.closing = true;
    if (h.syncing === 0) fs.close(h.fd, () => undefined);
  };

  /** The handle of the file the name leads to now: opened again when it was removed or replaced. */
  const current = (): Handle => {
    if (handle) {
      let same = false;
      try {
        const st = fs.statSync(file);
        same = st.ino === handle.ino && st.dev === handle.dev;
      } catch {
        /* removed */
      }
      if (same) return handle;
      release(handle);
      handle = null;
    }
    handle = open();
    return handle;
  };

  const rotate = () => {
    for (let i = policy.keep - 1; i >= 1; i--) {
      try {
        fs.renameSync(`${file}.${i}`, `${file}.${i + 1}`);
      } catch {
        /* not there yet */
      }
    }
    try {
      if (policy.keep >= 1) fs.renameSync(file, `${file}.1`);
      else fs.rmSync(file, { force: true });
    } catch {
      /* removed meanwhile: the next batch opens a new one */
    }
    if (handle) release(handle);
    handle = null;
  };

  const writeAll = (h: Handle, data: Buffer) => {
    let off = 0;
    try {
      while (off < data.length) off += fs.writeSync(h.fd, data, off, data.length - off);
    } catch (e) {
      // No torn line left behind: what part of the batch got in is taken out again.
      if (off > 0) {
        try {
          fs.ftruncateSync(h.fd, h.size);
        } catch {
          /* nothing more to do */
        }
      }
      throw e;
    }
    h.size += data.length;
  };

  const flushSync = () => {
    scheduled = false;
    const batch = queue;
    const done = waiters;
    queue = [];
    waiters = [];
    let problem: Error | null = null;
    const used = new Set<Handle>();
    if (batch.length > 0) {
      // A busy turn can bring megabytes (a script flooding its output): the batch is cut where it
      // would pass maxBytes, so that no file grows past the cap by a whole batch.
      let written = 0;
      try {
        let h = current();
        let from = 0;
        let bytes = 0;
        const writeUpTo = (to: number) => {
          if (to > from) {
            // Reserved until its fdatasync below: a rotation in this same batch must not close it first.
            if (!used.has(h)) {
              used.add(h);
              h.syncing++;
            }
            writeAll(h, Buffer.from(batch.slice(from, to).join('')));
          }
          written = to;
          from = to;
          bytes = 0;
        };
        for (let i = 0; i < batch.length; i++) {
          const n = Buffer.byteLength(batch[i]);
          if (h.size + bytes > 0 && h.size + bytes + n > policy.maxBytes) {
            writeUpTo(i);
            rotate();
            h = current();
          }
          bytes += n;
        }
        writeUpTo(batch.length);
        if (failing) failing = false;
        if (h.size >= policy.maxBytes) rotate();
      } catch (e) {
        problem = e as Error;
        lost += batch.length - written;
        if (!failing) {
          failing = true;
          onError(problem);
        }
      }
    }
    const unreserve = (h: Handle) => {
      h.syncing--;
      if (h.closing && h.syncing === 0) fs.close(h.fd, () => undefined);
    };
    if (done.length === 0 || problem) {
      used.forEach(unreserve);
      for (const w of done) w.fail(problem!);
      return;
    }
    // The lines are the OS's now (a crash of the service keeps them); the fsync makes them the
    // disk's, one for the whole batch.
    const syncs = [...used].map(
      (h) =>
        new Promise<void>((resolve, reject) => {
          fs.fdatasync(h.fd, (err) => {
            unreserve(h);
            if (err) reject(err);
            else resolve();
          });
        }),
    );
    Promise.all(syncs).then(
      () => done.forEach((w) => w.ok()),
      (e: Error) => done.forEach((w) => w.fail(e)),
    );
  };

  return {
    write(text) {
      queue.push(text);
      if (!scheduled) {
        scheduled = true;
        setImmediate(flushSync);
      }
    },
    flushed() {
      if (!scheduled) return Promise.resolve();
      return new Promise((ok, fail) => waiters.push({ ok, fail }));
    },
    flushSync,
    close() {
      flushSync();
      if (handle) {
        release(handle);
        handle = null;
      }
    },
    get lost() {
      return lost;
    },
  };
}
