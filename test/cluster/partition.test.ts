// Partitions and the loss of etcd's quorum. Each server reaches etcd through TCP proxies the test
// controls; cutting them black-holes that server's etcd traffic (connections hang, as behind a
// dead switch). The cut-off owner must have stopped its groups (self-fence at ⅔ TTL) before the
// majority side starts them; healing leaves exactly one owner.
import * as fs from 'node:fs';
import { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call } from '../../src/client/client';
import { readLog, run } from '../helpers';
import {
  checkJournal,
  clusterSpec,
  clusterView,
  Etcd,
  haveEtcd,
  journal,
  makeHome,
  owner,
  Proxy,
  proxy,
  Server,
  startEtcd,
  startServer,
  stopServers,
  waitFor,
} from './harness';

let etcd: Etcd;
const proxies: Proxy[] = [];
beforeAll(async () => {
  if (!haveEtcd) throw new Error('etcd is not installed (apt-get install etcd-server; .ci/run does it)');
  etcd = await startEtcd();
}, 60_000);
afterAll(async () => {
  await stopServers();
  for (const p of proxies) p.close();
  await etcd?.stop();
});

async function behindProxies(groups: Parameters<typeof clusterSpec>[1], ttl = 2) {
  const spec = clusterSpec(['A', 'B', 'C'], groups, ttl);
  const servers: Record<string, Server> = {};
  const cut: Record<string, (on: boolean) => void> = {};
  for (const n of spec.servers) {
    const mine = await Promise.all(etcd.endpoints.map((e) => proxy(e)));
    proxies.push(...mine);
    cut[n] = (on) => mine.forEach((p) => p.cut(on));
    servers[n] = await startServer(spec, n, makeHome(spec, n, mine.map((p) => p.url)));
  }
  for (const n of spec.servers) await waitFor(() => clusterView(servers[n]), (v) => v.state === 'joined' && v.servers.every((s) => s.up), 20_000, `${n} joined`);
  return { spec, servers, cut };
}

const localState = async (s: Server, g: string) => ((await call(s.pipe, 'status', {}, 10_000)) as { groups: Array<{ name: string; state: string }> }).groups.find((x) => x.name === g)!.state;

