// Reading a Linux launcher's trailer (see launcher.c and shims.ts, which writes it), apart from the
// rest of shims.ts: the batch interpreter loads this on its first program found on PATH, to know
// its own commands behind a launcher, and must not load child_process and the folder writing with it.
import * as fs from 'node:fs';
import * as path from 'node:path';

/** FNV-1a, 32 bits: the trailer's hash (launcher.c computes the same). */
export function fnv1a(bytes: Buffer): number {
  let hash = 2166136261;
  for (const byte of bytes) hash = Math.imul(hash ^ byte, 16777619) >>> 0;
  return hash;
}

/** The trailer of a Linux launcher at `file` (whole, its hash right), or null when `file` is not one. */
export function readLinuxTrailer(file: string): { node: string; script: string; spare: string } | null {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch {
    return null;
  }
  try {
    const size = fs.fstatSync(fd).size;
    const tail = Buffer.alloc(16);
    if (size < 16 || fs.readSync(fd, tail, 0, 16, size - 16) !== 16 || tail.subarray(8).toString('latin1') !== 'ARMSLNX1') return null;
    const len = tail.readUInt32LE(0);
    if (len > 65536 || len > size - 16) return null;
    const payload = Buffer.alloc(len);
    if (fs.readSync(fd, payload, 0, len, size - 16 - len) !== len) return null;
    if (fnv1a(payload) !== tail.readUInt32LE(4)) return null;
    const fields = payload.toString('utf8').split('\0');
    if (fields.length !== 4 || fields[3] !== '' || fields.slice(0, 3).some((f) => f === '')) return null;
    return { node: fields[0], script: fields[1], spare: fields[2] };
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * What a command found on PATH runs: `file` with its symlinks followed and, when it is a Linux
 * launcher, the script its trailer names (resolved); null when it is not there. The batch
 * interpreter knows its own commands by it, whatever the commands folder holds.
 */
export function commandScript(file: string): string | null {
  try {
    const real = fs.realpathSync(file);
    // (a FIFO or a device found on PATH is not opened: opening a FIFO waits for a writer)
    const trailer = process.platform === 'linux' && !real.endsWith('.js') && fs.statSync(real).isFile() ? readLinuxTrailer(real) : null;
    return trailer ? fs.realpathSync(path.resolve(path.dirname(real), trailer.script)) : real;
  } catch {
    return null;
  }
}
