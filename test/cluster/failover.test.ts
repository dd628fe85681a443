// Several servers through a real etcd: membership, ownership and fencing tokens, failover on
// server loss, handovers (ARMFOVER, arms group move), start failures, RECOVER, failback, and an
// etcd that is not there yet. Three real armsd per test, one shared three-member etcd.
import * as fs from 'node:fs';
import * as path from 'node:path';
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
  journalKill,
  killServer,
  makeHome,
  owner,
  proxy,
  Server,
  startEtcd,
  startServer,
  stopServers,
  waitFor,
} from './harness';

let etcd: Etcd;
beforeAll(async () => {
  if (!haveEtcd) throw new Error('etcd is not installed (apt-get install etcd-server; .ci/run does it)');
  etcd = await startEtcd();
}, 60_000);
afterAll(async () => {
  await stopServers();
  await etcd?.stop();
});

const ABC = ['A', 'B', 'C'];

/** `extra`: more arms.yaml lines for some servers (an http: section) */
async function threeServers(groups: Parameters<typeof clusterSpec>[1], ttl = 2, extra: Record<string, string> = {}) {
  const spec = clusterSpec(ABC, groups, ttl);
  const servers: Record<string, Server> = {};
  const homes: Record<string, string> = {};
  for (const n of ABC) homes[n] = makeHome(spec, n, etcd.endpoints, extra[n]);
  for (const n of ABC) servers[n] = await startServer(spec, n, homes[n]);
  // every server sees the three up
  for (const n of ABC) await waitFor(() => clusterView(servers[n]), (v) => v.state === 'joined' && v.servers.every((s) => s.up), 20_000, `${n} joined`);
  return { spec, servers, homes };
}

const lines = (spec: ReturnType<typeof clusterSpec>, what?: string) => journal(spec).filter((e) => !what || e.what === what).map((e) => `${e.server} ${e.what} ${e.group} ${e.how}`);

