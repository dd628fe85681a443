// The service's persisted state: what must survive the service's own end (a crash, a reboot).
// Written atomically: a temporary file, fsync, the current file kept as the previous good copy,
// rename, fsync of the folder. Never left empty or half written; when the disk refuses a write,
// the files on disk stay as they were and the caller hears of it.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { SavedGroup } from './groups';
import type { SavedWatch } from './watches';

export interface PersistedState {
  version: 1;
  /** false while a service runs: found false at start, the last one did not stop cleanly */
  cleanStop: boolean;
  /** server shutdowns/reboots asked for by monitoring (/SHUT), until an operator clears them */
  reboots: number;
  /** per group (upper case), when its failovers happened (ms), for its failover limit */
  failovers: Record<string, number[]>;
  /** ARMSETCD values */
  values: Record<string, number>;
  /** group states, by name (upper case) */
  groups: Record<string, SavedGroup>;
  /** the watches, with their processes' identities and counters */
  watches: SavedWatch[];
  /** monitors suspended by an operator (`arms monitor suspend`), upper case */
  suspendedMonitors: string[];
}

export interface State {
  data: PersistedState;
  /** what the file said when the service started: null when there was none */
  previous: PersistedState | null;
  /** writes now; throws when the disk refuses (the old files stay) */
  save(): void;
  /**
   * Writes in the background: the file is written and fsynced off the event loop, one write at a
   * time (a call while one runs asks for one more after it, of the then current data). Resolves
   * once what `data` held at the call is on disk; rejects when the disk refuses (the old files stay).
   */
  saveSoon(): Promise<void>;
}

const FILE = 'state.json';

function fresh(): PersistedState {
  return { version: 1, cleanStop: true, reboots: 0, failovers: {}, values: {}, groups: {}, watches: [], suspendedMonitors: [] };
}

function parse(text: string): PersistedState | null {
  try {
    const s = JSON.parse(text) as PersistedState;
    if (s?.version !== 1 || typeof s.cleanStop !== 'boolean' || typeof s.reboots !== 'number') return null;
    return { ...fresh(), ...s };
  } catch {
    return null;
  }
}

export function readState(dir: string): { state: PersistedState | null; from: 'current' | 'previous' | 'none' } {
  for (const [name, from] of [
    [FILE, 'current'],
    [`${FILE}.prev`, 'previous'],
  ] as const) {
    try {
      const s = parse(fs.readFileSync(path.join(dir, name), 'utf8'));
      if (s) return { state: s, from };
    } catch {
      /* missing */
    }
  }
  return { state: null, from: 'none' };
}

export function openState(dir: string): State & { recoveredFrom: 'current' | 'previous' | 'none' } {
  const { state: previous, from } = readState(dir);
  const data: PersistedState = previous ? structuredClone(previous) : fresh();
  // Each write gets a number when its data is serialized; a write whose number is older than the
  // file's is not installed (a synchronous save() may overtake a background one).
  let serial = 0;
  let installed = 0;
  let running: Promise<void> | null = null;
  let wanted = false;
  const background = async () => {
    while (wanted) {
      wanted = false;
      const n = ++serial;
      const tmp = path.join(dir, `${FILE}.bg.tmp`);
      await writeFileSynced(tmp, JSON.stringify(data));
      if (n > installed) {
        install(dir, FILE, tmp);
        installed = n;
      } else fs.rmSync(tmp, { force: true });
    }
  };
  return {
    data,
    previous,
    recoveredFrom: from,
    save() {
      const n = ++serial;
      writeAtomically(dir, FILE, JSON.stringify(data));
      installed = n;
    },
    saveSoon() {
      wanted = true;
      if (!running) running = background().finally(() => (running = null));
      return running;
    },
  };
}

async function writeFileSynced(file: string, text: string): Promise<void> {
  const fh = await fs.promises.open(file, 'w', 0o600);
  try {
    await fh.writeFile(text);
    await fh.sync();
  } catch (e) {
    await fh.close();
    await fs.promises.rm(file, { force: true });
    throw e;
  }
  await fh.close();
}

/** The synced `tmp` becomes `name`; the current file stays as the previous good copy. On the event loop: quick. */
function install(dir: string, name: string, tmp: string): void {
  const file = path.join(dir, name);
  try {
    fs.rmSync(`${file}.prev`, { force: true });
    fs.linkSync(file, `${file}.prev`);
  } catch {
    /* no current file yet, or links not supported */
  }
  fs.renameSync(tmp, file);
  // the folder's fsync (the rename's durability) in the background
  void fs.promises.open(dir, 'r').then((d) => d.sync().finally(() => d.close())).catch(() => undefined);
}

export function writeAtomically(dir: string, name: string, text: string): void {
  const file = path.join(dir, name);
  const tmp = `${file}.tmp`;
  const fd = fs.openSync(tmp, 'w', 0o600);
  try {
    fs.writeSync(fd, text);
    fs.fsyncSync(fd);
  } catch (e) {
    fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  fs.closeSync(fd);
  // The current file becomes the previous good copy: a hard link, so there is no moment without it.
  try {
    fs.rmSync(`${file}.prev`, { force: true });
    fs.linkSync(file, `${file}.prev`);
  } catch {
    /* no current file yet, or links not supported: the rename below still replaces it whole */
  }
  fs.renameSync(tmp, file);
  try {
    const dfd = fs.openSync(dir, 'r');
    fs.fsyncSync(dfd);
    fs.closeSync(dfd);
  } catch {
    /* Windows cannot open a folder for fsync */
  }
}