describe('partitions', () => {
  it('the cut-off owner fences itself (its stop script ends before the takeover begins), the majority side takes over, healing leaves one owner', async () => {
    const { spec, servers, cut } = await behindProxies({ G1: { policy: ['A', 'B', 'C'] }, G2: { policy: ['A', 'C', 'B'] } });
    expect((await run('arms', ['group', 'start', 'G1'], servers.B.env)).code).toBe(0);
    expect((await run('arms', ['group', 'start', 'G2'], servers.B.env)).code).toBe(0);
    const cutAt = BigInt(Date.now()) * 1_000_000n;
    cut.A(true);
    await waitFor(() => owner(servers.C, 'G1'), (o) => o.owner === 'B' && o.state === 'online', 20_000, 'G1 on B');
    await waitFor(() => owner(servers.B, 'G2'), (o) => o.owner === 'C' && o.state === 'online', 20_000, 'G2 on C');
    // A stopped both (SERVERSHUTDOWN) on its own: its etcd was unreachable throughout
    const j = journal(spec);
    for (const [g, to] of [['G1', 'B'], ['G2', 'C']]) {
      const offA = j.find((e) => e.server === 'A' && e.group === g && e.what === 'offline');
      const startTo = j.find((e) => e.server === to && e.group === g && e.what === 'start');
      expect(offA?.how).toBe('SERVERSHUTDOWN');
      expect(offA!.t).toBeGreaterThan(cutAt);
      expect(startTo!.how).toBe('FAILOVER');
      expect(startTo!.rest).toBe('server=OTHER prev=A');
      // the stop on A ended before the start on the majority side began
      expect(offA!.t).toBeLessThan(startTo!.t);
      console.log(`${g}: A offline ${(Number(offA!.t - cutAt) / 1e6).toFixed(0)} ms after the cut; ${to} began its start ${(Number(startTo!.t - cutAt) / 1e6).toFixed(0)} ms after it (TTL 2000 ms)`);
    }
    expect(readLog(servers.A.home, 'alert').some((r) => /fences itself off cluster .*no successful keep-alive for \d+ ms/.test(r.msg))).toBe(true);
    // A, cut off, knows it is out
    expect((await clusterView(servers.A)).state).not.toBe('joined');
    expect(await localState(servers.A, 'G1')).toBe('offline');

    cut.A(false);
    await waitFor(() => clusterView(servers.A), (v) => v.state === 'joined' && v.servers.every((s) => s.up), 20_000, 'A back');
    await new Promise((r) => setTimeout(r, 2500)); // a TTL more: nothing moves by itself
    for (const n of spec.servers) {
      const v = await clusterView(servers[n]);
      expect(v.groups.map((g) => [g.name, g.owner, g.state])).toEqual([
        ['G1', 'B', 'online'],
        ['G2', 'C', 'online'],
      ]);
    }
    for (const n of spec.servers) {
      expect(await localState(servers[n], 'G1')).toBe(n === 'B' ? 'online' : 'offline');
      expect(await localState(servers[n], 'G2')).toBe(n === 'C' ? 'online' : 'offline');
    }
    const check = checkJournal(journal(spec));
    expect(check.problems).toEqual([]);
    expect(check.takeovers).toBe(2);
  });

  it('a cut-off standby changes nothing; the owner keeps its group', async () => {
    const { spec, servers, cut } = await behindProxies({ G1: { policy: ['A', 'B'] } });
    expect((await run('arms', ['group', 'start', 'G1'], servers.A.env)).code).toBe(0);
    cut.B(true);
    await waitFor(() => clusterView(servers.A), (v) => v.servers.find((s) => s.name === 'B')!.up === false, 20_000, 'B seen down');
    cut.B(false);
    await waitFor(() => clusterView(servers.B), (v) => v.state === 'joined', 20_000, 'B back');
    expect(await owner(servers.C, 'G1')).toMatchObject({ owner: 'A', state: 'online' });
    expect(journal(spec).map((e) => `${e.server} ${e.what}`)).toEqual(['A start', 'A online']);
  });

  it('loss of the etcd quorum stops every group on every server; when it returns the groups come back by policy', async () => {
    const { spec, servers } = await behindProxies({ G1: { policy: ['A', 'B', 'C'] }, G2: { policy: ['B', 'A', 'C'] }, G3: { policy: ['C', 'A', 'B'] } });
    for (const g of ['G1', 'G2', 'G3']) expect((await run('arms', ['group', 'start', g], servers.A.env)).code).toBe(0);
    const before = journal(spec).length;
    await Promise.all([etcd.kill(1), etcd.kill(2)]);
    for (const [n, g] of [['A', 'G1'], ['B', 'G2'], ['C', 'G3']]) {
      await waitFor(() => localState(servers[n], g), (st) => st === 'offline', 20_000, `${g} stopped on ${n}`);
    }
    const stops = journal(spec).slice(before).filter((e) => e.what === 'offline').map((e) => `${e.server} ${e.group} ${e.how}`).sort();
    expect(stops).toEqual(['A G1 SERVERSHUTDOWN', 'B G2 SERVERSHUTDOWN', 'C G3 SERVERSHUTDOWN']);
    for (const n of spec.servers) expect((await clusterView(servers[n])).state).not.toBe('joined');

    await Promise.all([etcd.start(1, false), etcd.start(2, false)]);
    await etcd.ready(30_000);
    for (const [g, n] of [['G1', 'A'], ['G2', 'B'], ['G3', 'C']]) {
      await waitFor(() => owner(servers.A, g), (o) => o.owner === n && o.state === 'online', 30_000, `${g} back on ${n}`);
    }
    const check = checkJournal(journal(spec));
    expect(check.problems).toEqual([]);
    fs.writeFileSync(spec.journal + '.checked', JSON.stringify(check));
  });
});

describe('lost answers', () => {
  // A take-over transaction that etcd committed but whose answer never reached the server (the
  // connection hung until the call's deadline, then healed before the lease ran out) leaves an
  // owner key bound to the live lease of a server that does not know it owns the group. Such a
  // moment cannot be hit on purpose through a proxy (the read just before the transaction needs its
  // answer), so the test writes, in one real etcd transaction, exactly what that lost transaction
  // wrote. Before the fix the group stayed "starting" on B for as long as B lived.
  it('an owner key whose take-over answer was lost is given back and the group starts (not stuck "starting")', async () => {
    const { spec, servers } = await behindProxies({ G1: { policy: ['B', 'A', 'C'] } });
    const root = `/arms/${spec.name}/`;
    const client = new Etcd3({ hosts: etcd.endpoints });
    try {
      const lease = (await client.get(`${root}server/B`).exec()).kvs[0].lease;
      const res = await client
        .if(`${root}owner/G1`, 'Create', '==', 0)
        .then(
          client.put(`${root}owner/G1`).value(JSON.stringify({ server: 'B', state: 'starting', at: new Date().toISOString() })).lease(String(lease)),
          client.put(`${root}group/G1`).value(JSON.stringify({ want: 'online', prev: null, target: null, event: null, failed: [], error: null })),
        )
        .commit();
      expect(res.succeeded).toBe(true);
      const planted = BigInt(res.header.revision);
      const o = await waitFor(() => owner(servers.A, 'G1'), (x) => x.state === 'online', 3 * spec.ttl * 1000, 'G1 online');
      expect(o.owner).toBe('B');
      expect(BigInt(o.fence!)).toBeGreaterThan(planted);
      expect(journal(spec).map((e) => `${e.server} ${e.what} ${e.how}`)).toEqual(['B start START', 'B online START']);
      expect(readLog(servers.B.home).some((r) => /take-over \(fencing token \d+\) went through at etcd but the answer was lost; released it/.test(r.msg))).toBe(true);
    } finally {
      client.close();
    }
  });
});
