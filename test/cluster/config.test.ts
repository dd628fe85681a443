// The cluster: and servers: sections as arms check reads them (every mistake with file:line, no
// etcd needed), and arms check --cluster comparing the servers' group definitions through etcd.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { envFor, run, tempDir } from '../helpers';
import { clusterSpec, clusterView, Etcd, haveEtcd, makeHome, startEtcd, startServer, stopServers, waitFor } from './harness';

function home(yaml: string, scripts = ['start.sh', 'stop.sh']): { home: string; file: string } {
  const h = tempDir();
  fs.mkdirSync(path.join(h, 'groups', 'G'), { recursive: true });
  for (const s of scripts) fs.writeFileSync(path.join(h, 'groups', 'G', s), 'exit 0\n');
  const file = path.join(h, 'arms.yaml');
  fs.writeFileSync(file, yaml);
  return { home: h, file };
}

describe('arms check and the cluster sections', () => {
  it('reports every mistake in cluster:, servers: and the policies with file:line', async () => {
    const { home: h, file } = home(
      [
        'server: A', //                                   1
        'cluster:', //                                    2
        '  name: bad name!', //                           3
        '  etcd: [ftp://x, "http://127.0.0.1:2379"]', //  4
        '  heartbeatTimeout: 1.5s', //                    5
        '  colour: red', //                               6
        'servers: [A, B, b]', //                          7
        'groups:', //                                     8
        '  G:', //                                        9
        '    policy: [A, Z]', //                          10
        '    start: start.sh', //                         11
        '    stop: stop.sh', //                           12
        '    failback: true', //                          13
      ].join('\n') + '\n',
    );
    const r = await run('arms', ['check'], envFor(h));
    expect(r.code).toBe(1);
    expect(r.stdout.trim().split('\n')).toEqual([
      `${file}:3: cluster.name: expected a name (letters, digits, "_", "-", "."), got "bad name!"`,
      `${file}:4: cluster.etcd[0]: "ftp://x" is not an etcd client URL (http://host:port or https://host:port)`,
      `${file}:5: cluster.heartbeatTimeout: expected whole seconds from 2s to 1h (it is the etcd lease TTL), got 1.5 s`,
      `${file}:6: cluster: unknown setting "colour" (expected one of: name, etcd, heartbeatTimeout, tls)`,
      `${file}:7: servers: "b" is listed twice (server names are case-insensitive)`,
      `${file}:9: groups.G.policy: Z is not in servers: [A, B]`,
    ]);
  });

  it('what is missing or out of place: name and etcd, servers: with a cluster, this server among them; servers: and failback without one', async () => {
    const a = home('server: C\ncluster:\n  heartbeatTimeout: 5s\ngroups:\n  G: { policy: [C], start: start.sh, stop: stop.sh }\n');
    const ra = await run('arms', ['check'], envFor(a.home));
    expect(ra.code).toBe(1);
    expect(ra.stdout.trim().split('\n')).toEqual([
      `${a.file}:3: cluster: "name" is required (the cluster's name: every server of one cluster uses the same)`,
      `${a.file}:3: cluster: "etcd" is required (the etcd client URLs, e.g. [http://10.0.0.11:2379])`,
      `${a.file}:3: servers: is required with a cluster: section (the names of the cluster's servers, e.g. [SERVERA, SERVERB])`,
    ]);
    const b = home('server: C\ncluster: { name: prod, etcd: ["http://127.0.0.1:1"] }\nservers: [A, B]\ngroups:\n  G: { policy: [A, B], start: start.sh, stop: stop.sh }\n');
    const rb = await run('arms', ['check'], envFor(b.home));
    expect(rb.stdout.trim()).toBe(`${b.file}:3: servers: this server (C) is not in the list [A, B] (set server: or armsd's --server)`);
    const c = home('server: A\nservers: [A, B]\ngroups:\n  G: { start: start.sh, stop: stop.sh, failback: true }\n');
    const rc = await run('arms', ['check'], envFor(c.home));
    expect(rc.stdout.trim().split('\n')).toEqual([
      `${c.file}:2: servers: only used with a cluster: section (several servers coordinated through etcd)`,
      `${c.file}:4: groups.G.failback: only used with a cluster: section`,
    ]);
    // a group may leave this server out of its policy in a cluster (the same definitions everywhere)
    const d = home('server: C\ncluster: { name: prod, etcd: ["http://127.0.0.1:1"], heartbeatTimeout: 3s }\nservers: [A, B, C]\ngroups:\n  G: { policy: [A, B], start: start.sh, stop: stop.sh }\n');
    const rd = await run('arms', ['check'], envFor(d.home));
    expect(rd).toMatchObject({ code: 0 });
    expect(rd.stdout).toMatch(/valid; server C, 1 group\(s\): G/);
    // armsd refuses a broken one
    const e = await run('armsd', [], envFor(a.home));
    expect(e.code).toBe(2);
    expect(e.stderr).toContain('3 mistakes in the config');
  });
});

describe.runIf(haveEtcd)('arms check --cluster', () => {
  let etcd: Etcd;
  afterAll(async () => {
    await stopServers();
    await etcd?.stop();
  });

  it('compares this server\'s group definitions with the ones each other server published', async () => {
    etcd = await startEtcd();
    const spec = clusterSpec(['A', 'B'], { G1: { policy: ['A', 'B'] }, G2: { policy: ['B', 'A'] } });
    const homeA = makeHome(spec, 'A', etcd.endpoints);
    const homeB = makeHome(spec, 'B', etcd.endpoints);
    const a = await startServer(spec, 'A', homeA);
    const b = await startServer(spec, 'B', homeB);
    await waitFor(() => clusterView(a), (v) => v.servers.every((s) => s.up), 20_000, 'both up');
    const same = await run('arms', ['check', '--cluster'], a.env);
    expect(same.stdout).toMatch(/^B: same group definitions \(hash \w+, published /m);
    expect(same.code).toBe(0);

    // A's file changes (not yet reloaded anywhere): G1's stop script and start timeout, a group only here
    fs.appendFileSync(path.join(homeA, 'groups', 'G1', 'stop.sh'), 'echo changed\n');
    const yaml = path.join(homeA, 'arms.yaml');
    fs.writeFileSync(yaml, fs.readFileSync(yaml, 'utf8').replace('timeouts: { start: 20s, stop: 20s }', 'timeouts: { start: 30s, stop: 20s }') + '  G3:\n    policy: [A]\n    dir: groups/G1\n    start: start.sh\n    stop: stop.sh\n');
    const differ = await run('arms', ['check', '--cluster'], a.env);
    expect(differ.code).toBe(1);
    const lines = differ.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/valid; server A, 3 group\(s\)/);
    expect(lines[1]).toMatch(/^B: 3 difference\(s\) \(published /);
    expect(lines.slice(2)).toEqual([
      expect.stringMatching(/^ {2}group G1\.stop: here "stop\.sh sha256:\w+", on B "stop\.sh sha256:\w+"$/),
      '  group G1.timeouts: here "30s/20s", on B "20s/20s"',
      '  group G3: defined here, not on B',
    ]);
    void b;
  });
});