describe('a group on three servers', () => {
  it('starts on the first server of its policy from any server; every server shows the servers and the owner (B also over HTTP, and acts through it)', async () => {
    const { spec, servers } = await threeServers({ G1: { policy: ['A', 'B', 'C'] } }, 2, { B: 'http: { listen: "127.0.0.1:0" }\n' });
    const r = await run('arms', ['group', 'start', 'G1'], servers.C.env);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('group G1 is online on A');
    const start = journal(spec).find((e) => e.what === 'start')!;
    expect(start).toMatchObject({ server: 'A', group: 'G1', how: 'START' });
    expect(start.rest).toBe('server=HOME prev=');
    for (const n of ABC) {
      const v = await clusterView(servers[n]);
      expect(v.servers.map((s) => [s.name, s.up, s.groups])).toEqual([
        ['A', true, ['G1']],
        ['B', true, []],
        ['C', true, []],
      ]);
      expect(v.groups).toEqual([{ name: 'G1', state: 'online', owner: 'A', fence: start.fence, error: null }]);
    }
    // the text status too
    const text = await run('arms', ['status'], servers.B.env);
    expect(text.stdout).toMatch(/cluster t\S+: joined/);
    expect(text.stdout).toMatch(/G1\s+online on A/);
    // stopped from yet another server: the stop script runs on A
    const stop = await run('arms', ['group', 'stop', 'G1'], servers.B.env);
    expect(stop.code).toBe(0);
    expect(lines(spec)).toEqual(['A start G1 START', 'A online G1 START', 'A stop G1 GROUPSTOP', 'A offline G1 GROUPSTOP']);
    expect(await owner(servers.C, 'G1')).toMatchObject({ state: 'offline', owner: null });

    // B's HTTP API shows every server and acts where the group is, as its pipe does.
    const base = ((await call(servers.B.pipe, 'ping', {})) as { http: string }).http;
    const token = fs.readFileSync(path.join(servers.B.home, 'http.token'), 'utf8').trim();
    const api = async (p: string, body?: unknown) => {
      const r = await fetch(new URL(p, base), { method: body ? 'POST' : 'GET', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: body ? JSON.stringify(body) : undefined });
      return { status: r.status, body: (await r.json()) as any };
    };
    const hStart = await api('/api/v1/groups/G1/start', { wait: true });
    expect(hStart.status, JSON.stringify(hStart.body)).toBe(200);
    const servs = await api('/api/v1/servers');
    expect(servs.body.map((v: any) => [v.name, v.self, v.state, v.groups])).toEqual([
      ['A', false, 'up', ['G1']],
      ['B', true, 'up', []],
      ['C', false, 'up', []],
    ]);
    expect(servs.body[1].pid).toBe(servers.B.proc!.pid);
    expect((await api('/api/v1/groups/G1')).body).toMatchObject({ name: 'G1', state: 'online', owner: 'A', here: 'offline' });
    const move = await api('/api/v1/groups/G1/move', { to: 'C', wait: true });
    expect(move.status, JSON.stringify(move.body)).toBe(200);
    expect((await api('/api/v1/groups/G1')).body).toMatchObject({ state: 'online', owner: 'C', here: 'offline' });
    const hStop = await api('/api/v1/groups/G1/stop', { wait: true });
    expect(hStop.status, JSON.stringify(hStop.body)).toBe(200);
    expect((await api('/api/v1/groups/G1')).body).toMatchObject({ state: 'offline', owner: null });
    expect((await api('/api/v1/status')).body.cluster).toMatchObject({ name: spec.name, state: 'joined', problem: null });
    // Each ran on the group's server, none on B.
    expect(lines(spec).slice(4)).toEqual([
      'A start G1 START',
      'A online G1 START',
      'A stop G1 GROUPMOVE',
      'A offline G1 GROUPMOVE',
      'C start G1 START',
      'C online G1 START',
      'C stop G1 GROUPSTOP',
      'C offline G1 GROUPSTOP',
    ]);
  });

  it('server loss: the next live server of the policy takes the group with FAILOVER, CLP_SERVER_PREV and OTHER; a higher fencing token; RECOVER when the server returns, the group stays', async () => {
    const { spec, servers, homes } = await threeServers({ G1: { policy: ['A', 'B', 'C'] }, G2: { policy: ['A', 'C', 'B'] } });
    expect((await run('arms', ['group', 'start', 'G1'], servers.B.env)).code).toBe(0);
    expect((await run('arms', ['group', 'start', 'G2'], servers.B.env)).code).toBe(0);
    const before = (await owner(servers.B, 'G1')).fence!;
    await killServer(servers.A);
    journalKill(spec, servers.A);
    await waitFor(() => owner(servers.B, 'G1'), (o) => o.state === 'online' && o.owner === 'B', 20_000, 'G1 on B');
    await waitFor(() => owner(servers.B, 'G2'), (o) => o.state === 'online' && o.owner === 'C', 20_000, 'G2 on C');
    const j = journal(spec);
    const g1 = j.filter((e) => e.group === 'G1' && e.what === 'start').at(-1)!;
    expect(g1).toMatchObject({ server: 'B', how: 'FAILOVER' });
    expect(g1.rest).toBe('server=OTHER prev=A');
    expect(BigInt(g1.fence)).toBeGreaterThan(BigInt(before));
    expect(j.filter((e) => e.group === 'G2' && e.what === 'start').at(-1)).toMatchObject({ server: 'C', how: 'FAILOVER', rest: 'server=OTHER prev=A' });
    const v = await clusterView(servers.C);
    expect(v.servers.find((s) => s.name === 'A')).toMatchObject({ up: false, groups: [] });

    // A comes back: its start scripts run with RECOVER as a hook; the groups stay where they are
    servers.A = await startServer(spec, 'A', homes.A);
    await waitFor(() => Promise.resolve(lines(spec).filter((l) => l.startsWith('A start') && l.endsWith('RECOVER'))), (x) => x.length === 2, 20_000, 'RECOVER on A');
    await waitFor(() => clusterView(servers.A), (x) => x.state === 'joined', 10_000, 'A joined');
    expect(await owner(servers.A, 'G1')).toMatchObject({ owner: 'B', state: 'online' });
    expect(await owner(servers.A, 'G2')).toMatchObject({ owner: 'C', state: 'online' });
    const check = checkJournal(journal(spec));
    expect(check.problems).toEqual([]);
    expect(check.takeovers).toBe(2);
  });

  it('ARMFOVER and arms group move hand over through the owner: GROUPFAILOVER then FAILOVER, GROUPMOVE then START; asked from any server', async () => {
    const { spec, servers } = await threeServers({ G1: { policy: ['A', 'B', 'C'] } });
    expect((await run('arms', ['group', 'start', 'G1'], servers.A.env)).code).toBe(0);
    // ARMFOVER on C (not the owner): A stops, B (next after A) starts
    const f = await run('ARMFOVER', ['/W', 'G1'], servers.C.env);
    expect(f.stderr).toBe('');
    expect(f.code).toBe(0);
    expect(f.stdout).toContain('online on B');
    // move to a named server, asked on the owner itself
    const m = await run('arms', ['group', 'move', 'G1', 'C'], servers.B.env);
    expect(m.code).toBe(0);
    expect(m.stdout).toContain('online on C');
    // move without a server: the next one after C in the policy (wrapping: A)
    const m2 = await run('arms', ['group', 'move', 'G1'], servers.A.env);
    expect(m2.code).toBe(0);
    expect(m2.stdout).toContain('online on A');
    expect(lines(spec)).toEqual([
      'A start G1 START',
      'A online G1 START',
      'A stop G1 GROUPFAILOVER',
      'A offline G1 GROUPFAILOVER',
      'B start G1 FAILOVER',
      'B online G1 FAILOVER',
      'B stop G1 GROUPMOVE',
      'B offline G1 GROUPMOVE',
      'C start G1 START',
      'C online G1 START',
      'C stop G1 GROUPMOVE',
      'C offline G1 GROUPMOVE',
      'A start G1 START',
      'A online G1 START',
    ]);
    const starts = journal(spec).filter((e) => e.what === 'start');
    expect(starts.map((e) => e.rest)).toEqual(['server=HOME prev=', 'server=OTHER prev=A', 'server=OTHER prev=B', 'server=HOME prev=C']);
    expect(checkJournal(journal(spec)).problems).toEqual([]);
    // bad requests: a server not in the policy, an unknown group
    const bad = await run('arms', ['group', 'move', 'G1', 'Z'], servers.B.env);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('not in its policy');
    const unknown = await run('arms', ['group', 'move', 'NOPE'], servers.B.env);
    expect(unknown.code).toBe(4);
    // and on the pipe: a bad argument is a usage answer, the service unharmed
    await expect(call(servers.B.pipe, 'group.move', { name: 'G1', to: 5 })).rejects.toMatchObject({ message: '"to" must be a string' });
    await expect(call(servers.B.pipe, 'group.failover', { name: 'G1', force: 'yes' })).rejects.toMatchObject({ message: '"force" must be true or false' });
    expect(await owner(servers.B, 'G1')).toMatchObject({ owner: 'A', state: 'online' });
  });

  it('a failover loop between servers stops at maxFailovers, counted on the whole cluster (not per server)', async () => {
    const { spec, servers } = await threeServers({ G1: { policy: ['A', 'B'], settings: 'maxFailovers: 2\n' } });
    expect((await run('arms', ['group', 'start', 'G1'], servers.C.env)).code).toBe(0);
    expect((await run('ARMFOVER', ['/W', 'G1'], servers.C.env)).stdout).toContain('online on B');
    expect((await run('ARMFOVER', ['/W', 'G1'], servers.C.env)).stdout).toContain('online on A');
    // A handed the group over once only, B once: counted per server, a third would pass
    const third = await run('ARMFOVER', ['/W', 'G1'], servers.C.env);
    expect(third.code).toBe(1);
    expect(third.stderr).toMatch(/failover limit reached \(2 of 2 on the cluster within 3600 s\): it stays here/);
    expect(await owner(servers.B, 'G1')).toMatchObject({ owner: 'A', state: 'online' });
    // the alert reaches its file a moment after the answer
    await waitFor(async () => readLog(servers.A.home, 'alert').some((r) => /failover limit reached/.test(r.msg)), (x) => x, 5000, 'the alert');
    // a move is not a failover; the count holds across it
    expect((await run('arms', ['group', 'move', 'G1', 'B'], servers.C.env)).code).toBe(0);
    const fourth = await run('ARMFOVER', ['/W', 'G1'], servers.A.env);
    expect(fourth.code).toBe(1);
    expect(fourth.stderr).toMatch(/failover limit reached \(2 of 2 on the cluster/);
    expect(lines(spec, 'start')).toEqual(['A start G1 START', 'B start G1 FAILOVER', 'A start G1 FAILOVER', 'B start G1 START']);
  });

  it('a start that fails moves on to the next server; when every server fails the group is in error everywhere, with an alert; arms group start tries again', async () => {
    const { spec, servers } = await threeServers({ G1: { policy: ['A', 'B', 'C'] } });
    fs.writeFileSync(path.join(spec.control, 'fail.A.G1'), '');
    expect((await run('arms', ['group', 'start', 'G1'], servers.A.env)).code).toBe(0);
    expect(lines(spec, 'start')).toEqual(['A start G1 START', 'B start G1 START']);
    expect(await owner(servers.A, 'G1')).toMatchObject({ owner: 'B', state: 'online' });
    // clean-up stop on A after its failed start
    expect(lines(spec)).toContain('A stop G1 GROUPFAILOVER');

    fs.writeFileSync(path.join(spec.control, 'fail.B.G1'), '');
    fs.writeFileSync(path.join(spec.control, 'fail.C.G1'), '');
    const f = await run('ARMFOVER', ['/W', 'G1'], servers.A.env);
    expect(f.code).toBe(1);
    expect(f.stderr).toContain('in error');
    for (const n of ABC) {
      const o = await owner(servers[n], 'G1');
      expect(o).toMatchObject({ state: 'error', owner: null, error: expect.stringContaining('the start failed on every server of its policy') });
      expect(o.error!.match(/\((.*)\)/)![1].split(', ').sort()).toEqual(['A', 'B', 'C']);
    }
    await waitFor(async () => ABC.flatMap((n) => readLog(servers[n].home, 'alert')).filter((r) => /in error on the whole cluster/.test(r.msg)), (x) => x.length >= 1, 5000, 'the alert');
    const status = await run('arms', ['status'], servers.C.env);
    expect(status.stdout).toMatch(/G1\s+error/);

    // fixed on C: an operator's start tries again from the top of the policy
    fs.rmSync(path.join(spec.control, 'fail.C.G1'));
    const again = await run('arms', ['group', 'start', 'G1'], servers.B.env);
    expect(again.stdout + again.stderr).toContain('online on C');
    expect(again.code).toBe(0);
    expect(checkJournal(journal(spec)).problems).toEqual([]);
  });

  it('failback: true brings the group back to its first server when it returns', async () => {
    const { spec, servers, homes } = await threeServers({ G1: { policy: ['A', 'B'], settings: 'failback: true\n' } });
    expect((await run('arms', ['group', 'start', 'G1'], servers.A.env)).code).toBe(0);
    await killServer(servers.A);
    journalKill(spec, servers.A);
    await waitFor(() => owner(servers.B, 'G1'), (o) => o.state === 'online' && o.owner === 'B', 20_000, 'G1 on B');
    servers.A = await startServer(spec, 'A', homes.A);
    await waitFor(() => owner(servers.C, 'G1'), (o) => o.state === 'online' && o.owner === 'A', 20_000, 'G1 back on A');
    expect(lines(spec).filter((l) => !l.endsWith('RECOVER'))).toEqual([
      'A start G1 START',
      'A online G1 START',
      'A killed * *',
      'B start G1 FAILOVER',
      'B online G1 FAILOVER',
      'B stop G1 GROUPMOVE',
      'B offline G1 GROUPMOVE',
      'A start G1 START',
      'A online G1 START',
    ]);
    expect(checkJournal(journal(spec)).problems).toEqual([]);
  });

  it('ARMDOWN and a clean service stop hand the server\'s groups over (SERVERSHUTDOWN, then FAILOVER on the next server) before the power command', async () => {
    const spec = clusterSpec(ABC, { G1: { policy: ['A', 'B', 'C'] } });
    const servers: Record<string, Server> = {};
    const marker = path.join(spec.control, 'powered-off');
    for (const n of ABC) servers[n] = await startServer(spec, n, makeHome(spec, n, etcd.endpoints, `power:\n  shutdown: echo ${n} >> ${marker}\n`));
    for (const n of ABC) await waitFor(() => clusterView(servers[n]), (v) => v.state === 'joined' && v.servers.every((s) => s.up), 20_000, `${n} joined`);
    expect((await run('arms', ['group', 'start', 'G1'], servers.C.env)).code).toBe(0);
    const down = await run('ARMDOWN', [], servers.A.env);
    expect(down.code).toBe(0);
    await waitFor(() => owner(servers.C, 'G1'), (o) => o.owner === 'B' && o.state === 'online', 20_000, 'G1 on B');
    await waitFor(async () => (fs.existsSync(marker) ? fs.readFileSync(marker, 'utf8') : ''), (t) => t === 'A\n', 10_000, 'power command');
    expect((await clusterView(servers.C)).servers.find((s) => s.name === 'A')).toMatchObject({ up: false });
    // B's service stops cleanly: the group goes on to C (A has left)
    servers.B.proc!.kill('SIGTERM');
    await waitFor(() => owner(servers.C, 'G1'), (o) => o.owner === 'C' && o.state === 'online', 20_000, 'G1 on C');
    expect(lines(spec)).toEqual([
      'A start G1 START',
      'A online G1 START',
      'A stop G1 SERVERSHUTDOWN',
      'A offline G1 SERVERSHUTDOWN',
      'B start G1 FAILOVER',
      'B online G1 FAILOVER',
      'B stop G1 SERVERSHUTDOWN',
      'B offline G1 SERVERSHUTDOWN',
      'C start G1 FAILOVER',
      'C online G1 FAILOVER',
    ]);
    expect(journal(spec).filter((e) => e.what === 'start').map((e) => e.rest)).toEqual(['server=HOME prev=', 'server=OTHER prev=A', 'server=OTHER prev=B']);
  });

  it('etcd unreachable when armsd starts: the service runs, its groups stay offline, status says why; it joins when etcd answers', async () => {
    const spec = clusterSpec(['A', 'B'], { G1: { policy: ['A', 'B'], settings: 'autostart: true\n' } });
    const proxies = await Promise.all(etcd.endpoints.map((e) => proxy(e)));
    for (const p of proxies) p.cut(true);
    const a = await startServer(spec, 'A', makeHome(spec, 'A', proxies.map((p) => p.url)));
    const v = await waitFor(() => clusterView(a), (x) => x.state === 'connecting' && /etcd not reachable/.test(x.problem ?? ''), 15_000, 'connecting');
    expect(v.groups).toEqual([{ name: 'G1', state: 'offline', owner: null, fence: null, error: null }]);
    const text = await run('arms', ['status'], a.env);
    expect(text.stdout).toContain('etcd not reachable');
    const refused = await run('arms', ['group', 'start', 'G1'], a.env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('not in cluster');
    expect(journal(spec)).toEqual([]);
    for (const p of proxies) p.cut(false);
    await waitFor(() => owner(a, 'G1'), (o) => o.state === 'online' && o.owner === 'A', 30_000, 'G1 online after etcd answers');
    expect(lines(spec)).toEqual(['A start G1 START', 'A online G1 START']);
    await killServer(a);
    for (const p of proxies) p.close();
  });
});
