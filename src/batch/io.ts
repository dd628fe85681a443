// Output is written synchronously to file descriptors, so that the interpreter's own lines and the
// lines of the programs it runs (which write to the same descriptors) keep their order.
import * as fs from 'node:fs';

const pause = new Int32Array(new SharedArrayBuffer(4));

export function writeFd(fd: number, text: string): void {
  const buf = Buffer.from(text, 'utf8');
  let off = 0;
  while (off < buf.length) {
    try {
      off += fs.writeSync(fd, buf, off);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EAGAIN') {
        Atomics.wait(pause, 0, 0, 5); // a non-blocking pipe is full: let its reader catch up
        continue;
      }
      if (code === 'EPIPE' || code === 'EBADF') return; // nobody reads any more: like cmd, go on
      throw e;
    }
  }
}

export interface IO {
  in: number;
  out: number;
  err: number;
}
