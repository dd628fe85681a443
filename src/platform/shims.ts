// The commands folder: one launcher per command, which the service puts first on the PATH of every
// script it runs (and an operator may put on theirs). POSIX names are case-sensitive: each command
// is there under its lowercase and its uppercase name. Linux gets a copy of dist/platform/arms-launch
// (built from src/platform/launcher.c by scripts/build-native.js) per name, with a trailer naming
// node, the command's bundle and when to spare node NODE_EXTRA_CA_CERTS (see SPARE); other POSIX
// systems, or Linux without a C compiler, get symlinks to the bundles. Windows gets one small .exe per lowercase
// command (ARMLOG finds armlog.exe: names are case-insensitive there): a copy of bin/win/launcher.exe
// (built from src/platform/win-launcher.c by scripts/build-launcher.sh, and committed) with a trailer
// naming node and the command's script. Not a .cmd: cmd.exe would hand a legacy script over to
// ARMLOG.cmd for good (no CALL in those scripts), and the script's next lines would never run.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fnv1a } from './launcher-trailer';

export { commandScript, readLinuxTrailer } from './launcher-trailer';

export const PACKAGE_ROOT = path.resolve(__dirname, '..', '..');

/** The command folder of this installation. */
export const COMMANDS_DIR = path.join(PACKAGE_ROOT, 'dist', 'path');

/** The Windows launcher that writeCommandsDir copies once per command. */
export const LAUNCHER_TEMPLATE = path.join(PACKAGE_ROOT, 'bin', 'win', 'launcher.exe');

/** The Linux launcher that writeCommandsDir copies once per command (absent without a C compiler). */
export const LINUX_LAUNCHER = path.join(PACKAGE_ROOT, 'dist', 'platform', 'arms-launch');

/**
 * When a command's Linux launcher starts node without NODE_EXTRA_CA_CERTS (node 20 reads every
 * certificate it names before any code runs, ~60 ms a call; the bundle puts the variable back first
 * thing, for what the command starts). Only commands that never make a TLS connection in-process:
 * those that only talk to armsd over its local socket. Not ARMRSP (its /HTTP check may request an
 * https:// address itself); `arms` only for `arms status` (every other subcommand may run a batch
 * script in-process, whose ARMRSP line could need TLS); never armsd (the service). A command not
 * listed is not spared (`never`): sparing is decided, not inherited.
 */
export type SpareRule = 'never' | 'always' | `first=${string}`;
export const SPARE: Readonly<Record<string, SpareRule>> = {
  armload: 'always',
  armkill: 'always',
  armlog: 'always',
  armsleep: 'always',
  armsetcd: 'always',
  armgetcd: 'always',
  armbcast: 'always',
  armfover: 'always',
  armdown: 'always',
  armrsp: 'never',
  arms: 'first=status',
  armsd: 'never',
};

/** The spare rule of a command name (either case). */
export function spareRule(name: string): SpareRule {
  return SPARE[name.toLowerCase()] ?? 'never';
}

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
 * What the Linux launcher reads at its own end (see launcher.c): `<node> NUL <script> NUL <spare> NUL
 * <uint32 LE: length of the three with their NULs> <uint32 LE: their FNV-1a hash> "ARMSLNX1"`.
 */
export function linuxLauncherTrailer(node: string, script: string, spare: SpareRule): Buffer {
  const payload = Buffer.from(`${node}\0${script}\0${spare}\0`, 'utf8');
  const tail = Buffer.alloc(8);
  tail.writeUInt32LE(payload.length, 0);
  tail.writeUInt32LE(fnv1a(payload), 4);
  return Buffer.concat([payload, tail, Buffer.from('ARMSLNX1', 'latin1')]);
}

/** The Linux launcher's bytes, when this is Linux and the build made it (not yet known to run here). */
function linuxTemplate(): Buffer | null {
  if (process.platform !== 'linux') return null;
  try {
    return fs.readFileSync(LINUX_LAUNCHER);
  } catch {
    return null;
  }
}

let runs: boolean | undefined;
/**
 * Whether the Linux launcher starts here, tried once per process (when a folder is to be written, or
 * when a folder of symlinks is found): a package built on another Linux (another C library) may carry
 * one that cannot start here, and a folder of such copies would fail every command of every script.
 * Then the folder is symlinks, as without a compiler.
 */
function linuxLauncherRuns(): boolean {
  if (runs === undefined) {
    // Under its own name it refuses with exit code 126 and its own one-line message.
    const r = spawnSync(LINUX_LAUNCHER, [], { encoding: 'utf8', timeout: 10_000 });
    runs = r.status === 126 && r.stderr.startsWith('arms-launch: ');
  }
  return runs;
}

/** What writeCommandsDir writes at `dir`/`name` on Linux with the launcher: its exact bytes. */
function linuxLauncherFor(template: Buffer, realDir: string, name: string, target: string, node: string): Buffer {
  // Relative to the folder as /proc/self/exe will name it (symlinks resolved), so the package may move.
  const script = path.relative(realDir, fs.realpathSync(linkTarget(target)));
  return Buffer.concat([template, linuxLauncherTrailer(node, script, spareRule(name))]);
}

/**
 * Writes the commands folder `dir` for `platform` (also for win32 from another OS: the result is the
 * same). `node` (win32 and Linux launchers) is the node the launchers run: a bare name is looked up
 * on PATH when a command runs; a path is absolute or relative to `dir`.
 */
export function writeCommandsDir(dir: string, platform: NodeJS.Platform = process.platform, node = 'node'): string[] {
  const template = platform === 'win32' ? fs.readFileSync(LAUNCHER_TEMPLATE) : null;
  let linux = platform === 'linux' ? linuxTemplate() : null;
  if (linux && !linuxLauncherRuns()) linux = null;
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const realDir = fs.realpathSync(dir);
  const written: string[] = [];
  for (const [name, target] of Object.entries(commandBins())) {
    if (linux) {
      const file = path.join(dir, name);
      fs.writeFileSync(file, linuxLauncherFor(linux, realDir, name, target, node), { mode: 0o755 });
      fs.chmodSync(file, 0o755); // whatever the umask: every user's scripts run these
      written.push(file);
    } else if (platform === 'win32') {
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
  const linux = platform === 'linux' ? linuxTemplate() : null;
  // Linux: copies of this launcher, byte for byte (a damaged copy, an older launcher or a moved
  // package is rewritten); or symlinks, when this launcher does not start here.
  if (linux) return linuxLaunchersIn(dir, linux) || (symlinksIn(dir) && !linuxLauncherRuns());
  if (platform !== 'win32') return symlinksIn(dir);
  try {
    for (const name of Object.keys(commandBins())) {
      if (name === name.toLowerCase() && fs.statSync(path.join(dir, `${name}.exe`)).size <= LAUNCHER_MIN) return false;
    }
    return true;
  } catch {
    return false;
  }
}

function linuxLaunchersIn(dir: string, template: Buffer): boolean {
  try {
    const realDir = fs.realpathSync(dir);
    for (const [name, target] of Object.entries(commandBins())) {
      const file = path.join(dir, name);
      const st = fs.lstatSync(file);
      if (!st.isFile() || (st.mode & 0o555) !== 0o555) return false;
      if (!fs.readFileSync(file).equals(linuxLauncherFor(template, realDir, name, target, 'node'))) return false;
    }
    return true;
  } catch {
    return false;
  }
}

function symlinksIn(dir: string): boolean {
  try {
    for (const [name, target] of Object.entries(commandBins())) {
      if (fs.realpathSync(path.join(dir, name)) !== fs.realpathSync(linkTarget(target))) return false;
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
