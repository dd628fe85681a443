// The commands folder: one launcher per command, which the service puts first on the PATH of every
// script it runs (and an operator may put on theirs). POSIX gets symlinks under the lowercase and
// the uppercase name (names are case-sensitive there). Windows gets one small .exe per lowercase
// command (ARMLOG finds armlog.exe: names are case-insensitive there): a copy of bin/win/launcher.exe
// (built from src/platform/win-launcher.c by scripts/build-launcher.sh, and committed) with a trailer
// naming node and the command's script. Not a .cmd: cmd.exe would hand a legacy script over to
// ARMLOG.cmd for good (no CALL in those scripts), and the script's next lines would never run.
import * as fs from 'node:fs';
import * as path from 'node:path';

export const PACKAGE_ROOT = path.resolve(__dirname, '..', '..');

/** The command folder of this installation. */
export const COMMANDS_DIR = path.join(PACKAGE_ROOT, 'dist', 'path');

/** The Windows launcher that writeCommandsDir copies once per command. */
export const LAUNCHER_TEMPLATE = path.join(PACKAGE_ROOT, 'bin', 'win', 'launcher.exe');

/** Every name in package.json's "bin" (ARMLOG beside armlog; arms and armsd in lowercase only). */
export function commandBins(): Record<string, string> {
  const pkg = JSON.parse(fs.readFileSync(path.join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string> };
  const out: Record<string, string> = {};
  for (const [name, file] of Object.entries(pkg.bin)) out[name] = path.join(PACKAGE_ROOT, file);
  return out;
}

/**
 * What the launcher reads at its own end (see win-launcher.c):
 * `<node> NUL <script> NUL <uint32 LE: length of both with their NULs> "ARMSLNK1"`.
 */
export function launcherTrailer(node: string, script: string): Buffer {
  const payload = Buffer.from(`${node}\0${script}\0`, 'utf8');
  const len = Buffer.alloc(4);
  len.writeUInt32LE(payload.length);
  return Buffer.concat([payload, len, Buffer.from('ARMSLNK1', 'latin1')]);
}

/**
 * Writes the commands folder `dir` for `platform` (also for win32 from another OS: the result is the
 * same). `node` (win32 only) is the node the launchers run: a bare name is looked up on PATH when a
 * command runs; a path is absolute or relative to `dir`.
 */
export function writeCommandsDir(dir: string, platform: NodeJS.Platform = process.platform, node = 'node'): string[] {
  const template = platform === 'win32' ? fs.readFileSync(LAUNCHER_TEMPLATE) : null;
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const written: string[] = [];
  for (const [name, target] of Object.entries(commandBins())) {
    if (platform === 'win32') {
      if (name !== name.toLowerCase()) continue;
      const file = path.join(dir, `${name}.exe`);
      // Relative, so the folder and the package may move together; absolute across drives.
      const script = path.relative(dir, target).split(path.sep).join('\\');
      fs.writeFileSync(file, Buffer.concat([template!, launcherTrailer(node, script)]));
      written.push(file);
    } else {
      const file = path.join(dir, name);
      fs.symlinkSync(path.relative(dir, linkTarget(target)), file);
      written.push(file);
    }
  }
  return written;
}

/** POSIX: straight to the command's bundle (scripts/bundle-commands.js), one file to read at start; its bin/ script without one. */
function linkTarget(bin: string): string {
  const bundle = path.join(PACKAGE_ROOT, 'dist', 'bundles', path.basename(bin));
  return fs.existsSync(bundle) ? bundle : bin;
}

/** True when `dir` holds every launcher writeCommandsDir would write there for this platform. */
export function commandsDirComplete(dir: string, platform: NodeJS.Platform = process.platform): boolean {
  try {
    for (const [name, target] of Object.entries(commandBins())) {
      if (platform === 'win32') {
        if (name === name.toLowerCase() && fs.statSync(path.join(dir, `${name}.exe`)).size <= LAUNCHER_MIN) return false;
      } else if (fs.realpathSync(path.join(dir, name)) !== fs.realpathSync(linkTarget(target))) {
        return false;
      }
    }
    return true;
  } catch {
    return false;
  }
}
/** A launcher is the template plus its trailer: anything this small is damaged. */
const LAUNCHER_MIN = 1024;

/**
 * The commands folder the service puts first on its scripts' PATH, written now if it is missing:
 * a package unpacked from `npm pack` has none (npm drops symlinks, and blocks install scripts by
 * default, so no build step ran). `<package>/dist/path` when it is there or can be written, else
 * `fallback` (a folder of the service's own, for a package it may not write to).
 */
export function ensureCommandsDir(fallback: string): { dir: string; written: boolean } {
  for (const dir of [COMMANDS_DIR, fallback]) {
    if (commandsDirComplete(dir)) return { dir, written: false };
    try {
      writeCommandsDir(dir);
      return { dir, written: true };
    } catch {
      /* not ours to write: the next place */
    }
  }
  throw new Error(`cannot write the commands folder (${COMMANDS_DIR}, nor ${fallback})`);
}
