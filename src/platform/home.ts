// Where a service keeps its config, state, logs and pipe. Everything that differs between
// Windows and POSIX about those places is decided here.
import * as os from 'node:os';
import * as path from 'node:path';

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

export function resolveHome(env: NodeJS.ProcessEnv = process.env): Home {
  const given = env.ARMS_HOME;
  if (given) {
    const root = path.resolve(given);
    return withPipe({
      root,
      config: root,
      state: path.join(root, 'state'),
      log: path.join(root, 'log'),
      run: path.join(root, 'run'),
    });
  }
  return withPipe(defaultHome(env));
}

function defaultHome(env: NodeJS.ProcessEnv): Omit<Home, 'pipe'> {
  if (process.platform === 'win32') {
    const root = path.join(env.ProgramData || 'C:\\ProgramData', 'arms');
    return { root, config: root, state: path.join(root, 'state'), log: path.join(root, 'log'), run: path.join(root, 'run') };
  }
  if (process.getuid && process.getuid() === 0) {
    return { root: '/etc/arms', config: '/etc/arms', state: '/var/lib/arms', log: '/var/log/arms', run: '/run/arms' };
  }
  const home = os.homedir();
  const config = path.join(env.XDG_CONFIG_HOME || path.join(home, '.config'), 'arms');
  const state = path.join(env.XDG_STATE_HOME || path.join(home, '.local', 'state'), 'arms');
  const run = env.XDG_RUNTIME_DIR ? path.join(env.XDG_RUNTIME_DIR, 'arms') : path.join(state, 'run');
  return { root: config, config, state, log: path.join(state, 'log'), run };
}

function withPipe(h: Omit<Home, 'pipe'>): Home {
  return { ...h, pipe: pipePath(h) };
}

function pipePath(h: Omit<Home, 'pipe'>): string {
  if (process.platform === 'win32') {
    // The pipe namespace is flat and machine-wide: the name must be unique per home.
    return `\\\\.\\pipe\\arms-${homeId(h.root.toLowerCase())}`;
  }
  const direct = path.join(h.run, 'armsd.sock');
  if (Buffer.byteLength(direct) <= MAX_SOCKET_PATH) return direct;
  // A deep home would overflow sun_path: use a short private folder named after the home instead.
  return path.join(shortRunDir(), `${homeId(h.root)}.sock`);
}

/** The private folder that holds the sockets of homes too deep for their own run/ folder. */
export function shortRunDir(): string {
  const uid = process.getuid ? process.getuid() : 0;
  return path.join(os.tmpdir(), `arms-${uid}`);
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
