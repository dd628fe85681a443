// The service's persisted state: what must survive the service's own end (a crash, a reboot).
//
// One owner, one promise: `commit()` resolves once every change made to `data` before the call is
// durable (written, fsynced, renamed into place, the folder fsynced), and rejects with the disk's
// reason when it is not. Concurrent commits share one write (group commit): a burst of requests
// costs one fsync, not one each. An answer that promises a change waits for its commit (ops/).
// Changes nobody was promised (a restart, a counter) are written soon after, coalesced.
//
// Written atomically: a temporary file, fsync, the current file kept as the previous good copy,
// rename, fsync of the folder. Never left empty or half written; when the disk refuses a write,
// the files on disk stay as they were. Read back as a whole: a file whose shape is wrong in any
// field is refused like a torn one, and the previous good copy is tried (state-check.ts).
//
// This module is the only one that knows the state is a file: the journal of a later version
// replaces what is below the interface, nothing above it.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { checkState } from './state-check';
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

/** How the state was found at the start. */
export interface Recovery {
  /** which copy was used; 'none': no usable copy (a first start, or both copies damaged) */
  from: 'current' | 'previous' | 'none';
  /** why each copy that was refused was refused (file: reason) */
  refused: string[];
  /** copies existed but none was usable: what ran before is unknown */
  lost: boolean;
}

export interface State {
  data: PersistedState;
  /** what the file said when the service started: null when there was none */
  previous: PersistedState | null;
  recovery: Recovery;
  /** writes now, on the event loop (the start and the clean stop); throws when the disk refuses */
  save(): void;
  /**
   * Makes every change made so far durable. Resolves once it is on disk; rejects with the disk's
   * error (the old files stay, the change stays in memory and goes with the next write).
   */
  commit(): Promise<void>;
  /** a change nobody waits for: written soon, with others (failures go to `onError`) */
  changed(): void;
  /** true while a change is not yet on disk */
  dirty(): boolean;
}

export interface StateOptions {
  /** called before each write: brings `data` up to date with its owners (groups, watches) */
  collect?(): void;
  /** a background write failed */
  onError?(e: Error): void;
  /** how long a change nobody waits for may stay in memory only (coalesces restart storms) */
  laterMs?: number;
}

const FILE = 'state.json';

export function freshState(): PersistedState {
  return { version: 1, cleanStop: true, reboots: 0, failovers: {}, values: {}, groups: {}, watches: [], suspendedMonitors: [] };
}

/** Reads the state, current copy first, then the previous good copy; each refusal says why. */
export function readState(dir: string): { state: PersistedState | null; from: Recovery['from']; refused: string[]; found: boolean } {
  const refused: string[] = [];
  let found = false;
  for (const [name, from] of [
    [FILE, 'current'],
    [`${FILE}.prev`, 'previous'],
  ] as const) {
    let text: string;
    try {
      text = fs.readFileSync(path.join(dir, name), 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') {
        found = true;
        refused.push(`${name}: cannot read: ${(e as Error).message}`);
      }
      continue;
    }
    found = true;
    const r = checkState(text);
    if (typeof r === 'string') refused.push(`${name}: ${r}`);
    else return { state: r, from, refused, found };
  }
  return { state: null, from: 'none', refused, found };
}

export function openState(dir: string, opts: StateOptions = {}): State {
  const read = readState(dir);
  const previous = read.state;
  const recovery: Recovery = { from: read.from, refused: read.refused, lost: read.state === null && read.found };
  // A damaged copy is kept aside for whoever looks into it: the next writes would replace it.
  for (const name of [FILE, `${FILE}.prev`]) {
    if (read.refused.some((r) => r.startsWith(`${name}:`))) {
      try {
        fs.copyFileSync(path.join(dir, name), path.join(dir, `${name}.damaged`));
      } catch {
        /* unreadable or the disk is full: the alert says what was wrong */
      }
    }
  }
  const data: PersistedState = previous ? structuredClone(previous) : freshState();

  // Changes are numbered; `durable` is the number of the last one on disk.
  let version = 0;
  let durable = 0;
  let writing: Promise<void> | null = null;
  let laterTimer: NodeJS.Timeout | null = null;
  /** how long the last snapshot took to make on the event loop (collect and serialize) */
  let snapshotMs = 0;

  /** One write of the state as it is now; resolves with the change number it holds. */
  const writeOnce = async (): Promise<number> => {
    const t0 = Date.now();
    opts.collect?.();
    const upTo = version;
    const text = JSON.stringify(data);
    snapshotMs = Date.now() - t0;
    const tmp = path.join(dir, `${FILE}.bg.tmp`);
    await writeFileSynced(tmp, text);
    // A synchronous save() (start, clean stop) may have overtaken this write: never install older data.
    if (upTo <= durable) {
      fs.rmSync(tmp, { force: true });
      return upTo;
    }
    install(dir, FILE, tmp);
    await syncDir(dir);
    return upTo;
  };

  /** Writes until everything changed before `want` is on disk; one write at a time. */
  const reach = async (want: number): Promise<void> => {
    while (durable < want) {
      if (writing) {
        await writing.catch(() => undefined);
        continue;
      }
      const w = writeOnce().then((n) => {
        if (n > durable) durable = n;
      });
      const settled = w.finally(() => (writing = null));
      settled.catch(() => undefined); // the caller below hears of a failure; the others retry
      writing = settled;
      await w;
    }
  };

  const state: State = {
    data,
    previous,
    recovery,
    save() {
      opts.collect?.();
      const upTo = ++version;
      writeAtomically(dir, FILE, JSON.stringify(data));
      if (upTo > durable) durable = upTo;
    },
    commit() {
      // Whatever the caller changed is in `data` now: it is part of the next write that begins.
      const want = ++version;
      return reach(want);
    },
    changed() {
      version++;
      if (laterTimer) return;
      laterTimer = setTimeout(() => {
        laterTimer = null;
        reach(version).catch((e: Error) => opts.onError?.(e));
        // A big state (a thousand watches) is written less often: at most a tenth of the time goes to it.
      }, Math.max(opts.laterMs ?? 200, 10 * snapshotMs));
      laterTimer.unref();
    },
    dirty: () => durable < version,
  };
  return state;
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

async function syncDir(dir: string): Promise<void> {
  if (process.platform === 'win32') return; // a folder cannot be opened for fsync there
  const d = await fs.promises.open(dir, 'r');
  try {
    await d.sync();
  } finally {
    await d.close();
  }
}

/** The synced `tmp` becomes `name`; the current file stays as the previous good copy. On the event loop: quick. */
function install(dir: string, name: string, tmp: string): void {
  const file = path.join(dir, name);
  // A hard link: there is no moment without a previous copy.
  try {
    fs.rmSync(`${file}.prev`, { force: true });
    fs.linkSync(file, `${file}.prev`);
  } catch {
    /* no current file yet, or links not supported: the rename below still replaces it whole */
  }
  fs.renameSync(tmp, file);
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
  install(dir, name, tmp);
  try {
    const dfd = fs.openSync(dir, 'r');
    fs.fsyncSync(dfd);
    fs.closeSync(dfd);
  } catch {
    /* Windows cannot open a folder for fsync */
  }
}
