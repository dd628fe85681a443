// An append-only file that rotates by size (file, file.1 ... file.N; none past maxBytes unless one
// line is longer) and batches writes: lines written in the same turn of the event loop reach the OS
// in one write (or one per file they are spread over), and `flushed()` tells when.
import * as fs from 'node:fs';

export interface RotationPolicy {
  maxBytes: number;
  keep: number;
}

export interface RotatingFile {
  write(text: string): void;
  /** resolves once everything written so far has been handed to the OS */
  flushed(): Promise<void>;
  flushSync(): void;
  close(): void;
  /** lines lost because the disk refused them (full, gone), since the service started */
  readonly lost: number;
}

export function openRotatingFile(file: string, policy: RotationPolicy, onError: (err: Error) => void = () => {}): RotatingFile {
  let fd = fs.openSync(file, 'a', 0o640);
  let size = fs.fstatSync(fd).size;
  let queue: string[] = [];
  let waiters: Array<() => void> = [];
  let scheduled = false;
  let lost = 0;
  let failing = false;

  const rotate = () => {
    fs.closeSync(fd);
    for (let i = policy.keep - 1; i >= 1; i--) {
      try {
        fs.renameSync(`${file}.${i}`, `${file}.${i + 1}`);
      } catch {
        /* not there yet */
      }
    }
    if (policy.keep >= 1) fs.renameSync(file, `${file}.1`);
    else fs.rmSync(file, { force: true });
    fd = fs.openSync(file, 'a', 0o640);
    size = 0;
  };

  const flushSync = () => {
    scheduled = false;
    const batch = queue;
    const done = waiters;
    queue = [];
    waiters = [];
    if (batch.length > 0) {
      // A busy turn can bring megabytes (a script flooding its output): the batch is cut where it
      // would pass maxBytes, so that no file grows past the cap by a whole batch.
      let written = 0;
      try {
        let from = 0;
        let bytes = 0;
        const writeUpTo = (to: number) => {
          if (to > from) {
            const data = Buffer.from(batch.slice(from, to).join(''));
            fs.writeSync(fd, data);
            size += data.length;
          }
          written = to;
          from = to;
          bytes = 0;
        };
        for (let i = 0; i < batch.length; i++) {
          const n = Buffer.byteLength(batch[i]);
          if (size + bytes > 0 && size + bytes + n > policy.maxBytes) {
            writeUpTo(i);
            rotate();
          }
          bytes += n;
        }
        writeUpTo(batch.length);
        if (failing) failing = false;
        if (size >= policy.maxBytes) rotate();
      } catch (e) {
        lost += batch.length - written;
        if (!failing) {
          failing = true;
          onError(e as Error);
        }
      }
    }
    for (const w of done) w();
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
      return new Promise((resolve) => waiters.push(resolve));
    },
    flushSync,
    close() {
      flushSync();
      fs.closeSync(fd);
    },
    get lost() {
      return lost;
    },
  };
}
