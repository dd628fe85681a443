// The service's persisted state: what must survive the service's own end (a crash, a reboot).
//
// One owner, one promise: `commit()` resolves once every change made before the call is durable
// (written and fdatasync'ed), and rejects with the disk's reason when it is not. Concurrent commits
// share one write (group commit): a burst of requests costs one sync, not one each. An answer that
// promises a change waits for its commit (ops/). Changes nobody was promised (a restart, a counter)
// are written soon after, coalesced.
//
// Kept in a journal of records (journal.ts, state/state.journal): `meta` (the service's own fields:
// clean stop, reboots, failovers, ARMSETCD values, suspended monitors), `group:<NAME>` per group,
// `watch:<ID>` per watch, `env:<id>` per distinct environment (the watches name theirs: a thousand
// watches started from one script store its environment once). The groups and watches say which
// of theirs changed (`changed(record)`); a write asks their owners for those records alone and
// appends them, so a change costs what changed, not the whole state. The journal is compacted in
// the background.
//
// Read back record by record (state-check.ts): a line cut short or damaged, or a record of the wrong
// shape, is skipped (the key's earlier good record, if the journal still has one, stays in force)
// and reported in `recovery`; it never stops the start. The file as a whole is refused (cannot be
// read, or holds no usable `meta`) and the previous good copy is tried: state.journal.prev, the
// journal as it was at the service's last start or its last compaction, whichever came later
// (older: what changed since is not in it, so the start takes back programs it does not name
// rather than stopping them). Both refused: `recovery.lost`. A refused file is kept aside as
// *.damaged.
//
// A state.json from before the journal is taken over at the first start (checked as a whole, its
// previous good copy tried, as before), then removed.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { JournalContents, openJournal, readJournal, Skipped } from './journal';
import { checkRecord, checkState } from './state-check';
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
  /** lines and records of the copy used that were skipped (null: none) */
  skipped: Skipped | null;
  /**
   * the copy used may lack something that was acknowledged: it is the previous copy, or records
   * other than a torn end were skipped. Programs it does not name may be the service's.
   */
  incomplete: boolean;
}

export interface State {
  /**
   * The service's own fields (clean stop, reboots, failovers, values, suspended monitors); `groups`
   * and `watches` are their owners' (asked per record, see StateOptions) and stay empty here.
   */
  data: PersistedState;
  /** what the state said when the service started: null when there was none */
  previous: PersistedState | null;
  recovery: Recovery;
  /** writes now, on the event loop (the start and the clean stop: only what changed); throws when the disk refuses */
  save(): void;
  /**
   * Makes every change made so far durable. Resolves once it is on disk; rejects with the disk's
   * error (what was on disk stays; the change stays in memory and goes with the next write).
   */
  commit(): Promise<void>;
  /**
   * A change nobody waits for: written soon, with others (failures go to `onError`). `record`
   * names what changed (watchRecord/groupRecord); none: the service's own fields in `data`.
   */
  changed(record?: string): void;
  /** true while a change is not yet on disk */
  dirty(): boolean;
  /**
   * Once, when the owners have taken back what `previous` held: every record on disk is checked
   * against them (what they no longer have is deleted, what they have is written).
   */
  resync(): void;
}

export interface StateOptions {
  /** the owners of groups and watches: asked, before a write, for the records that changed (null: gone) */
  owners?(): { watch(key: string): SavedWatch | null; group(key: string): SavedGroup | null; watchKeys(): Iterable<string>; groupKeys(): Iterable<string> } | null;
  /** a background write failed */
  onError?(e: Error): void;
  /** how long a change nobody waits for may stay in memory only (coalesces restart storms) */
  laterMs?: number;
  /** the journal's compaction thresholds (tests) */
  compactRatio?: number;
  compactMinBytes?: number;
}

const LEGACY = 'state.json';
const JOURNAL = 'state.journal';

/** the record of a watch (its ID, upper case) */
export const watchRecord = (key: string) => `watch:${key}`;
/** the record of a group (its name, upper case) */
export const groupRecord = (key: string) => `group:${key}`;

export function freshState(): PersistedState {
  return { version: 1, cleanStop: true, reboots: 0, failovers: {}, values: {}, groups: {}, watches: [], suspendedMonitors: [] };
}

type Meta = Omit<PersistedState, 'groups' | 'watches'>;
type WatchOnDisk = Omit<SavedWatch, 'req'> & { req: Omit<SavedWatch['req'], 'env'>; env: string };

interface Read {
  state: PersistedState | null;
  from: Recovery['from'];
  refused: string[];
  /** some copy existed */
  found: boolean;
  skipped: Skipped | null;
  /** the records of the copy used (journal or taken-over state.json), to open the journal on */
  records: JournalContents | null;
  /** which file the records came from */
  source: 'journal' | 'legacy' | 'none';
}

