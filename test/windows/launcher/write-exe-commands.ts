// What writeCommandsDir(dir, 'win32') would do with .exe launchers instead of .cmd files: one copy of
// the launcher template per lowercase command name, each with a trailer naming node and its script
// (relative to the commands folder, as %~dp0 does in the .cmd files). See launcher.c.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { commandBins } from '../../../src/platform/shims';

export const TRAILER_MAGIC = 'ARMSLNK1';

/** The bytes appended to the launcher template for one command. */
export function launcherTrailer(node: string, script: string): Buffer {
  const payload = Buffer.from(`${node}\0${script}\0`, 'utf8');
  const len = Buffer.alloc(4);
  len.writeUInt32LE(payload.length);
  return Buffer.concat([payload, len, Buffer.from(TRAILER_MAGIC, 'latin1')]);
}

/** Path module semantics are POSIX when this runs on Linux for a win32 target, as in writeCommandsDir. */
export function writeExeCommandsDir(dir: string, template: string, node = 'node'): string[] {
  const exe = fs.readFileSync(template);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const written: string[] = [];
  for (const [name, target] of Object.entries(commandBins())) {
    if (name !== name.toLowerCase()) continue; // ARMLOG finds armlog.exe: Windows names are case-insensitive
    const file = path.join(dir, `${name}.exe`);
    const rel = path.relative(dir, target).split(path.sep).join('\\');
    fs.writeFileSync(file, Buffer.concat([exe, launcherTrailer(node, rel)]));
    written.push(file);
  }
  return written;
}
