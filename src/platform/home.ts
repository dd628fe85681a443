// Where a service keeps its config, state, logs and pipe. Everything that differs between
// Windows and POSIX about those places is decided here.
// `import x = require()`: a plain require in the output (no copy of the module's every export), and
// `os` only where it is needed: every command loads this module on every call.
import fs = require('node:fs');
import path = require('node:path');
const os = (): typeof import('node:os') => require('node:os');

export interface Home {
  /** the folder that names this home (ARMS_HOME, or the per-OS config folder) */
  root: string;
  config: string;
  state: string;
  log: string;
  /** private runtime folder (POSIX: holds the socket, mode 0700) */
  run: string;
  pipe: string;
}

/** sun_path is 108 bytes on Linux and 104 on macOS/BSD, NUL included; Node 20 truncates silently. */
export const MAX_SOCKET_PATH = 103;

/**
 * The home's places. `forService`: the service about to listen makes the private socket folder
 * of a home too deep for its own run/ folder (clients only read where it is).
 */
export function resolveHome(env: NodeJS.ProcessEnv = process.env, opts: { forService?: boolean } = {}): Home {
  const given = env.ARMS_HOME;
  if (given) {
    const root = path.resolve(given);
    return withPipe(opts, {
      root,
      config: root,
      state: path.join(root, 'state'),
      log: path.join(root, 'log'),
      run: path.join(root, 'run'),
    });
  }
  return withPipe(opts, defaultHome(env));
}

function defaultHome(env: NodeJS.ProcessEnv): Omit<Home, 'pipe'> {
  if (process.platform === 'win32') {
    const root = path.join(env.ProgramData || 'C:\\ProgramData', 'arms');
    return { root, config: root, state: path.join(root, 'state'), log: path.join(root, 'log'), run: path.join(root, 'run') };
  }
  if (process.getuid && process.getuid() === 0) {
    return { root: '/etc/arms', config: '/etc/arms', state: '/var/lib/arms', log: '/var/log/arms', run: '/run/arms' };
  }
  const home = os().homedir();
  const config = path.join(env.XDG_CONFIG_HOME || path.join(home, '.config'), 'arms');
  const state = path.join(env.XDG_STATE_HOME || path.join(home, '.local', 'state'), 'arms');
  const run = env.XDG_RUNTIME_DIR ? path.join(env.XDG_RUNTIME_DIR, 'arms') : path.join(state, 'run');
  return { root: config, config, state, log: path.join(state, 'log'), run };
}

function withPipe(opts: { forService?: boolean }, h: Omit<Home, 'pipe'>): Home {
  return { ...h, pipe: pipePath(h, !!opts.forService) };
}

/** In a deep home's run/ folder: the path of its socket in its short private folder. */
const POINTER = 'armsd.sock.path';

function pipePath(h: Omit<Home, 'pipe'>, forService: boolean): string {
  if (process.platform === 'win32') {
    // The pipe namespace is flat and machine-wide: the name must be unique per home.
    return `\\\\.\\pipe\\arms-${homeId(h.root.toLowerCase())}`;
  }
  const direct = path.join(h.run, 'armsd.sock');
  if (Buffer.byteLength(direct) <= MAX_SOCKET_PATH) return direct;
  // A deep home would overflow sun_path: its socket lives in a short private folder of an
  // unguessable name (made by mkdtemp, so nobody can have made it first), found through a
  // pointer in the home's own run/ folder.
  const pointer = path.join(h.run, POINTER);
  const known = readPointer(pointer);
  if (known || !forService) return known ?? path.join(os().tmpdir(), `arms-${uid()}-none`, 'armsd.sock');
  fs.mkdirSync(h.run, { recursive: true, mode: 0o700 });
  const dir = fs.mkdtempSync(path.join(os().tmpdir(), `arms-${uid()}-`));
  fs.chmodSync(dir, 0o700);
  const pipe = path.join(dir, 'armsd.sock');
  fs.writeFileSync(`${pointer}.tmp`, pipe, { mode: 0o600 });
  fs.renameSync(`${pointer}.tmp`, pointer);
  return pipe;
}

/** The socket path a pointer names, when its folder is still a private folder of this user's. */
function readPointer(pointer: string): string | null {
  try {
    const pipe = fs.readFileSync(pointer, 'utf8').trim();
    if (!path.isAbsolute(pipe) || Buffer.byteLength(pipe) > MAX_SOCKET_PATH) return null;
    const st = fs.lstatSync(path.dirname(pipe));
    if (!st.isDirectory() || st.uid !== uid() || (st.mode & 0o077) !== 0) return null;
    return pipe;
  } catch {
    return null;
  }
}

function uid(): number {
  return process.getuid ? process.getuid() : 0;
}

function homeId(root: string): string {
  // Loaded lazily: only a deep home or Windows needs it, and the commands start faster without it.
  const { createHash } = require('node:crypto') as typeof import('node:crypto');
  return createHash('sha256').update(root).digest('hex').slice(0, 16);
}

/** Where a client connects: ARMS_PIPE when set, else the pipe of the home. */
export function clientPipe(env: NodeJS.ProcessEnv = process.env): string {
  return env.ARMS_PIPE || resolveHome(env).pipe;
}

export function describeHome(env: NodeJS.ProcessEnv = process.env): string {
  return env.ARMS_HOME ? `ARMS_HOME=${env.ARMS_HOME}` : `default home ${resolveHome(env).root}`;
}
