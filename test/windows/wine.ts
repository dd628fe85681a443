// Harness for the Windows acceptance test: the official Windows node.exe and Wine's cmd.exe, run
// through winenode (see its header) in a Wine prefix of this test's own, so that `wineserver -k`
// at the end stops only what this test started.
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export const ROOT = path.resolve(__dirname, '..', '..');
export const WINENODE = process.env.WINENODE || '/work/shared/tools/winenode';
const WINENODE_HOME = process.env.WINENODE_HOME || path.join(os.homedir(), '.cache', 'winenode');
/** Kept between runs (creating one takes a while and ~700 MB); never the shared default prefix. */
export const WINEPREFIX = process.env.ARMS_TEST_WINEPREFIX || path.join(WINENODE_HOME, 'prefix-arms-test');

export interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Wine's complaint on a 64-bit-only install, printed on every start: not the program's output. */
const WINE_NOISE = [/^it looks like wine32 is missing/, /^multiarch needs to be enabled/, /^execute "dpkg --add-architecture/, /^apt-get install wine32/];

function clean(text: string): string {
  return text
    .split(/\r?\n/)
    .filter((l) => !WINE_NOISE.some((re) => re.test(l)))
    .join('\n');
}

/** The environment of every Wine process of this test: its prefix, and nothing of an ARMS home. */
export function wineEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, WINEPREFIX, WINEDEBUG: '-all' };
  for (const k of ['ARMS_HOME', 'ARMS_PIPE', 'ARMS_GROUPNAME']) delete env[k];
  // npm run/npx pass Linux npm's settings (Linux paths) in npm_config_*: not for a Windows npm.
  for (const k of Object.keys(env)) if (/^npm_config_/i.test(k)) delete env[k];
  return { ...env, ...extra };
}

export interface Running {
  pid: number;
  /** resolves when winenode has ended (winenode prints the program's output only then) */
  done: Promise<Result>;
  kill(): void;
}

/** Starts `winenode ARGS...`; its output arrives when it ends (winenode passes it through files). */
export function startWinenode(args: string[], env: NodeJS.ProcessEnv = {}): Running {
  // Its own process group, so that a test that gives up can end exactly this winenode and its wine.
  const child = spawn(WINENODE, args, { env: wineEnv(env), stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const done = new Promise<Result>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout: clean(stdout), stderr: clean(stderr) }));
  });
  return {
    pid: child.pid!,
    done,
    kill() {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        /* already gone */
      }
    },
  };
}

/** Runs `winenode ARGS...` to its end (SIGKILL after timeoutMs). */
export async function winenode(args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 120_000): Promise<Result> {
  const run = startWinenode(args, env);
  const timer = setTimeout(() => run.kill(), timeoutMs);
  try {
    return await run.done;
  } finally {
    clearTimeout(timer);
  }
}

/** The Windows name of a Linux path, as Wine's programs see it (Z:\... normally). */
export function winePath(unixPath: string): string {
  const r = spawnSync('winepath', ['-w', unixPath], { env: wineEnv(), encoding: 'utf8', timeout: 60_000 });
  const out = (r.stdout ?? '').trim();
  if (r.status !== 0 || !/^[A-Za-z]:\\/.test(out)) throw new Error(`winepath -w ${unixPath} failed: ${r.stderr}`);
  return out;
}

/** Writes a batch file as cmd.exe expects it: CRLF line ends. */
export function writeBat(file: string, lines: string[]): void {
  fs.writeFileSync(file, lines.join('\r\n') + '\r\n');
}

/** Reads a one-line file a batch file wrote with `>"FILE" echo ...`; null if it never wrote it. */
export function readEcho(file: string): string | null {
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch {
    return null;
  }
}

export interface WineProcess {
  pid: number;
  name: string;
  /** the arguments joined with spaces (for a Windows program: its Windows command line) */
  cmdline: string;
}

