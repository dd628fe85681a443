// The commands folder: one launcher per command, under its lowercase and its uppercase name, which
// the service puts first on the PATH of every script it runs (and an operator may put on theirs).
// POSIX gets symlinks in both cases (names are case-sensitive there); Windows gets one .cmd per
// command (cmd finds ARMLOG.cmd as armlog.cmd).
import * as fs from 'node:fs';
import * as path from 'node:path';

export const PACKAGE_ROOT = path.resolve(__dirname, '..', '..');

/** The command folder of this installation. */
export const COMMANDS_DIR = path.join(PACKAGE_ROOT, 'dist', 'path');

/** Every name in package.json's "bin" (ARMLOG beside armlog; arms and armsd in lowercase only). */
export function commandBins(): Record<string, string> {
  const pkg = JSON.parse(fs.readFileSync(path.join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string> };
  const out: Record<string, string> = {};
  for (const [name, file] of Object.entries(pkg.bin)) out[name] = path.join(PACKAGE_ROOT, file);
  return out;
}

export function writeCommandsDir(dir: string, platform: NodeJS.Platform = process.platform, node = 'node'): string[] {
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const written: string[] = [];
  for (const [name, target] of Object.entries(commandBins())) {
    if (platform === 'win32') {
      if (name !== name.toLowerCase()) continue;
      const file = path.join(dir, `${name}.cmd`);
      const rel = '%~dp0' + path.relative(dir, target).split(path.sep).join('\\');
      fs.writeFileSync(file, `@"${node}" "${rel}" %*\r\n`);
      written.push(file);
    } else {
      const file = path.join(dir, name);
      fs.symlinkSync(path.relative(dir, target), file);
      written.push(file);
    }
  }
  return written;
}
