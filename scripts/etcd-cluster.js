#!/usr/bin/env node
// A throw-away etcd cluster on loopback for the tests, the benchmark and the cluster demo: three
// members (Debian's etcd-server, or any etcd 3.4+ on PATH) on 127.0.0.1, on free ports chosen now
// (never the default 2379/2380: a host's own etcd, or another test run, may hold those), their
// data in a folder of its own (tmpfs when there is one). The flags are platform.md §3.2's.
//
//   node scripts/etcd-cluster.js [DIR]   starts one, prints its client URLs, runs until Ctrl-C
//   require('./scripts/etcd-cluster.js').startEtcd({ dir })   the same from code
'use strict';

const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const INSTALL = 'etcd is not installed: apt-get install etcd-server (Debian/Ubuntu), or put an etcd 3.4+ binary on PATH (https://etcd.io/docs/latest/install/)';

function etcdBinary() {
  const r = spawnSync('etcd', ['--version'], { encoding: 'utf8' });
  return r.status === 0 ? 'etcd' : null;
}

/** A port free on 127.0.0.1 now. */
function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function healthy(url) {
  return new Promise((resolve) => {
    const req = http.get(`${url}/health`, { timeout: 300 }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve(res.statusCode === 200 && /"health":\s*"true"/.test(body)));
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Starts `members` etcd members and resolves once every one answers healthy (within `readyMs`).
 * Returns { endpoints, members: [{ name, client, peer, pid }], kill(i), start(i), stop() }.
 */
async function startEtcd(opts = {}) {
  if (!etcdBinary()) throw new Error(INSTALL);
  const count = opts.members ?? 3;
  const base = opts.dir ?? fs.mkdtempSync(path.join(fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir(), 'arms-etcd-'));
  fs.mkdirSync(base, { recursive: true });
  const token = `arms-${process.pid}-${Date.now()}`;
  const members = [];
  for (let i = 1; i <= count; i++) {
    const [c, p] = [await freePort(), await freePort()];
    members.push({ name: `m${i}`, client: `http://127.0.0.1:${c}`, peer: `http://127.0.0.1:${p}`, proc: null, pid: null });
  }
  const initial = members.map((m) => `${m.name}=${m.peer}`).join(',');
  const launch = (m, state) => {
    const args = [
      '--name', m.name, '--data-dir', path.join(base, m.name),
      '--listen-client-urls', m.client, '--advertise-client-urls', m.client,
      '--listen-peer-urls', m.peer, '--initial-advertise-peer-urls', m.peer,
      '--initial-cluster', initial, '--initial-cluster-token', token, '--initial-cluster-state', state,
      '--heartbeat-interval', String(opts.heartbeatMs ?? 100), '--election-timeout', String(opts.electionMs ?? 1000),
      '--logger', 'zap', '--log-outputs', path.join(base, `${m.name}.log`),
    ];
    m.proc = spawn('etcd', args, { stdio: 'ignore', detached: false });
    m.pid = m.proc.pid;
    m.exited = new Promise((r) => m.proc.once('exit', r));
  };
  for (const m of members) launch(m, 'new');
  const ready = async (list, ms) => {
    const deadline = Date.now() + ms;
    for (;;) {
      const ok = await Promise.all(list.map((m) => healthy(m.client)));
      if (ok.every(Boolean)) return;
      if (Date.now() > deadline) throw new Error(`etcd members not healthy within ${ms} ms (logs in ${base})`);
      await sleep(20);
    }
  };
  const cluster = {
    dir: base,
    endpoints: members.map((m) => m.client),
    members,
    /** kill -9 member i (0-based); resolves once it has exited */
    async kill(i) {
      const m = members[i];
      if (!m.proc || m.proc.exitCode !== null || m.proc.signalCode !== null) return;
      m.proc.kill('SIGKILL');
      await m.exited;
    },
    /** starts member i again on its data (it rejoins); `wait`: until the whole cluster is healthy */
    async start(i, wait = true) {
      launch(members[i], 'existing');
      if (wait) await ready(members, opts.readyMs ?? 20_000);
    },
    ready: (ms = 20_000) => ready(members, ms),
    async stop() {
      await Promise.all(
        members.map(async (m) => {
          if (!m.proc || m.proc.exitCode !== null || m.proc.signalCode !== null) return;
          m.proc.kill('SIGTERM');
          const t = setTimeout(() => m.proc.kill('SIGKILL'), 3000);
          await m.exited;
          clearTimeout(t);
        }),
      );
      if (!opts.dir) fs.rmSync(base, { recursive: true, force: true });
    },
  };
  try {
    await ready(members, opts.readyMs ?? 20_000);
  } catch (e) {
    await cluster.stop();
    throw e;
  }
  return cluster;
}

module.exports = { startEtcd, etcdBinary, freePort, INSTALL };

if (require.main === module) {
  startEtcd({ dir: process.argv[2] }).then(
    (c) => {
      console.log(c.endpoints.join(','));
      const end = () => c.stop().then(() => process.exit(0));
      process.on('SIGINT', end);
      process.on('SIGTERM', end);
    },
    (e) => {
      console.error(`etcd-cluster: ${e.message}`);
      process.exit(1);
    },
  );
}
