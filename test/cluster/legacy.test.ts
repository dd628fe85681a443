// The guide-style legacy group (examples/groups/legacy: START.BAT, STOP.BAT, movegroup.bat through
// the batch interpreter) on three servers: the branches written for a standby finally run for the
// reason they were written. Its data disk fails on A and B and works on C.
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { fromArmlog, readLog, ROOT } from "../helpers";
import { clusterSpec, clusterView, Etcd, haveEtcd, killServer, makeHome, owner, Server, startEtcd, startServer, stopServers, waitFor } from './harness';

// eslint-disable-next-line @typescript-eslint/no-var-requires
const { freePort } = require('../../scripts/etcd-cluster.js') as { freePort(): Promise<number> };

let etcd: Etcd;
beforeAll(async () => {
  if (!haveEtcd) throw new Error('etcd is not installed (apt-get install etcd-server; .ci/run does it)');
  etcd = await startEtcd();
}, 60_000);
afterAll(async () => {
  await stopServers();
  await etcd?.stop();
});

const get = (port: number) =>
  new Promise<string>((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: '/' }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve(body));
    }).on('error', reject);
  });

it('START.BAT on three servers: the disk fails on HOME (movegroup.bat asks ARMFOVER), B takes over with FAILOVER and stays (OTHER); B lost: A takes it back and passes it on, C takes over and the application answers', async () => {
  const legacy = path.join(ROOT, 'examples', 'groups', 'legacy');
  const files: Record<string, string> = {};
  for (const f of fs.readdirSync(legacy)) files[f] = fs.readFileSync(path.join(legacy, f), 'utf8');
  files['../web/server.js'] = fs.readFileSync(path.join(ROOT, 'examples', 'groups', 'web', 'server.js'), 'utf8');
  const spec = clusterSpec(['A', 'B', 'C'], {});
  const disk = path.join(path.dirname(spec.journal), 'disk');
  fs.mkdirSync(disk);
  spec.groups.LEGACY = {
    policy: ['A', 'B', 'C'],
    files,
    start: 'START.BAT',
    stop: 'STOP.BAT',
    // the shared disk can be brought up on C only (a switched disk another server still holds)
    settings: `disks:\n  - path: ${disk}\n    activate: test "$SRV_NAME" = C\n`,
  };
  const servers: Record<string, Server> = {};
  const ports: Record<string, number> = {};
  for (const n of spec.servers) {
    ports[n] = await freePort();
    servers[n] = await startServer(spec, n, makeHome(spec, n, etcd.endpoints), { WEB_PORT: String(ports[n]), WEB_DATA: disk });
  }
  for (const n of spec.servers) await waitFor(() => clusterView(servers[n]), (v) => v.state === 'joined' && v.servers.every((s) => s.up), 20_000, `${n} joined`);

  const { run } = await import('../helpers');
  expect((await run('arms', ['group', 'start', 'LEGACY', '--no-wait'], servers.C.env)).code).toBe(0);
  // A: HOME, disk FAILURE → movegroup.bat → ARMFOVER /F; B: FAILOVER, OTHER, disk FAILURE → stays
  await waitFor(() => owner(servers.A, 'LEGACY'), (o) => o.owner === 'B' && o.state === 'online', 30_000, 'LEGACY on B');
  const said = (n: string) => fromArmlog(servers[n].home).map((r) => r.msg);
  await waitFor(async () => said('B'), (m) => m.some((x) => /data disk not usable on OTHER/.test(x)), 15_000, 'B says OTHER');
  expect(said('A')).toEqual(expect.arrayContaining(['LEGACY: start script, normal start on HOME', 'LEGACY: data disk not usable on HOME', 'LEGACY: stop script (START, GROUPFAILOVER)']));
  expect(said('B')).toEqual(expect.arrayContaining(['LEGACY: start script, taking the group over (previous server: A)', 'LEGACY: data disk not usable on OTHER']));
  // the standby did not pass the group on
  await new Promise((r) => setTimeout(r, 1500));
  expect(await owner(servers.C, 'LEGACY')).toMatchObject({ owner: 'B', state: 'online' });
  expect(said('C')).toEqual([]);

  // B is lost: A (first in the policy) takes over with FAILOVER, its disk still fails and it is
  // HOME, so it passes the group on; C takes over with FAILOVER, its disk works, the application answers
  await killServer(servers.B);
  await waitFor(() => owner(servers.C, 'LEGACY'), (o) => o.owner === 'C' && o.state === 'online', 30_000, 'LEGACY on C');
  expect(said('A')).toEqual(expect.arrayContaining(['LEGACY: start script, taking the group over (previous server: B)', 'LEGACY: stop script (FAILOVER, GROUPFAILOVER)']));
  expect(said('C')).toEqual(expect.arrayContaining(['LEGACY: start script, taking the group over (previous server: A)', expect.stringMatching(/^LEGACY: application answers on port \d+/)]));
  expect(await get(ports.C)).toMatch(/hello from group LEGACY \(started as FAILOVER\), visit 1/);
  // and on A's request, the group stops on C: STOP.BAT ends the application
  expect((await run('arms', ['group', 'stop', 'LEGACY'], servers.A.env)).code).toBe(0);
  expect(said('C')).toEqual(expect.arrayContaining(['LEGACY: stop script (FAILOVER, GROUPSTOP)', 'LEGACY: stop script done']));
  await expect(get(ports.C)).rejects.toThrow();
});