/** Living processes (not zombies) whose environment names this test's Wine prefix. */
export function wineProcesses(): WineProcess[] {
  const found: WineProcess[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
      if (state === 'Z' || state === 'X') continue;
      const environ = fs.readFileSync(`/proc/${entry}/environ`, 'utf8').split('\0');
      if (!environ.includes(`WINEPREFIX=${WINEPREFIX}`)) continue;
      const cmdline = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
      found.push({ pid: Number(entry), name: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')), cmdline });
    } catch {
      /* gone, or not ours to read */
    }
  }
  return found;
}

/** Ends every process of this test's Wine prefix (`wineserver -k`) and waits until none is left. */
export async function killWine(timeoutMs = 30_000): Promise<WineProcess[]> {
  spawnSync('wineserver', ['-k'], { env: wineEnv(), timeout: timeoutMs });
  const deadline = Date.now() + timeoutMs;
  let left = wineProcesses();
  while (left.length > 0 && Date.now() < deadline) {
    await sleep(200);
    left = wineProcesses();
  }
  return left;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function hasCommand(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

/**
 * Whether bin/win/launcher.exe is what src/platform/win-launcher.c builds to here
 * (`scripts/build-launcher.sh --check`: a deterministic build into a temporary file, compared).
 */
export function checkLauncher(): { ok: boolean; said: string } {
  const r = spawnSync(path.join(ROOT, 'scripts', 'build-launcher.sh'), ['--check'], { encoding: 'utf8', timeout: 120_000 });
  return { ok: r.status === 0, said: `${r.stdout}${r.stderr}`.trim() };
}

/**
 * A copy of the package as `npm install` leaves it on a Windows machine, before its build step:
 * package.json, bin/ (with bin/win/launcher.exe), dist/ without the commands folder, and
 * scripts/make-path.js; node_modules is a link to this checkout's (Wine follows Linux symlinks).
 * The service run from it finds its commands folder where it looks on Windows: <copy>\dist\path.
 */
export function copyPackage(dest: string): void {
  fs.mkdirSync(path.join(dest, 'scripts'), { recursive: true });
  fs.copyFileSync(path.join(ROOT, 'package.json'), path.join(dest, 'package.json'));
  fs.copyFileSync(path.join(ROOT, 'scripts', 'make-path.js'), path.join(dest, 'scripts', 'make-path.js'));
  fs.cpSync(path.join(ROOT, 'bin'), path.join(dest, 'bin'), { recursive: true });
  const built = path.join(ROOT, 'dist', 'path');
  fs.cpSync(path.join(ROOT, 'dist'), path.join(dest, 'dist'), { recursive: true, filter: (src) => src !== built });
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(dest, 'node_modules'));
}

/**
 * npm's own command line, npm-cli.js of the npm that runs this test. npm is the same JavaScript on
 * every OS (the Windows installer of Node ships the same package): run by the Windows node.exe it
 * is npm on Windows (process.platform win32: `<prefix>\node_modules\<name>`, `.cmd` shims).
 */
export function npmCli(): string {
  const found = spawnSync('sh', ['-c', 'command -v npm'], { encoding: 'utf8' }).stdout.trim();
  const cli = found ? fs.realpathSync(found) : '';
  if (!cli.endsWith(path.join('bin', 'npm-cli.js'))) throw new Error(`cannot find npm-cli.js (npm is ${found || 'not on PATH'})`);
  return cli;
}

export interface PackedInstall {
  /** the global prefix (on Windows, npm's prefix holds the .cmd shims) */
  prefix: string;
  /** <prefix>/node_modules/arms: the installed package */
  pkg: string;
  tarball: string;
  /** what `npm install -g` said */
  install: Result;
}

/**
 * The package as a release gives it, installed as on Windows: `npm pack` of this checkout (Linux
 * npm: a tarball is the same for every OS; --ignore-scripts, as test/pack.test.ts, so that
 * `prepare` does not rebuild dist/ under other tests), then `npm install -g --prefix PREFIX
 * --offline TARBALL` by npm-cli.js under the Windows node.exe, with an empty cache of its own:
 * every dependency must come from the tarball (bundleDependencies), nothing from a registry.
 */
export async function installPacked(dir: string): Promise<PackedInstall> {
  const pack = spawnSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
  if (pack.status !== 0) throw new Error(`npm pack failed: ${pack.stderr}`);
  const tarball = path.join(dir, (JSON.parse(pack.stdout) as Array<{ filename: string }>)[0].filename);
  const prefix = path.join(dir, 'prefix');
  const cache = path.join(dir, 'npm-cache');
  fs.mkdirSync(prefix, { recursive: true });
  fs.mkdirSync(cache, { recursive: true });
  const install = await winenode(
    ['node', winePath(npmCli()), 'install', '-g', '--prefix', winePath(prefix), '--cache', winePath(cache), '--offline', '--no-audit', '--no-fund', '--no-update-notifier', winePath(tarball)],
    {},
    600_000,
  );
  return { prefix, pkg: path.join(prefix, 'node_modules', 'arms'), tarball, install };
}
