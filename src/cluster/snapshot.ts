// The cluster's state as this server knows it (its one owner: the view below): one read of the
// whole prefix, then kept current by the watch's events (every change under the prefix, in revision order, without gaps while the
// watch stays connected), so that a decision after an event needs no second read. Every write made
// from it is a transaction guarded by what it read, so a stale snapshot costs a retry, never safety.
import type { Watcher } from 'etcd3';
import type { Etcd3, IKeyValue } from './etcd';
import { json, text, within } from './etcd';
import { Answer, GroupRecord, OFFLINE, OwnerValue, Request } from './keys';

export interface Owner {
  value: OwnerValue;
  /** the owner key's create revision: the fencing token */
  fence: string;
  lease: string;
}

export interface Snapshot {
  /** the etcd revision the snapshot reflects */
  rev: bigint;
  /** the revision of the read it started from (the watch's events since then are in it) */
  base: bigint;
  servers: Set<string>;
  seen: Map<string, { value: { up: boolean; since: string }; rev: string }>;
  owners: Map<string, Owner>;
  records: Map<string, { rec: GroupRecord; rev: string }>;
  reqs: Map<string, Array<{ key: string; req: Request; id: string }>>;
  answers: Map<string, Answer>;
  readAt: string;
}

export function emptySnapshot(rev: bigint): Snapshot {
  return { rev, base: rev, servers: new Set(), seen: new Map(), owners: new Map(), records: new Map(), reqs: new Map(), answers: new Map(), readAt: new Date().toISOString() };
}

/** One key's value (null: deleted) into the snapshot. */
function apply(root: string, s: Snapshot, kv: IKeyValue, deleted: boolean): void {
  const key = text(kv.key);
  if (!key.startsWith(root)) return;
  const [kind, name, id] = key.slice(root.length).split('/');
  if (kind === 'server') {
    if (deleted) s.servers.delete(name);
    else s.servers.add(name);
  } else if (kind === 'seen') {
    if (deleted) s.seen.delete(name);
    else s.seen.set(name, { value: json(kv) ?? { up: false, since: '' }, rev: kv.mod_revision });
  } else if (kind === 'owner') {
    if (deleted) s.owners.delete(name);
    else s.owners.set(name, { value: json<OwnerValue>(kv) ?? { server: '?', state: 'error', at: '' }, fence: kv.create_revision, lease: String(kv.lease) });
  } else if (kind === 'group') {
    if (deleted) s.records.delete(name);
    else s.records.set(name, { rec: { ...OFFLINE, ...json<GroupRecord>(kv) }, rev: kv.mod_revision });
  } else if (kind === 'req' && id) {
    const rest = (s.reqs.get(name) ?? []).filter((r) => r.key !== key);
    const req = deleted ? null : json<Request>(kv);
    if (req) rest.push({ key, req, id });
    if (rest.length) s.reqs.set(name, rest);
    else s.reqs.delete(name);
  } else if (kind === 'ans') {
    const a = deleted ? null : json<Answer>(kv);
    if (a) s.answers.set(name, a);
    else s.answers.delete(name);
  }
}

/** The snapshot of a read of the whole prefix at revision `rev`. */
export function fromRange(root: string, kvs: IKeyValue[], rev: bigint): Snapshot {
  const s = emptySnapshot(rev);
  for (const kv of kvs) apply(root, s, kv, false);
  return s;
}

export interface WatchEvent {
  type: string;
  kv: IKeyValue;
}

/** A watch response's events into the snapshot (in revision order); those its read already had are skipped. */
export function applyEvents(root: string, s: Snapshot, events: WatchEvent[]): void {
  for (const ev of events) {
    // A delete event's mod revision is the deletion's; the changes of one transaction share one
    // revision. The read already has those up to its own.
    const rev = BigInt(ev.kv.mod_revision);
    if (rev <= s.base) continue;
    apply(root, s, ev.kv, ev.type.toLowerCase() === 'delete');
    // (never the response's header revision: changes up to it may still be on their way)
    if (rev > s.rev) s.rev = rev;
  }
  s.readAt = new Date().toISOString();
}

