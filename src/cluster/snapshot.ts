// The cluster's state as this server knows it: one read of the whole prefix, then kept current by
// the watch's events (every change under the prefix, in revision order, without gaps while the
// watch stays connected), so that a decision after an event needs no second read. Every write made
// from it is a transaction guarded by what it read, so a stale snapshot costs a retry, never safety.
import type { IKeyValue } from './etcd';
import { json, text } from './etcd';
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

/** A watch response's events into the snapshot; those it already reflects are skipped. */
export function applyEvents(root: string, s: Snapshot, events: WatchEvent[], headerRev: bigint): void {
  for (const ev of events) {
    // a delete event's mod revision is the deletion's
    if (BigInt(ev.kv.mod_revision) <= s.rev) continue;
    apply(root, s, ev.kv, ev.type.toLowerCase() === 'delete');
  }
  if (headerRev > s.rev) s.rev = headerRev;
  s.readAt = new Date().toISOString();
}
