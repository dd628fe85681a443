// What the commands print (`arms status`, ARMLOAD's "watch started", every error line), written to
// the descriptor directly rather than through process.stdout: on a pipe or a file process.stdout is
// a stream (net or the stream modules), and loading them is a third of what `arms status`, run again
// and again by monitoring scripts, costs beyond node's start.
// Windows keeps process.stdout (its console wants UTF-16 through WriteConsoleW).
import fs = require('node:fs');

/** Writes `text` whole to `fd`, as console.log does, before returning. */
export function writeOut(text: string, fd = 1): void {
  if (process.platform === 'win32') {
    (fd === 2 ? process.stderr : process.stdout).write(text);
    return;
  }
  let rest = Buffer.from(text);
  let pause: Int32Array | undefined;
  while (rest.length > 0) {
    try {
      rest = rest.subarray(fs.writeSync(fd, rest));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      // a pipe another process on it made non-blocking: wait for the reader
      if (code === 'EAGAIN') {
        pause ??= new Int32Array(new SharedArrayBuffer(4));
        Atomics.wait(pause, 0, 0, 1);
        continue;
      }
      // the reader is gone (`arms status | head -3`): nothing more to say to it
      if (code === 'EPIPE') return;
      throw e;
    }
  }
}
