// This server in the cluster: membership (a lease), the groups it owns (owner keys, fencing
// tokens), self-fencing, failover by policy, and requests relayed to the owner through etcd.
//
// Level-triggered: every change under the cluster's prefix makes this server look at the whole
// state (kept current by the watch, snapshot.ts; read again by a timer every TTL/2 and whenever the
// watch reconnects) and do what the state asks of it. Only the
// owner acts on a group it owns; only the policy's first live candidate tries to take a group that
// has none; every write about a group is a transaction guarded by the owner key's create revision
// (the fencing token) or, for a group without owner, by the owner key's absence.
import { randomUUID } from 'node:crypto';
import type { GroupConfig } from '../service/group-config';
import type { Groups, Outcome } from '../service/groups';
import type { Logs } from '../service/log';
import type { StartEvent, StopFactor } from '../service/script-env';
import type { ClusterConfig } from './config';
import type { Definition } from './definitions';
import type { IOperation } from 'etcd3';
import { connectEtcd, Etcd3, IKeyValue, json, text } from './etcd';
import { Answer, GroupRecord, keys, OFFLINE, OwnerValue, Request, RequestOp } from './keys';
import { openView, Owner } from './snapshot';
import { grantLease, HeldLease } from './lease';
import * as policy from './policy';

export interface ClusterContext {
  config: ClusterConfig;
  servers: string[];
  server: string;
  groups: Groups;
  groupConfigs(): GroupConfig[];
  definitions(): { hash: string; groups: Record<string, Definition> };
  logs: Logs;
  version: string;
  /** the service did not stop cleanly last time: run every group's RECOVER hook once joined */
  recover: boolean;
}

export interface ServerStatus {
  name: string;
  up: boolean;
  since: string | null;
  groups: string[];
}

export interface ClusterGroupStatus {
  name: string;
  /** cluster-wide: online/starting/stopping/error on its owner, error when every server failed, else offline */
  state: 'offline' | 'starting' | 'online' | 'stopping' | 'error';
  owner: string | null;
  fence: string | null;
  error: string | null;
}

export interface ClusterStatus {
  name: string;
  server: string;
  /** joined: in the cluster; connecting: etcd not reached (yet); fenced: cut off, stopping its groups */
  state: 'connecting' | 'joined' | 'fenced';
  problem: string | null;
  heartbeatTimeout: number;
  /** when the cluster's state below was read from etcd */
  readAt: string | null;
  servers: ServerStatus[];
  groups: ClusterGroupStatus[];
}

export interface Reply {
  ok: boolean;
  message: string;
  /** answered once the request was taken, before its outcome */
  queued?: boolean;
  joined?: boolean;
}

export interface RequestOptions {
  wait: boolean;
  to?: string;
  force?: boolean;
  cause?: string;
  /** asked from the group's own script: carried out after it, never waited for */
  ownScript?: boolean;
}

