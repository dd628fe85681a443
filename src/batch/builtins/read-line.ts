// One line of the script's input (SET /P, DEL's question), read a byte at a time so that nothing
// after the line is taken from a caller that reads on. null at the end of the input.
import * as fs from 'node:fs';
import { decode } from '../programs/text-input';

export function readLine(fd: number): string | null {
  const bytes: number[] = [];
  const one = Buffer.alloc(1);
  for (;;) {
    let n: number;
    try {
      n = fs.readSync(fd, one, 0, 1, null);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EAGAIN') {
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
        continue;
      }
      n = 0;
    }
    if (n === 0) break;
    if (one[0] === 0x0a) return decode(Buffer.from(bytes)).replace(/\r$/, '');
    bytes.push(one[0]);
  }
  return bytes.length > 0 ? decode(Buffer.from(bytes)).replace(/\r$/, '') : null;
}
