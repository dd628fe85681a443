// The service's persisted state: what must survive the service's own end (a crash, a reboot).
// Kept in a journal (journal.ts, state/state.journal): each change appends the records it touched
// (the service's counters and values, the groups, one watch), synced before save() returns or
// saveSoon() resolves, so a change costs what changed, not the whole state. Each distinct
// environment of the watches is stored once (env:<sha1>), the watches name theirs. A state.json
// from before the journal is taken over at the first start, then removed.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { JournalOptions, openJournal, readJournal, Skipped } from './journal';
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
}

export interface State {
  /** the counters, values and groups as they are now (watches: see saveWatch) */
  data: PersistedState;
  /** what the journal said when the service started: null when there was none */
  previous: PersistedState | null;
  /**
   * Writes the changes now (on the event loop: only what changed); throws when the disk refuses
   * (what was on disk stays). A new `data.watches` array (a clean stop) replaces every watch.
   */
  save(): void;
  /**
   * Writes the changes in the background (written and fdatasync'ed off the event loop). Resolves
   * once what `data` held at the call, and every saveWatch() before it, is on disk; rejects when
   * the disk refuses (the records are written again with the next save).
   */
  saveSoon(): Promise<void>;
  /** one watch changed (null: it is gone, `key` its upper-case ID): written with the next save */
  saveWatch(key: string, saved: SavedWatch | null): void;
}

const FILE = 'state.json';
const JOURNAL = 'state.journal';

function fresh(): PersistedState {
  return { version: 1, cleanStop: true, reboots: 0, failovers: {}, values: {}, groups: {}, watches: [] };
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

export type RecoveredFrom = 'journal' | 'current' | 'previous' | 'none';

/** What the state on disk says: the journal's (with its unreadable lines), else a state.json from before it. */
export function readState(dir: string): { state: PersistedState | null; from: RecoveredFrom; skipped: Skipped | null } {
  const j = readJournal(path.join(dir, JOURNAL));
  if (j) return { state: fromRecords(j.values), from: 'journal', skipped: j.skipped };
  return { ...readLegacy(dir), skipped: null };
}

function readLegacy(dir: string): { state: PersistedState | null; from: RecoveredFrom } {
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

// ---------------------------------------------------------------------------------------------
// the records: meta (counters and values), groups, env:<sha1>, watch:<KEY>

type SavedWatchRecord = Omit<SavedWatch, 'req'> & { req: Omit<SavedWatch['req'], 'env'>; env: string };

function fromRecords(values: Map<string, unknown>): PersistedState | null {
  const meta = values.get('meta') as Omit<PersistedState, 'groups' | 'watches'> | undefined;
  if (!meta || meta.version !== 1) return null;
  const watches: SavedWatch[] = [];
  for (const [k, v] of values) {
    if (!k.startsWith('watch:')) continue;
    const { env, ...w } = v as SavedWatchRecord;
    watches.push({ ...w, req: { ...w.req, env: (values.get(`env:${env}`) as NodeJS.ProcessEnv) ?? {} } } as SavedWatch);
  }
  return { ...fresh(), ...meta, groups: (values.get('groups') as PersistedState['groups']) ?? {}, watches };
}

function metaOf(d: PersistedState): string {
  return JSON.stringify({ version: 1, cleanStop: d.cleanStop, reboots: d.reboots, failovers: d.failovers, values: d.values });
}

export function openState(dir: string, opts: JournalOptions = {}): State & { recoveredFrom: RecoveredFrom; skipped: Skipped | null } {
  const file = path.join(dir, JOURNAL);
  let recoveredFrom: RecoveredFrom = 'journal';
  let seed: Map<string, unknown> | undefined;
  if (!fs.existsSync(file)) {
    // The first start with the journal: take over state.json (or its previous good copy).
    const legacy = readLegacy(dir);
    recoveredFrom = legacy.from;
    seed = new Map();
    if (legacy.state) {
      const { groups, watches, ...meta } = legacy.state;
      seed.set('meta', JSON.parse(metaOf({ ...legacy.state, ...meta })));
      seed.set('groups', groups);
      for (const w of watches) {
        const env = envId(w.req.env);
        seed.set(`env:${env}`, w.req.env);
        seed.set(`watch:${w.req.id.toUpperCase()}`, { ...w, req: { ...w.req, env: undefined }, env });
      }
    }
  }
  const journal = openJournal(file, opts, seed);
  for (const f of [FILE, `${FILE}.prev`]) fs.rmSync(path.join(dir, f), { force: true });
  const previous = fromRecords(journal.initial);
  if (previous === null && journal.initial.size === 0) recoveredFrom = 'none';
  const data: PersistedState = previous ? structuredClone(previous) : fresh();

  // What is on disk, to write only what changed.
  let meta = previous ? metaOf(previous) : '';
  let groups = JSON.stringify(previous?.groups ?? {});
  /** per watch (KEY), its environment's id; per environment id, how many watches use it */
  const envOfWatch = new Map<string, string>();
  const envUsers = new Map<string, number>();
  for (const [k, v] of journal.initial) {
    if (!k.startsWith('watch:')) continue;
    const env = (v as SavedWatchRecord).env;
    envOfWatch.set(k.slice('watch:'.length), env);
    envUsers.set(env, (envUsers.get(env) ?? 0) + 1);
  }
  for (const k of journal.initial.keys()) if (k.startsWith('env:') && !envUsers.has(k.slice(4))) journal.delete(k);
  /** a watch's environment object -> its id (a watch keeps one object for its life: hashed once) */
  const envIds = new WeakMap<object, string>();
  let watchesSeen = data.watches;

  const saveWatch = (key: string, saved: SavedWatch | null) => {
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
      journal.put(`watch:${key}`, { ...saved, req: { ...saved.req, env: undefined }, env });
    } else {
      journal.delete(`watch:${key}`);
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

  /** Puts what changed in `data` into the journal. */
  const stage = () => {
    const m = metaOf(data);
    if (m !== meta) {
      journal.put('meta', JSON.parse(m));
      meta = m;
    }
    const g = JSON.stringify(data.groups);
    if (g !== groups) {
      journal.put('groups', data.groups);
      groups = g;
    }
    if (data.watches !== watchesSeen) {
      // Every watch at once (a clean stop): the ones no longer there are deleted.
      watchesSeen = data.watches;
      const keep = new Set<string>();
      for (const w of data.watches) {
        const key = w.req.id.toUpperCase();
        keep.add(key);
        saveWatch(key, w);
      }
      for (const key of [...envOfWatch.keys()]) if (!keep.has(key)) saveWatch(key, null);
    }
  };

  return {
    data,
    previous,
    recoveredFrom,
    skipped: journal.skippedAtOpen,
    save() {
      stage();
      journal.flushSync();
    },
    saveSoon() {
      stage();
      return journal.flush();
    },
    saveWatch,
  };
}

/** An environment's id: the same environment, the same id (whatever the order of its names). */
function envId(env: NodeJS.ProcessEnv): string {
  const h = createHash('sha1');
  for (const k of Object.keys(env).sort()) h.update(`${k}=${env[k]}\0`);
  return h.digest('hex').slice(0, 20);
}