export interface Cluster {
  status(): Promise<ClusterStatus>;
  request(group: string, op: RequestOp, opts: RequestOptions): Promise<Reply>;
  /** every group this server owns goes to the next server of its policy (ARMDOWN, service stop) */
  handOffAll(factor: StopFactor): Promise<Outcome[]>;
  /** the group definitions each server published */
  configs(): Promise<Record<string, { hash: string; groups: Record<string, Definition>; at: string }>>;
  /** publishes this server's group definitions again (after a reload) */
  republish(): Promise<void>;
  close(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function openCluster(ctx: ClusterContext): Cluster {
  const me = ctx.server.toUpperCase();
  const k = keys(ctx.config.name);
  const ttlS = ctx.config.heartbeatTimeout;
  const ttlMs = ttlS * 1000;
  const callMs = Math.max(500, Math.round(ttlMs / 3));
  const client: Etcd3 = connectEtcd(ctx.config, callMs);

  let phase: ClusterStatus['state'] = 'connecting';
  let problem: string | null = 'connecting to etcd';
  let lease: HeldLease | null = null;
  let closing = false;
  /** handing its groups off before the server goes down: takes nothing more */
  let leaving = false;
  let joinedOnce = false;
  /** groups this server owns, by upper-case name: the fencing token */
  const owned = new Map<string, string>();
  /** requests taken (by key: when), so that none is carried out twice; forgotten after 10 minutes */
  const taken = new Map<string, number>();
  const chains = new Map<string, Promise<unknown>>();
  const pending = new Map<string, number>();
  const handovers = new Map<string, Promise<Answer>>();

  const info = (msg: string, extra: Record<string, unknown> = {}) => ctx.logs.write('INFO', { src: 'cluster', ...extra }, msg);
  const alert = (level: 'WARN' | 'ERR', msg: string, extra: Record<string, unknown> = {}) => ctx.logs.alert(level, { src: 'cluster', ...extra }, msg);
  const now = () => new Date().toISOString();
  const config = (g: string) => ctx.groupConfigs().find((c) => c.name.toUpperCase() === g.toUpperCase());
  const policyOf = (g: string) => (config(g)?.policy ?? []).map((s) => s.toUpperCase());

  // ---- reading the cluster's state -------------------------------------------------------------

  const view = openView(client, k.root, { callMs, pollMs: Math.max(100, ttlMs / 8), onChange: (read) => schedule(read) });
  const current = view.current;
  const readSnapshot = view.read;

  const getOne = async (key: string): Promise<IKeyValue | undefined> => (await client.get(key).exec()).kvs[0];

  const candidate = (g: string, rec: GroupRecord, live: Set<string>) => policy.candidate(policyOf(g), rec, live);
  const everyFailed = (g: string, failed: string[]) => policy.everyFailed(policyOf(g), failed);
  const nextServer = (g: string, live: Set<string>) => policy.nextServer(policyOf(g), me, live);

  // ---- guarded writes --------------------------------------------------------------------------

  /**
   * Changes the group's record: guarded by its mod revision and by `fence` (the owner key's create
   * revision), or by the owner key's absence when `fence` is null. Retries when only the record
   * changed; false when the guard on the owner failed.
   */
  const updateRecord = async (
    g: string,
    fence: string | null,
    change: (r: GroupRecord) => GroupRecord | null,
    also: { deleteOwner?: boolean; ownerState?: OwnerValue['state']; known?: { rec: GroupRecord; rev: string } } = {},
  ): Promise<boolean> => {
    for (let attempt = 0; attempt < 20; attempt++) {
      // the record as last read, first: one round trip less when it has not changed
      let rec: GroupRecord;
      let rev: string;
      if (attempt === 0 && also.known) ({ rec, rev } = also.known);
      else {
        const kv = await getOne(k.group(g));
        rec = { ...OFFLINE, ...json<GroupRecord>(kv) };
        rev = kv?.mod_revision ?? '0';
      }
      const next = change(rec);
      if (next === null) return true;
      const ops: IOperation[] = [client.put(k.group(g)).value(JSON.stringify(next))];
      if (also.deleteOwner) ops.push(client.delete().key(k.owner(g)));
      if (also.ownerState && lease) ops.push(client.put(k.owner(g)).value(JSON.stringify({ server: me, state: also.ownerState, at: now() })).lease(lease.id));
      const res = await client
        .if(k.group(g), 'Mod', '==', rev)
        .and(k.owner(g), 'Create', '==', fence ?? 0)
        .then(...ops)
        .commit();
      if (res.succeeded) {
        // What this server just wrote, for the next decision before the watch brings it back.
        view.last()?.records.set(g, { rec: next, rev: String(res.header.revision) });
        if (also.deleteOwner) view.last()?.owners.delete(g);
        return true;
      }
      const owner = await getOne(k.owner(g));
      if ((owner?.create_revision ?? null) !== fence && !(fence === null && !owner)) return false;
    }
    return false;
  };

  /** The owner key's value (state), written only while it is still ours. */
  const putOwner = async (g: string, fence: string, state: OwnerValue['state'], error?: string): Promise<boolean> => {
    if (!lease) return false;
    const value: OwnerValue = { server: me, state, at: now(), ...(error ? { error } : {}) };
    const res = await client
      .if(k.owner(g), 'Create', '==', fence)
      .then(client.put(k.owner(g)).value(JSON.stringify(value)).lease(lease.id))
      .commit()
      .catch(() => ({ succeeded: false }));
    return res.succeeded;
  };

  // ---- one action at a time per group ----------------------------------------------------------

  const busy = (g: string) => (pending.get(g) ?? 0) > 0;
  const act = <T>(g: string, fn: () => Promise<T>): Promise<T> => {
    pending.set(g, (pending.get(g) ?? 0) + 1);
    const p = (chains.get(g) ?? Promise.resolve()).then(fn).finally(() => {
      pending.set(g, pending.get(g)! - 1);
      schedule();
    });
    // An etcd call that failed half-way: said here; the next look at the cluster's state heals it.
    chains.set(g, p.catch((e: Error) => info(`group ${config(g)?.name ?? g}: ${e.message}`, { group: config(g)?.name ?? g })));
    return p;
  };

  const outcome = (_g: string, o: Outcome, fence: string): Answer => ({ ok: o.ok, message: o.message, fence });

  /** Takes a group without owner: the owner key in a transaction, then the start script. */
  const acquire = async (g: string): Promise<void> => {
    if (phase !== 'joined' || !lease || owned.has(g)) return;
    const snap = await current();
    const known = snap.records.get(g) ?? { rec: { ...OFFLINE }, rev: '0' };
    const rec = known.rec;
    if (rec.want !== 'online' || rec.error || snap.owners.has(g) || candidate(g, rec, snap.servers) !== me) return;
    const value: OwnerValue = { server: me, state: 'starting', at: now() };
    // The record must be as read: the owner key is created only for what the cluster still wants.
    const res = await client
      .if(k.owner(g), 'Create', '==', 0)
      .and(k.group(g), 'Mod', '==', known.rev)
      .then(client.put(k.owner(g)).value(JSON.stringify(value)).lease(lease.id))
      .commit();
    if (!res.succeeded) return;
    const fence = String(res.header.revision);
    owned.set(g, fence);
    const name = config(g)!.name;
    const event: StartEvent = rec.event ?? (rec.prev ? 'FAILOVER' : 'START');
    info(`group ${name}: this server takes it (fencing token ${fence}, ${event}${rec.prev ? `, previous server ${rec.prev}` : ''})`, { group: name, fence });
    const o = await ctx.groups.start(name, event, { prevServer: rec.prev ?? undefined, fence }).queued;
    if (owned.get(g) !== fence) return; // fenced meanwhile: the fence has stopped it
    if (o.ok) {
      await updateRecord(g, fence, (r) => ({ ...r, want: 'online', prev: me, target: null, event: null, failed: [], error: null }), { ownerState: 'online', known });
      return;
    }
    // The start failed: clean up what it began, then give the group to the next server of the policy.
    const stopped = await ctx.groups.stop(name, 'GROUPFAILOVER').queued;
    if (owned.get(g) !== fence) return;
    if (!stopped.ok) {
      alert('ERR', `group ${name}: start failed and the stop script too; this server keeps the group in error (nothing else may take it while its resources may be held here)`, { group: name, event: 'group-error' });
      await putOwner(g, fence, 'error', stopped.message);
      return;
    }
    let allFailed: string | null = null;
    await updateRecord(
      g,
      fence,
      (r) => {
        const failed = [...new Set([...r.failed.map((s) => s.toUpperCase()), me])];
        allFailed = everyFailed(g, failed) ? `the start failed on every server of its policy (${failed.join(', ')})` : null;
        return { ...r, target: null, failed, error: allFailed };
      },
      { deleteOwner: true },
    );
    owned.delete(g);
    if (allFailed) alert('ERR', `group ${name} is in error on the whole cluster: ${allFailed}; "arms group start ${name}" tries again`, { group: name, event: 'group-error' });
    else info(`group ${name}: start failed here; the next server of its policy that is up takes it`, { group: name });
  };

  /** The group's failovers within its failoverWindow (ms since the epoch), from its record. */
  const recentFailovers = (g: string, rec: GroupRecord | undefined): number[] => {
    const since = Date.now() - (config(g)?.failoverWindow ?? 0) * 1000;
    return (rec?.failovers ?? []).filter((t) => t > since);
  };

  /** The owner stops the group and hands it on (ARMFOVER, move, server shutdown). `count`: a failover (ARMFOVER, /FOV, a monitor's), counted against maxFailovers. */
  const handover = async (g: string, factor: StopFactor, event: StartEvent, opts: { to?: string; force?: boolean; leaving?: boolean; count?: boolean }): Promise<Answer> => {
    handovers.delete(g);
    const fence = owned.get(g);
    const name = config(g)?.name ?? g;
    if (!fence) return { ok: false, message: `group ${name}: this server no longer owns it`, fence: '0' };
    const snap = view.last() ?? (await current());
    const live = snap.servers;
    let target: string | null = opts.to?.toUpperCase() ?? nextServer(g, live);
    if (opts.to) {
      if (!policyOf(g).includes(target!)) return { ok: false, message: `group ${name} cannot move to ${opts.to}: not in its policy [${policyOf(g).join(', ')}]`, fence };
      if (!live.has(target!)) return { ok: false, message: `group ${name} cannot move to ${opts.to}: that server is not up`, fence };
    }
    // Alone in the cluster: a failover starts it here again; a leaving server leaves it to whoever comes.
    if (!target && !opts.leaving) target = me;
    void putOwner(g, fence, 'stopping'); // for status only: the release below is guarded on its own
    const o = await ctx.groups.stop(name, factor).queued;
    if (owned.get(g) !== fence) return { ok: false, message: `group ${name}: this server fenced itself meanwhile`, fence };
    if (!o.ok && !opts.force) {
      await putOwner(g, fence, 'error', o.message);
      return { ok: false, message: o.message, fence };
    }
    if (!o.ok) alert('WARN', `group ${name}: the stop script failed; going on with the handover (/F)`, { group: name });
    const failovers = (r: GroupRecord) => (opts.count ? [...recentFailovers(g, r), Date.now()] : r.failovers);
    const done = await updateRecord(g, fence, (r) => ({ ...r, want: 'online', prev: me, target, event, failed: [], error: null, failovers: failovers(r) }), {
      deleteOwner: true,
      known: snap.records.get(g),
    });
    owned.delete(g);
    if (!done) return { ok: false, message: `group ${name}: the handover could not be written (this server's ownership ended)`, fence };
    info(`group ${name}: handed over (${factor}) to ${target ?? 'the next server that comes up'}`, { group: name, fence });
    return { ok: true, message: `group ${name} handed over to ${target ?? 'the next server that comes up'}`, fence, handedTo: target ?? undefined };
  };

  const stopAndRelease = async (g: string): Promise<Answer> => {
    const fence = owned.get(g);
    const name = config(g)?.name ?? g;
    if (!fence) return { ok: false, message: `group ${name}: this server no longer owns it`, fence: '0' };
    void putOwner(g, fence, 'stopping');
    const o = await ctx.groups.stop(name, 'GROUPSTOP').queued;
    if (owned.get(g) !== fence) return { ok: false, message: `group ${name}: this server fenced itself meanwhile`, fence };
    if (!o.ok) {
      await putOwner(g, fence, 'error', o.message);
      return outcome(g, o, fence);
    }
    await updateRecord(g, fence, (r) => ({ ...OFFLINE, failovers: r.failovers }), { deleteOwner: true, known: view.last()?.records.get(g) });
    owned.delete(g);
    return outcome(g, o, fence);
  };

  /** What the owner does for a request, local or relayed. `joined`: it joined a handover already waiting. */
  const perform = (g: string, op: RequestOp, opts: RequestOptions): { done: Promise<Answer>; joined: boolean } => {
    const name = config(g)!.name;
    const fence = owned.get(g) ?? '0';
    switch (op) {
      case 'start':
        return { done: act(g, async () => outcome(g, await ctx.groups.start(name).queued, fence)), joined: false };
      case 'restart':
        return { done: act(g, async () => outcome(g, await ctx.groups.restart(name).queued, fence)), joined: false };
      case 'stop':
        return { done: act(g, () => stopAndRelease(g)), joined: false };
      case 'failover':
      case 'move': {
        const waiting = handovers.get(g);
        if (waiting && op === 'failover') return { done: waiting, joined: true };
        if (op === 'failover') {
          // A failover loop between servers stops at the group's limit, counted on the whole
          // cluster: each handover writes its time into the group's record (only the owner hands over).
          const c = config(g)!;
          const recent = recentFailovers(g, view.last()?.records.get(g)?.rec);
          if (recent.length >= c.maxFailovers) {
            const message = `group ${name}: failover limit reached (${recent.length} of ${c.maxFailovers} on the cluster within ${c.failoverWindow} s): it stays here; ${opts.cause ?? 'ARMFOVER'}`;
            alert('ERR', message, { group: name });
            return { done: Promise.resolve({ ok: false, message, fence }), joined: false };
          }
        }
        const done = act(g, () =>
          op === 'failover' ? handover(g, 'GROUPFAILOVER', 'FAILOVER', { force: opts.force, count: true }) : handover(g, 'GROUPMOVE', 'START', { to: opts.to }),
        );
        if (op === 'failover') handovers.set(g, done);
        return { done, joined: false };
      }
    }
  };

  // ---- the loop ------------------------------------------------------------------------------

  let reconciling = false;
  let again = false;
  /** the next look reads the whole prefix (the timer's, and after the watch reconnects) */
  let readNext = true;
  const schedule = (read = false) => {
    if (read) readNext = true;
    if (closing) return;
    if (reconciling) {
      again = true;
      return;
    }
    reconciling = true;
    setImmediate(async () => {
      do {
        again = false;
        try {
          await reconcile();
        } catch (e) {
          if (phase === 'joined') info(`cluster state not read: ${(e as Error).message}`);
        }
      } while (again && !closing);
      reconciling = false;
    });
  };

  const reconcile = async () => {
    if (phase !== 'joined' || !lease || leaving) return;
    if (!view.watching()) void view.watch().catch(() => undefined); // its creation timed out when joining
    const read = readNext || !view.synced();
    readNext = false;
    const snap = read ? await readSnapshot() : view.last()!;
    if (phase !== 'joined' || !lease) return;
    for (const c of ctx.groupConfigs()) {
      const g = c.name.toUpperCase();
      const o = snap.owners.get(g);
      const fence = owned.get(g);
      if (fence) {
        // (a release under way in this group's action deletes the key a moment before it forgets it)
        if ((!o || o.fence !== fence) && !busy(g)) {
          // Asked of etcd itself first: what the watch brought may lag by an event.
          void act(g, async () => {
            if (owned.get(g) !== fence) return;
            if ((await getOne(k.owner(g)))?.create_revision === fence) return schedule(true); // the view lagged: read it whole
            owned.delete(g);
            // A release whose answer was lost (the group is stopped here, the key went at etcd).
            if (ctx.groups.list().find((x) => x.name === c.name)?.state === 'offline') {
              info(`group ${c.name}: released (the answer of its release was lost)`, { group: c.name });
              return;
            }
            // Our owner key is gone while we are joined and the group runs: only an operator deleting it does that.
            alert('ERR', `group ${c.name}: its owner key was removed behind this server's back; stopping it here`, { group: c.name, event: 'owner-lost' });
            void ctx.groups.fence(c.name, Date.now() + ttlMs / 3, 'owner key removed');
          });
          continue;
        }
        for (const r of snap.reqs.get(g) ?? []) takeRequest(g, r, fence);
        if (o && !busy(g)) heal(g, c.name, fence, o, snap.records.get(g));
        const better = c.failback && ctx.groups.list().find((x) => x.name === c.name)?.state === 'online' && !busy(g) ? policyOf(g).find((s) => snap.servers.has(s)) : undefined;
        if (better && better !== me && policyOf(g).indexOf(better) < policyOf(g).indexOf(me)) {
          info(`group ${c.name}: ${better} is back and comes first in the policy: moving the group back (failback)`, { group: c.name });
          void act(g, () => handover(g, 'GROUPMOVE', 'START', { to: better }));
        }
        continue;
      }
      if (o && o.value.server === me && o.lease !== lease.id) {
        // An owner key from this server's previous life (its service ended before the lease did).
        await client.if(k.owner(g), 'Create', '==', o.fence).then(client.delete().key(k.owner(g))).commit();
        info(`group ${c.name}: released the ownership left by this server's previous run`, { group: c.name });
        continue;
      }
      if (o && o.value.server === me && !busy(g)) {
        // Bound to this server's lease but not taken: the take-over transaction was committed by
        // etcd but its answer never came back (a deadline passed while the connection hung). Nothing
        // ran here; left alone, the key would hold the group "starting" for as long as the lease
        // lives. Given back; the policy decides again (a new token if this server takes it again).
        void act(g, () => releaseUntaken(g, c.name, o.fence));
        continue;
      }
      const local = ctx.groups.list().find((x) => x.name === c.name);
      if (local && local.state !== 'offline' && local.state !== 'error' && !busy(g)) {
        alert('ERR', `group ${c.name} runs here without this server owning it; stopping it`, { group: c.name, event: 'owner-lost' });
        void ctx.groups.fence(c.name, Date.now() + ttlMs / 3, 'not the owner');
        continue;
      }
      if (o) continue;
      const r = snap.records.get(g);
      if (!r || r.rec.want !== 'online' || r.rec.error || busy(g)) continue;
      const cand = candidate(g, r.rec, snap.servers);
      if (cand === me) void act(g, () => acquire(g)).catch((e: Error) => info(`group ${c.name}: not taken: ${e.message}`, { group: c.name }));
      // else: the servers left to try are down; the first of them to come back takes it
    }
    // Each request key is deleted as it is taken: one gone for minutes cannot come back.
    const shown = new Set([...snap.reqs.values()].flat().map((r) => r.key));
    for (const [key, at] of taken) if (at < Date.now() - 600_000 && !shown.has(key)) taken.delete(key);
    // Servers gone since the last look: down since now.
    for (const s of ctx.servers.map((x) => x.toUpperCase())) {
      const seen = snap.seen.get(s);
      if (!snap.servers.has(s) && seen?.value.up) {
        await client
          .if(k.seen(s), 'Mod', '==', seen.rev)
          .and(k.server(s), 'Create', '==', 0)
          .then(client.put(k.seen(s)).value(JSON.stringify({ up: false, since: now() })))
          .commit();
        info(`server ${s} is down`);
      }
    }
  };

  /**
   * An owned group whose action ended half-way (an etcd call failed after the script ran): what
   * etcd says is brought in line with what runs here. Online: the owner key and the record say so.
   * Offline (stopped, the release not written): released, the policy decides again.
   */
  const heal = (g: string, name: string, fence: string, o: Owner, r: { rec: GroupRecord; rev: string } | undefined) => {
    const local = ctx.groups.list().find((x) => x.name === name)?.state;
    if (local === 'online' && (o.value.state !== 'online' || r?.rec.prev !== me || r.rec.target || r.rec.failed.length)) {
      void act(g, () => updateRecord(g, fence, (x) => ({ ...x, want: 'online', prev: me, target: null, event: null, failed: [], error: null }), { ownerState: 'online', known: r }));
    } else if (local === 'error' && o.value.state !== 'error') {
      void act(g, () => putOwner(g, fence, 'error', 'see this server\'s log'));
    } else if (local === 'offline') {
      info(`group ${name}: stopped here but still owned (an etcd write failed): releasing it`, { group: name });
      void act(g, async () => {
        if (await updateRecord(g, fence, (x) => ({ ...x, target: null }), { deleteOwner: true, known: r })) owned.delete(g);
      });
    }
  };

  const releaseUntaken = async (g: string, name: string, fence: string) => {
    if (owned.has(g)) return;
    const res = await client.if(k.owner(g), 'Create', '==', fence).then(client.delete().key(k.owner(g))).commit();
    if (res.succeeded) {
      view.last()?.owners.delete(g);
      info(`group ${name}: its take-over (fencing token ${fence}) went through at etcd but the answer was lost; released it, the policy decides again`, { group: name, fence });
    }
  };

  const takeRequest = (g: string, r: { key: string; req: Request; id: string }, fence: string) => {
    if (taken.has(r.key)) return;
    taken.set(r.key, Date.now());
    const answer = async (a: Answer) => {
      await client
        .put(k.ans(r.id))
        .value(JSON.stringify(a))
        .lease(r.req.lease)
        .exec()
        .catch(() => undefined); // the asker is gone
    };
    void (async () => {
      await client.delete().key(r.key).exec().catch(() => undefined);
      const name = config(g)!.name;
      if (r.req.fence !== fence) {
        await answer({ ok: false, message: `group ${name} changed owner before the request arrived; ask again`, fence });
        return;
      }
      info(`group ${name}: ${r.req.op} asked by server ${r.req.from}${r.req.cause ? ` (${r.req.cause})` : ''}`, { group: name });
      const { done } = perform(g, r.req.op, { wait: true, to: r.req.to, force: r.req.force, cause: `${r.req.cause ?? r.req.op} (asked on ${r.req.from})` });
      await answer(await done.catch((e: Error) => ({ ok: false, message: e.message, fence })));
    })();
  };

  // ---- joining, and leaving when cut off -------------------------------------------------------

  const register = async (l: HeldLease) => {
    const defs = ctx.definitions();
    await client.put(k.config(me)).value(JSON.stringify({ ...defs, at: now() })).exec();
    await client.put(k.server(me)).value(JSON.stringify({ since: now(), pid: process.pid, version: ctx.version })).lease(l.id).exec();
    await client.put(k.seen(me)).value(JSON.stringify({ up: true, since: now() })).exec();
  };

  let told = '';
  /** the lease of before a fence, until etcd confirms it is revoked (its owner keys with it) */
  let stale: HeldLease | null = null;
  const join = async () => {
    while (!closing) {
      try {
        const l = await grantLease(client, ttlS, { fence: onFence });
        try {
          await register(l);
        } catch (e) {
          await l.revoke();
          throw e;
        }
        // Registered again before the old lease goes: the others never see this server down in
        // between (they would take the groups its policy gives it, e.g. when the quorum returns).
        if (stale && (await stale.revoke())) stale = null;
        lease = l;
        phase = 'joined';
        problem = null;
        told = '';
        info(`server ${me} joined cluster ${ctx.config.name} (heartbeat timeout ${ttlS} s)`);
        if (!joinedOnce && ctx.recover) {
          for (const c of ctx.groupConfigs().filter((x) => policyOf(x.name).includes(me))) {
            void act(c.name.toUpperCase(), () => ctx.groups.recover(c.name).queued);
          }
        }
        if (!joinedOnce) await autostart();
        joinedOnce = true;
        await view.watch().catch(() => undefined);
        schedule();
        return;
      } catch (e) {
        phase = 'connecting';
        problem = `etcd not reachable (${ctx.config.etcd.join(', ')}): ${(e as Error).message}`;
        if (told !== problem) alert('WARN', `server ${me} is not in cluster ${ctx.config.name} yet: ${problem}; its groups stay offline until it joins`, { event: 'not-joined' });
        told = problem;
        await sleep(Math.min(1000, ttlMs / 4));
      }
    }
  };

  /** Autostart groups are wanted online once, when the cluster first sees them. */
  const autostart = async () => {
    for (const c of ctx.groupConfigs().filter((x) => x.autostart)) {
      await client
        .if(k.group(c.name), 'Create', '==', 0)
        .then(client.put(k.group(c.name)).value(JSON.stringify({ ...OFFLINE, want: 'online' })))
        .commit();
    }
  };

  const onFence = (reason: string, deadline: number) => {
    const old = lease;
    lease = null;
    phase = 'fenced';
    problem = reason;
    alert('ERR', `server ${me} fences itself off cluster ${ctx.config.name}: ${reason}; its groups stop now (by ${Math.max(0, deadline - Date.now())} ms)`, { event: 'fence' });
    const names = new Set([...owned.keys()]);
    for (const s of ctx.groups.list()) if (s.state !== 'offline') names.add(s.name.toUpperCase());
    owned.clear();
    handovers.clear();
    void (async () => {
      await Promise.all([...names].map((g) => ctx.groups.fence(config(g)?.name ?? g, deadline, reason).catch(() => undefined)));
      info(`server ${me}: every group is stopped after the fence; rejoining when etcd answers`);
      // Everything is down: the old lease may end now (its owner keys with it) as soon as etcd hears us.
      stale = old;
      phase = 'connecting';
      void join();
    })();
  };

  const timer = setInterval(() => schedule(true), Math.max(500, ttlMs / 2));
  void join();

  // ---- requests from this server's pipe ----------------------------------------------------------

  /** Waits until the group is online (with a fencing token above `after`), or fails. */
  const waitOnline = async (g: string, after: string, ms: number): Promise<Reply> => {
    const name = config(g)!.name;
    const r = await view.waitFor<Reply>((s) => {
      const o = s.owners.get(g);
      const rec = s.records.get(g)?.rec;
      if (o && BigInt(o.fence) > BigInt(after) && o.value.state === 'online') return { ok: true, message: `group ${name} is online on ${o.value.server}` };
      if (o?.value.state === 'error') return { ok: false, message: `group ${name} is in error on ${o.value.server}: ${o.value.error ?? ''}` };
      if (rec?.error) return { ok: false, message: `group ${name} is in error: ${rec.error}` };
      if (!o && rec?.want === 'offline') return { ok: false, message: `group ${name} was stopped meanwhile` };
      return undefined;
    }, ms);
    return r ?? { ok: false, message: `group ${name} is not online after ${Math.round(ms / 1000)} s` };
  };

  const startTimeout = (g: string) => ((config(g)?.timeouts.start ?? 300) * (policyOf(g).length + 1) + (config(g)?.timeouts.stop ?? 300)) * 1000 + 2 * ttlMs;

  const request = async (group: string, op: RequestOp, opts: RequestOptions): Promise<Reply> => {
    const g = group.toUpperCase();
    const name = config(g)!.name;
    if (phase !== 'joined' || !lease) return { ok: false, message: `group ${name}: this server is not in cluster ${ctx.config.name} now (${problem}); ask another server` };
    for (let attempt = 0; attempt < 5; attempt++) {
      const snap = attempt === 0 ? await current() : await readSnapshot();
      const o = snap.owners.get(g);
      if (o && o.value.server === me && owned.get(g) !== o.fence) {
        // Taken a moment ago (the answer to the transaction is on its way), or being released.
        await sleep(50);
        continue;
      }
      if (o && o.value.server === me) {
        const { done, joined } = perform(g, op, opts);
        if (!opts.wait || opts.ownScript) {
          done.catch(() => undefined);
          return { ok: true, queued: true, joined, message: `group ${name}: ${op} queued` };
        }
        const a = await done;
        if (!a.ok) return a;
        return a.handedTo ? waitOnline(g, a.fence, startTimeout(g)) : { ok: true, message: a.message };
      }
      if (o) {
        const id = randomUUID();
        const req: Request = { op, fence: o.fence, from: me, lease: lease.id, to: opts.to, force: opts.force, cause: opts.cause };
        const res = await client.if(k.owner(g), 'Create', '==', o.fence).then(client.put(k.req(g, id)).value(JSON.stringify(req))).commit();
        if (!res.succeeded) continue;
        if (!opts.wait) return { ok: true, queued: true, message: `group ${name}: ${op} sent to ${o.value.server}` };
        // The answer, unless its owner goes away first (lost, cut off): then nobody will answer.
        let goneSince = 0;
        const a = await view.waitFor<Answer | { gone: true }>((s) => {
          const answer = s.answers.get(id);
          if (answer) return answer;
          const now = s.owners.get(g)?.fence;
          if (now === o.fence) goneSince = 0;
          else if (!goneSince) goneSince = Date.now();
          else if (Date.now() - goneSince > ttlMs) return { gone: true };
          return undefined;
        }, startTimeout(g));
        await client.delete().key(k.ans(id)).exec().catch(() => undefined);
        if (!a) return { ok: false, message: `group ${name}: no answer from ${o.value.server}` };
        if ('gone' in a) return { ok: false, message: `group ${name}: ${o.value.server} lost the group before it answered (${op} not done); see arms status` };
        if (!a.ok) return a;
        return a.handedTo ? waitOnline(g, a.fence, startTimeout(g)) : { ok: true, message: `${a.message} (on ${o.value.server})` };
      }
      // No owner: what the cluster wants of the group changes, and the policy does the rest.
      const rec = snap.records.get(g)?.rec ?? OFFLINE;
      if (op === 'move') return { ok: false, message: `group ${name} is offline: there is nothing to move (start it: arms group start ${name})` };
      if (op === 'stop') {
        if (rec.want === 'offline' && !rec.error) return { ok: true, message: `group ${name} is already offline` };
        if (!(await updateRecord(g, null, (r) => ({ ...OFFLINE, failovers: r.failovers })))) continue;
        info(`group ${name}: stopped (it was ${rec.error ? 'in error' : 'waiting for a server'})`, { group: name });
        return { ok: true, message: `group ${name} is offline` };
      }
      const event: StartEvent | null = op === 'failover' ? 'FAILOVER' : null;
      if (!(await updateRecord(g, null, (r) => ({ ...r, want: 'online', target: null, event, failed: [], error: null })))) continue;
      info(`group ${name}: ${op} asked here; the first live server of its policy starts it`, { group: name });
      if (!opts.wait || opts.ownScript) return { ok: true, queued: true, message: `group ${name}: ${op} queued` };
      return waitOnline(g, '0', startTimeout(g));
    }
    return { ok: false, message: `group ${name}: the cluster's state kept changing; ask again` };
  };

  return {
    async status() {
      const s = phase === 'joined' ? await Promise.race([current().catch(() => view.last()), sleep(callMs).then(() => view.last())]) : view.last();
      const servers = ctx.servers.map((n) => {
        const up = s?.servers.has(n.toUpperCase()) ?? false;
        return {
          name: n,
          up,
          since: s?.seen.get(n.toUpperCase())?.value.since ?? null,
          groups: [...(s?.owners.entries() ?? [])].filter(([, o]) => o.value.server === n.toUpperCase()).map(([g]) => config(g)?.name ?? g),
        };
      });
      const groups = ctx.groupConfigs().map((c): ClusterGroupStatus => {
        const o = s?.owners.get(c.name.toUpperCase());
        const rec = s?.records.get(c.name.toUpperCase())?.rec;
        return {
          name: c.name,
          state: o ? o.value.state : rec?.error ? 'error' : 'offline',
          owner: o?.value.server ?? null,
          fence: o?.fence ?? null,
          error: o?.value.error ?? rec?.error ?? null,
        };
      });
      return { name: ctx.config.name, server: me, state: phase, problem, heartbeatTimeout: ttlS, readAt: s?.readAt ?? null, servers, groups };
    },
    request: (group, op, opts) => request(group, op, opts).catch((e: Error) => ({ ok: false, message: `group ${group}: etcd did not answer: ${e.message}` })),
    async handOffAll(factor) {
      // Out of the candidates first, so that nobody hands a group back to this server.
      leaving = true;
      await client.delete().key(k.server(me)).exec().catch(() => undefined);
      await client.put(k.seen(me)).value(JSON.stringify({ up: false, since: now() })).exec().catch(() => undefined);
      const mine = [...owned.keys()];
      const out = await Promise.all(
        mine.map((g) =>
          act(g, () => handover(g, factor, 'FAILOVER', { force: true, leaving: true }))
            .then((a) => ({ ok: a.ok, state: 'offline' as const, message: a.message }))
            .catch((e: Error) => ({ ok: false, state: 'error' as const, message: e.message })),
        ),
      );
      // Whatever still runs here without being owned (a fence under way) stops too.
      return [...out, ...(await ctx.groups.stopAll(factor))];
    },
    async configs() {
      const res = await client.getAll().prefix(`${k.root}config/`).exec();
      const out: Record<string, { hash: string; groups: Record<string, Definition>; at: string }> = {};
      for (const kv of res.kvs) {
        const v = json<{ hash: string; groups: Record<string, Definition>; at: string }>(kv);
        if (v) out[text(kv.key).slice(`${k.root}config/`.length)] = v;
      }
      return out;
    },
    async republish() {
      await client.put(k.config(me)).value(JSON.stringify({ ...ctx.definitions(), at: now() })).exec().catch(() => undefined);
    },
    async close() {
      closing = true;
      clearInterval(timer);
      await view.close();
      const l = lease;
      lease = null;
      await l?.revoke();
      client.close();
    },
  };
}
