// An append-only file that rotates by size (file, file.1 ... file.N) and batches writes: lines
// written in the same turn of the event loop reach the OS in one write, and `flushed()` tells when.
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
      const data = Buffer.from(batch.join(''));
      try {
        fs.writeSync(fd, data);
        size += data.length;
        if (failing) failing = false;
        if (size >= policy.maxBytes) rotate();
      } catch (e) {
        lost += batch.length;
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