/** Reads the state: the journal, else its previous good copy, else a state.json from before the journal. */
export function readState(dir: string): Read {
  const refused: string[] = [];
  let found = false;
  for (const [name, from] of [
    [JOURNAL, 'current'],
    [`${JOURNAL}.prev`, 'previous'],
  ] as const) {
    let j: JournalContents | null;
    try {
      j = readJournal(path.join(dir, name), checkRecord);
    } catch (e) {
      found = true;
      refused.push(`${name}: cannot read: ${(e as Error).message}`);
      continue;
    }
    if (!j) continue;
    found = true;
    const state = fromRecords(j);
    if (typeof state === 'string') refused.push(`${name}: ${state}`);
    else return { state, from, refused, found, skipped: j.skipped, records: j, source: 'journal' };
  }
  if (found) return { state: null, from: 'none', refused, found, skipped: null, records: null, source: 'none' };
  // No journal yet: a state.json from before it, checked as a whole.
  for (const [name, from] of [
    [LEGACY, 'current'],
    [`${LEGACY}.prev`, 'previous'],
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
    else return { state: r, from, refused, found, skipped: null, records: toRecords(r), source: 'legacy' };
  }
  return { state: null, from: 'none', refused, found, skipped: null, records: null, source: 'none' };
}

/** The state the records make, or why they make none. A watch whose environment is missing is skipped (and counted). */
function fromRecords(j: JournalContents): PersistedState | string {
  const meta = j.values.get('meta') as Meta | undefined;
  if (!meta) return j.skipped ? `no usable meta record (${j.skipped.lines} line(s) skipped: ${j.skipped.reasons.join('; ')})` : 'no meta record';
  const state: PersistedState = { ...freshState(), ...meta, version: 1 };
  for (const [k, v] of j.values) {
    if (k.startsWith('group:')) state.groups[k.slice('group:'.length)] = v as SavedGroup;
    else if (k.startsWith('watch:')) {
      const { env: id, ...w } = v as WatchOnDisk;
      const env = j.values.get(`env:${id}`) as NodeJS.ProcessEnv | undefined;
      if (env === undefined) {
        // Refused like a record of the wrong shape: the environment it names is not there.
        j.values.delete(k);
        j.skipped ??= { offset: 0, lines: 0, bytes: 0, torn: false, reasons: [] };
        j.skipped.torn = false;
        j.skipped.lines++;
        if (j.skipped.reasons.length < 5) j.skipped.reasons.push(`record "${k}": its environment env:${id} is missing`);
        continue;
      }
      state.watches.push({ ...w, req: { ...w.req, env } } as SavedWatch);
    }
  }
  return state;
}

/** A whole state (a state.json taken over) as the journal's records. */
function toRecords(s: PersistedState): JournalContents {
  const values = new Map<string, unknown>();
  values.set('meta', metaOf(s));
  for (const [k, g] of Object.entries(s.groups)) values.set(groupRecord(k), g);
  for (const w of s.watches) {
    const id = envId(w.req.env);
    values.set(`env:${id}`, w.req.env);
    values.set(watchRecord(w.req.id.toUpperCase()), onDisk(w, id));
  }
  return { values, seq: 0, bytes: 0, skipped: null };
}

function metaOf(d: PersistedState): Meta {
  return { version: 1, cleanStop: d.cleanStop, reboots: d.reboots, failovers: d.failovers, values: d.values, suspendedMonitors: d.suspendedMonitors };
}

function onDisk(w: SavedWatch, env: string): WatchOnDisk {
  const { env: _omitted, ...req } = w.req;
  return { ...w, req, env };
}

export function openState(dir: string, opts: StateOptions = {}): State {
  const read = readState(dir);
  const previous = read.state;
  const recovery: Recovery = {
    from: read.from,
    refused: read.refused,
    lost: read.state === null && read.found,
    skipped: read.skipped,
    incomplete: read.from === 'previous' || (read.skipped !== null && !read.skipped.torn),
  };
  // A damaged copy is kept aside for whoever looks into it: the next writes would replace it.
  for (const name of [JOURNAL, `${JOURNAL}.prev`, LEGACY, `${LEGACY}.prev`]) {
    const damaged = read.refused.some((r) => r.startsWith(`${name}:`)) || (name === JOURNAL && read.from === 'current' && recovery.incomplete);
    if (!damaged) continue;
    try {
      fs.copyFileSync(path.join(dir, name), path.join(dir, `${name}.damaged`));
    } catch {
      /* unreadable or the disk is full: the alert says what was wrong */
    }
  }

  const file = path.join(dir, JOURNAL);
  const journal = openJournal(file, {
    ratio: opts.compactRatio,
    minBytes: opts.compactMinBytes,
    // The journal opens on the copy chosen here: the current one as it is, or rewritten from the
    // previous copy or a state.json taken over (or empty, when nothing usable was found).
    // A first start begins with a meta record, so that a crash at once leaves a journal that reads.
    found: read.records ?? { values: read.found ? new Map() : new Map([['meta', { ...metaOf(freshState()), cleanStop: false }]]), seq: 0, bytes: 0, skipped: null },
    rewrite: read.source !== 'journal' || read.from !== 'current',
  });
  if (read.source === 'legacy') for (const f of [LEGACY, `${LEGACY}.prev`]) fs.rmSync(path.join(dir, f), { force: true });

  const data: PersistedState = previous ? { ...structuredClone(metaOf(previous)), groups: {}, watches: [] } : freshState();

  // What the journal holds, to write only what changed.
  let metaOnDisk = read.records?.values.has('meta') ? JSON.stringify(read.records.values.get('meta')) : '';
  /** per watch (KEY), its environment's id; per environment id, how many watches use it */
  const envOfWatch = new Map<string, string>();
  const envUsers = new Map<string, number>();
  const groupsOnDisk = new Set<string>();
  for (const [k, v] of journal.initial) {
    if (k.startsWith('group:')) groupsOnDisk.add(k.slice('group:'.length));
    if (!k.startsWith('watch:')) continue;
    const env = (v as WatchOnDisk).env;
    envOfWatch.set(k.slice('watch:'.length), env);
    envUsers.set(env, (envUsers.get(env) ?? 0) + 1);
  }
  for (const k of journal.initial.keys()) if (k.startsWith('env:') && !envUsers.has(k.slice(4))) journal.delete(k);
  /** a watch's environment object -> its id (a watch keeps one object for its life: hashed once) */
  const envIds = new WeakMap<object, string>();

  const putWatch = (key: string, saved: SavedWatch | null) => {
    const had = envOfWatch.get(key);
    let env: string | undefined;
    if (saved) {
      env = envIds.get(saved.req.env);
      if (env === undefined) {
        env = envId(saved.req.env);
        envIds.set(saved.req.env, env);
      }
      if (env !== had) {
        if (!envUsers.has(env)) journal.put(`env:${env}`, saved.req.env);
        envUsers.set(env, (envUsers.get(env) ?? 0) + 1);
        envOfWatch.set(key, env);
      }
      journal.put(watchRecord(key), onDisk(saved, env));
    } else if (had !== undefined) {
      journal.delete(watchRecord(key));
      envOfWatch.delete(key);
    }
    if (had !== undefined && had !== env) {
      const n = (envUsers.get(had) ?? 1) - 1;
      if (n > 0) envUsers.set(had, n);
      else {
        envUsers.delete(had);
        journal.delete(`env:${had}`);
      }
    }
  };
  const putGroup = (key: string, saved: SavedGroup | null) => {
    if (saved) {
      journal.put(groupRecord(key), saved);
      groupsOnDisk.add(key);
    } else if (groupsOnDisk.delete(key)) journal.delete(groupRecord(key));
  };

  /** the records named by changed() since the last write */
  let pending = new Set<string>();
  /** Puts what changed into the journal: the meta record (small) when it differs, the named records. */
  const stage = () => {
    const m = JSON.stringify(metaOf(data));
    if (m !== metaOnDisk) {
      journal.put('meta', JSON.parse(m));
      metaOnDisk = m;
    }
    const owners = opts.owners?.();
    if (!owners || pending.size === 0) return;
    const names = pending;
    pending = new Set();
    for (const r of names) {
      if (r.startsWith('watch:')) putWatch(r.slice('watch:'.length), owners.watch(r.slice('watch:'.length)));
      else if (r.startsWith('group:')) putGroup(r.slice('group:'.length), owners.group(r.slice('group:'.length)));
    }
  };

  // Changes are numbered; `durable` is the number of the last one on disk.
  let version = 0;
  let durable = 0;
  let writing: Promise<void> | null = null;
  let laterTimer: NodeJS.Timeout | null = null;
  /** how long the last staging took on the event loop */
  let stageMs = 0;

  /** One write of what changed; resolves with the change number it holds. */
  const writeOnce = async (): Promise<number> => {
    const t0 = Date.now();
    stage();
    const upTo = version;
    stageMs = Date.now() - t0;
    await journal.flush();
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

  const changed = (record?: string) => {
    version++;
    if (record !== undefined) pending.add(record);
    if (laterTimer) return;
    laterTimer = setTimeout(
      () => {
        laterTimer = null;
        reach(version).catch((e: Error) => opts.onError?.(e));
      },
      Math.max(opts.laterMs ?? 200, 10 * stageMs),
    );
    laterTimer.unref();
  };

  return {
    data,
    previous,
    recovery,
    save() {
      stage();
      const upTo = ++version;
      journal.flushSync();
      if (upTo > durable) durable = upTo;
    },
    commit() {
      // Whatever the caller changed is marked now: it is part of the next write that begins.
      const want = ++version;
      return reach(want);
    },
    changed,
    dirty: () => durable < version,
    resync() {
      const owners = opts.owners?.();
      if (!owners) return;
      for (const k of [...envOfWatch.keys(), ...owners.watchKeys()]) pending.add(watchRecord(k));
      for (const k of [...groupsOnDisk, ...owners.groupKeys()]) pending.add(groupRecord(k));
      changed();
    },
  };
}

/** An environment's id: the same environment, the same id (whatever the order of its names). */
function envId(env: NodeJS.ProcessEnv): string {
  const h = createHash('sha1');
  for (const k of Object.keys(env).sort()) h.update(`${k}=${env[k]}\0`);
  return h.digest('hex').slice(0, 20);
}