/**
 * This server's view of the cluster: the last snapshot, kept current by one watch on the prefix.
 * `onChange(read)`: something changed (`read`: the watch (re)connected, the next look reads all).
 */
export interface View {
  /** the snapshot as it stands (null before the first read) */
  last(): Snapshot | null;
  /** reads the whole prefix */
  read(): Promise<Snapshot>;
  /** the snapshot when the watch keeps it current, else a read */
  current(): Promise<Snapshot>;
  synced(): boolean;
  /** evaluates `what` at each change the watch brings (a read when it stays quiet `pollMs`), until it answers or `ms` pass */
  waitFor<T>(what: (s: Snapshot) => T | undefined, ms: number): Promise<T | undefined>;
  /** creates the watch unless there is one (bounded: a hung connection makes it fail; try again later) */
  watch(): Promise<void>;
  watching(): boolean;
  close(): Promise<void>;
}

export function openView(client: Etcd3, root: string, opts: { callMs: number; pollMs: number; onChange(read: boolean): void }): View {
  let last: Snapshot | null = null;
  let closed = false;
  // the watch is connected and `last` started from a read at or after the revision it covers from
  let live = false;
  let from = 0n;
  let watcher: Watcher | null = null;
  let creating = false;
  const waiters = new Set<() => void>();
  const synced = () => live && last !== null && last.base >= from;

  const read = async (): Promise<Snapshot> => {
    const res = await client.getAll().prefix(root).exec();
    const s = fromRange(root, res.kvs, BigInt(res.header.revision));
    // the watch brought newer state while this read was under way
    if (last && synced() && last.rev > s.rev) return last;
    last = s;
    return s;
  };
  const current = async (): Promise<Snapshot> => (synced() && last ? last : read());

  const nextChange = (ms: number) =>
    new Promise<boolean>((resolve) => {
      const done = (changed: boolean) => {
        clearTimeout(t);
        waiters.delete(wake);
        resolve(changed);
      };
      const wake = () => done(true);
      const t = setTimeout(() => done(false), ms);
      waiters.add(wake);
    });

  const create = async () => {
    // the listeners first: the first events may come in the same read as the creation's answer
    const w = client.watch().prefix(root).watcher();
    w.on('data', (res: { events: WatchEvent[] }) => {
      if (last) applyEvents(root, last, res.events);
      for (const wake of [...waiters]) wake();
      opts.onChange(false);
    });
    // (re)connected: it covers what comes after its header's revision; one read makes the state whole
    w.on('connected', (res: { header: { revision: string } }) => {
      live = true;
      from = BigInt(res.header.revision);
      opts.onChange(true);
    });
    w.on('connecting', () => (live = false));
    w.on('disconnected', () => (live = false));
    w.on('error', () => (live = false));
    watcher = w;
    const created = new Promise((resolve, reject) => {
      w.once('connected', resolve);
      w.once('error', reject);
    });
    await within(created, 2 * opts.callMs, 'watch').catch((e: Error) => {
      watcher = null;
      live = false;
      void w.cancel().catch(() => undefined);
      throw e;
    });
  };

  return {
    last: () => last,
    read,
    current,
    synced,
    async waitFor(what, ms) {
      const deadline = Date.now() + ms;
      let fresh = false;
      while (Date.now() < deadline && !closed) {
        const s = await (fresh ? read() : current()).catch(() => undefined);
        const v = s ? what(s) : undefined;
        if (v !== undefined) return v;
        fresh = !(await nextChange(Math.min(opts.pollMs, Math.max(1, deadline - Date.now()))));
      }
      return undefined;
    },
    async watch() {
      if (watcher || creating || closed) return;
      creating = true;
      try {
        await create();
      } finally {
        creating = false;
      }
    },
    watching: () => watcher !== null,
    async close() {
      closed = true;
      await watcher?.cancel().catch(() => undefined);
    },
  };
}
