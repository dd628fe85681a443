// ARMRSP, the real binary against a real service: disks that stop being writable, hung checks,
// ping (loopback, and an address in network namespaces the test creates), TCP, NICs, HTTP, /A from
// the config, and ARMLOAD /R /FOV restarting it and then failing the group over.
import { ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call } from '../src/client/client';
import { COMMANDS, envFor, readLog, Result, ROOT, run, Service, sleep, startService, stopAll, tempDir } from './helpers';

interface MonitorResult {
  monitor: string;
  group: string | null;
  resource: string;
  kind: string;
  ok: boolean;
  detail: string;
  failures: number;
  at: string;
}
type Status = { groups: any[]; watches: any[]; monitors: MonitorResult[] };

const isRoot = process.getuid?.() === 0;
const hasPing = spawnSync('ping', ['-V']).error === undefined;
const hasIp = spawnSync('ip', ['-V']).error === undefined;
const linux = process.platform === 'linux';
const hasSetpriv = spawnSync('setpriv', ['--version']).error === undefined;
const hasCc = spawnSync(process.env.CC || 'cc', ['--version']).error === undefined;

const children = new Set<ChildProcess>();
afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  await stopAll();
});

async function status(svc: Service): Promise<Status> {
  return (await call(svc.pipe, 'status')) as Status;
}
async function results(svc: Service, monitor: string): Promise<MonitorResult[]> {
  return (await status(svc)).monitors.filter((m) => m.monitor === monitor);
}
async function until<T>(what: () => Promise<T>, ok: (v: T) => boolean, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await what();
    if (ok(v) || Date.now() > deadline) return v;
    await sleep(25);
  }
}

/** ARMRSP in the background (optionally inside a network namespace): its end, and its output so far. */
/** As root (the test's user here) unless `asNobody`: then as uid/gid 65534, which may not open ICMP sockets. */
function startRsp(args: string[], env: NodeJS.ProcessEnv, netns?: string, asNobody = false) {
  const bin = path.join(COMMANDS, 'ARMRSP');
  const argv = asNobody ? ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', bin, ...args] : [bin, ...args];
  const child = netns ? spawn('ip', ['netns', 'exec', netns, ...argv], { env }) : spawn(argv[0], argv.slice(1), { env });
  children.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const started = Date.now();
  const ended = new Promise<Result & { ms: number }>((resolve) =>
    child.on('close', (code, signal) => {
      children.delete(child);
      resolve({ code, signal, stdout, stderr, ms: Date.now() - started });
    }),
  );
  return { child, ended, out: () => stdout };
}

/** Failed-check lines in ARMRSP's output for one resource. */
const failedLines = (stdout: string, what: string) => stdout.split('\n').filter((l) => l.startsWith(`ARMRSP: ${what} FAILED`));

async function openPort(): Promise<{ port: number; server: net.Server }> {
  const server = net.createServer((c) => c.destroy());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as net.AddressInfo).port, server };
}
async function closedPort(): Promise<number> {
  const { port, server } = await openPort();
  await new Promise((r) => server.close(r));
  return port;
}

describe('ARMRSP', () => {
  let svc: Service;
  beforeAll(async () => {
    svc = await startService({ config: 'syslog: false\n' });
  });

  it('usage: /? prints it; mistakes and nothing to check exit 2', async () => {
    const help = await run('ARMRSP', ['/?'], svc.env);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^usage: ARMRSP \[\/A\] \[\/DISK path/);
    for (const [args, msg] of [
      [[], /nothing to check: give \/A or at least one/],
      [['/DISK'], /option \/DISK needs a value/],
      [['/DISK', '/tmp/a\nb'], /\/DISK "\/tmp\/a\\nb": a folder with a line break in its path cannot be checked/],
      [['/IP', '-f'], /\/IP needs an address/],
      [['/IP', 'a b'], /\/IP needs an address/],
      [['/IP', 'host:99999'], /\/IP needs an address/],
      [['/HTTP', 'ftp://x/'], /\/HTTP needs an http:\/\/ or https:\/\/ URL/],
      [['/EXPECT', 'x', '/HTTP', 'http://127.0.0.1/'], /\/EXPECT applies to the \/HTTP just before it/],
      [['/DISK', '/tmp', '/INT', '0'], /\/INT needs a number of seconds from 0.1/],
      [['/DISK', '/tmp', '/TIMEOUT', 'soon'], /\/TIMEOUT needs a number of seconds/],
      [['/DISK', '/tmp', '/N', '0'], /\/N needs a whole number from 1 to 1000/],
      [['/DISK', '/tmp', '/FREE', 'lots'], /\/FREE needs a size/],
      [['/DISK', '/tmp', '/Q'], /unknown option "\/Q"/],
      [['/tmp/x'], /unexpected argument "\/tmp\/x": resources are named with/],
      [['/A'], /\/A checks the resources of the caller's group: run it from a group script \(ARMS_GROUPNAME is not set\)/],
    ] as const) {
      const r = await run('ARMRSP', [...args], svc.env);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr, args.join(' ')).toMatch(msg);
    }
  });

  it('options repeat, in any case and order, with POSIX long forms; /FREE applies to the /DISK before it', async () => {
    const r = await run('ARMRSP', ['--cmd', 'exit 0', '/cmd', 'exit 5', '--interval=0.1', '--count', '2'], svc.env, { timeoutMs: 10_000 });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('ARMRSP: cmd exit 5 failed 2 checks in a row: exit code 5\n');
    expect(r.stdout).toMatch(/checking 2 resources every 0.1 s \(timeout 10 s; exit after 2 failed checks in a row\): cmd exit 0, cmd exit 5/);
    const roomy = tempDir();
    const full = tempDir();
    const f = await run('ARMRSP', ['/DISK', roomy, '/FREE', '1KB', '/DISK', full, '/FREE', '1000000TB', '/INT', '0.1', '/N', '1'], svc.env, { timeoutMs: 10_000 });
    expect(f.code).toBe(1);
    expect(f.stderr).toMatch(new RegExp(`^ARMRSP: disk ${full} failed 1 check in a row: [\\d.]+ [KMGTP]?B free, below the threshold of 976.6 PB\\n$`));
    // /FREE before any /DISK: every disk without its own
    const all = await run('ARMRSP', ['/FREE', '1000000TB', '/DISK', roomy, '/N', '1'], svc.env, { timeoutMs: 10_000 });
    expect(all.stderr).toMatch(/below the threshold of 976.6 PB/);
  });

  it('a disk folder that is removed: exit 1 after exactly /N failed checks, named on stderr and in the alert log', async () => {
    const disk = tempDir();
    const rsp = startRsp(['/DISK', disk, '/INT', '0.2', '/N', '3'], { ...svc.env, ARMS_WATCH_ID: 'DISKGONE' });
    const first = await until(() => results(svc, 'DISKGONE'), (r) => r.length > 0 && r[0].ok);
    expect(first).toMatchObject([{ kind: 'disk', resource: disk, ok: true, failures: 0, group: null, detail: expect.stringMatching(/^write, fsync, read back, delete in \d+ ms$/) }]);
    fs.rmSync(disk, { recursive: true });
    const r = await rsp.ended;
    expect(r.code).toBe(1);
    const reason = `the folder ${disk} does not exist (ENOENT)`;
    expect(r.stderr).toBe(`ARMRSP: disk ${disk} failed 3 checks in a row: ${reason}\n`);
    expect(failedLines(r.stdout, `disk ${disk}`)).toEqual([1, 2, 3].map((n) => `ARMRSP: disk ${disk} FAILED (${n} of 3): ${reason}`));
    expect(await results(svc, 'DISKGONE')).toMatchObject([{ ok: false, failures: 3, detail: reason }]);
    const alerts = readLog(svc.home, 'alert').filter((l) => l.src === 'ARMRSP' && l.msg.startsWith('ARMRSP DISKGONE:'));
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ msg: `ARMRSP DISKGONE: disk ${disk} failed 3 checks in a row: ${reason}; exiting`, level: 50 });
  });

  it.skipIf(!isRoot || !linux)('a full tmpfs and a read-only one fail the disk check (root: permissions would not stop it)', async () => {
    const dir = tempDir('arms-tmpfs-');
    if (spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', dir]).status !== 0) return void console.warn('skipped: cannot mount a tmpfs here');
    try {
      spawnSync('dd', ['if=/dev/zero', `of=${path.join(dir, 'fill')}`, 'bs=4k'], { stdio: 'ignore' });
      const full = await run('ARMRSP', ['/DISK', dir, '/INT', '0.1', '/N', '2'], svc.env, { timeoutMs: 10_000 });
      expect(full.code).toBe(1);
      expect(full.stderr).toMatch(new RegExp(`^ARMRSP: disk ${dir} failed 2 checks in a row: cannot write the probe file .*ENOSPC`));
      expect(fs.readdirSync(dir)).toEqual(['fill']); // the probe file is not left behind
      fs.unlinkSync(path.join(dir, 'fill'));
      execFileSync('mount', ['-o', 'remount,ro', dir]);
      const ro = await run('ARMRSP', ['/DISK', dir, '/INT', '0.1', '/N', '2'], svc.env, { timeoutMs: 10_000 });
      expect(ro.code).toBe(1);
      expect(ro.stderr).toMatch(/cannot create the probe file .*EROFS/);
    } finally {
      spawnSync('umount', ['-l', dir]);
    }
  });

  it.skipIf(!linux)('a hung disk (its probe file is a FIFO nobody reads) fails at the timeout; the other disk goes on; ARMRSP still exits', async () => {
    const hung = tempDir();
    const fine = tempDir();
    const name = `.arms-probe-${os.hostname().split('.')[0].replace(/[^A-Za-z0-9_.-]/g, '')}-HUNGDISK`;
    execFileSync('mkfifo', [path.join(hung, name)]);
    const rsp = startRsp(['/DISK', hung, '/DISK', fine, '/TIMEOUT', '0.5', '/INT', '0.2', '/N', '2'], { ...svc.env, ARMS_WATCH_ID: 'HUNGDISK' });
    const r = await rsp.ended;
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^ARMRSP: disk ${hung} failed 2 checks in a row: hung: the probe started 0\\.[5-9]\\d* s ago has not finished\\n$`));
    expect(failedLines(r.stdout, `disk ${hung}`)[0]).toBe(`ARMRSP: disk ${hung} FAILED (1 of 2): no answer within 0.5 s: write, fsync, read back or delete of the probe file hung`);
    expect(r.ms).toBeLessThan(3000);
    const res = await results(svc, 'HUNGDISK');
    expect(res.find((x) => x.resource === fine)).toMatchObject({ ok: true });
    expect(spawnSync('pgrep', ['-f', path.join(ROOT, 'dist', 'monitors', 'arms-probe')]).status).not.toBe(0); // no helper (native or node) left
  });

  it('a /CMD that hangs is killed and counted as failed at the timeout; a failing one gives its reason', async () => {
    const marker = `sleep 47.${process.pid}`;
    const start = Date.now();
    const r = await run('ARMRSP', ['/CMD', marker, '/TIMEOUT', '0.5', '/INT', '0.2', '/N', '2'], svc.env, { timeoutMs: 10_000 });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`ARMRSP: cmd ${marker} failed 2 checks in a row: still running after 0.5 s: killed\n`);
    expect(Date.now() - start).toBeGreaterThanOrEqual(1000);
    expect(Date.now() - start).toBeLessThan(4000);
    await sleep(100);
    expect(spawnSync('pgrep', ['-f', marker]).status).not.toBe(0);

    const bad = await run('ARMRSP', ['/CMD', 'echo "db: no rows" >&2; exit 4', '/CMD', 'exit 0', '/INT', '0.1', '/N', '1'], svc.env, { timeoutMs: 10_000 });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/failed 1 check in a row: exit code 4: db: no rows\n$/);
  });

  it('TCP: an open loopback port passes, a closed one fails', async () => {
    const { port, server } = await openPort();
    const closed = await closedPort();
    const rsp = startRsp(['/IP', `127.0.0.1:${port}`, '/IP', `127.0.0.1:${closed}`, '/INT', '0.2', '/N', '3'], { ...svc.env, ARMS_WATCH_ID: 'TCPMON' });
    const r = await rsp.ended;
    server.close();
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`ARMRSP: tcp 127.0.0.1:${closed} failed 3 checks in a row: cannot connect to 127.0.0.1 port ${closed}: connection refused (ECONNREFUSED)\n`);
    const res = await results(svc, 'TCPMON');
    expect(res.find((x) => x.resource === `127.0.0.1:${port}`)).toMatchObject({ kind: 'tcp', ok: true, failures: 0 });
    expect(failedLines(r.stdout, `tcp 127.0.0.1:${port}`)).toEqual([]);
  });

  it.skipIf(!linux)('NIC: lo passes; a NIC that does not exist fails, naming it', async () => {
    const r = await run('ARMRSP', ['/NIC', 'lo', '/NIC', 'nosuchnic9', '/INT', '0.1', '/N', '2'], { ...svc.env, ARMS_WATCH_ID: 'NICMON' }, { timeoutMs: 10_000 });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('ARMRSP: nic nosuchnic9 failed 2 checks in a row: no network interface named "nosuchnic9" (/sys/class/net/nosuchnic9 does not exist)\n');
    expect((await results(svc, 'NICMON')).find((x) => x.resource === 'lo')).toMatchObject({ kind: 'nic', ok: true });
  });

  it.skipIf(!hasPing)('ping of 127.0.0.1 passes', async () => {
    const rsp = startRsp(['/IP', '127.0.0.1', '/INT', '0.2'], { ...svc.env, ARMS_WATCH_ID: 'PINGLO' });
    const res = await until(() => results(svc, 'PINGLO'), (r) => r.length > 0);
    expect(res).toMatchObject([{ kind: 'ip', resource: '127.0.0.1', ok: true, detail: expect.stringMatching(/^reply in [\d.]+ ms$/) }]);
    rsp.child.kill('SIGTERM');
    expect((await rsp.ended).code).toBe(143);
  });

  // A loopback address of this test's own, so that its ping can be told from any other.
  const ownLoopback = `127.${(process.pid >> 8) & 255}.${process.pid & 255}.9`;
  const pingsOf = (addr: string) => spawnSync('pgrep', ['-f', `^ping -n -O -i [0-9.]+ ${addr.replace(/\./g, '\\.')}$`], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);

  const helpersOf = (rsp: { child: ChildProcess }) =>
    spawnSync('pgrep', ['-P', String(rsp.child.pid), '-f', path.join(ROOT, 'dist', 'monitors', 'arms-probe')], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);

  it.skipIf(!linux || !isRoot || !hasCc)('as root the probe helper sends the echoes (IPv4 and IPv6): one small process, no ping', async () => {
    const rsp = startRsp(['/IP', ownLoopback, '/IP', '::1', '/INT', '0.2'], { ...svc.env, ARMS_WATCH_ID: 'ECHO' });
    const res = await until(() => results(svc, 'ECHO'), (r) => r.length === 2 && r.every((x) => x.ok));
    expect(res.map((x) => [x.resource, x.detail]).sort()).toEqual([
      [ownLoopback, expect.stringMatching(/^reply in [\d.]+ ms$/)],
      ['::1', expect.stringMatching(/^reply in [\d.]+ ms$/)],
    ]);
    expect(pingsOf(ownLoopback)).toEqual([]);
    expect(spawnSync('pgrep', ['-P', String(rsp.child.pid), 'ping']).status).toBe(1); // no ping child at all
    expect(helpersOf(rsp)).toHaveLength(1);
    rsp.child.kill('SIGTERM');
    await rsp.ended;
  });

  it.skipIf(!hasPing || !linux || !hasSetpriv)('not allowed to send ICMP itself (not root): one long-lived ping per address, gone when ARMRSP stops or is killed', async () => {
    for (const sig of ['SIGTERM', 'SIGKILL'] as const) {
      // As nobody it cannot reach the service either: it says so once and goes on checking.
      const rsp = startRsp(['/IP', ownLoopback, '/INT', '0.2'], { ...svc.env, ARMS_WATCH_ID: `PINGLIVE${sig}` }, undefined, true);
      await until(async () => pingsOf(ownLoopback), (p) => p.length === 1, 10_000);
      await sleep(600); // three more checks
      expect(pingsOf(ownLoopback)).toHaveLength(1);
      expect(rsp.out()).not.toMatch(/FAILED/);
      rsp.child.kill(sig);
      await rsp.ended;
      // SIGKILL: nobody stops the ping, but its next line hits a closed pipe (SIGPIPE).
      const gone = await until(async () => pingsOf(ownLoopback), (p) => p.length === 0, 3000);
      expect(gone, sig).toEqual([]);
    }
  });

  describe('HTTP against a local server', () => {
    let server: http.Server;
    let base: string;
    let answer = 200;
    const hanging: http.ServerResponse[] = [];
    beforeAll(async () => {
      server = http.createServer((req, res) => {
        if (req.url === '/hang') return void hanging.push(res);
        res.writeHead(answer).end(answer === 200 ? 'status: all good' : 'broken');
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      base = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
    });
    afterAll(() => {
      hanging.forEach((r) => r.destroy());
      server.close();
    });

    it('passes while it answers 200 with the expected text, fails once it answers 500', async () => {
      answer = 200;
      const rsp = startRsp(['/HTTP', `${base}/app`, '/EXPECT', 'all good', '/INT', '0.2', '/N', '2'], { ...svc.env, ARMS_WATCH_ID: 'WEBMON' });
      await until(() => results(svc, 'WEBMON'), (r) => r.length > 0);
      expect(await results(svc, 'WEBMON')).toMatchObject([{ kind: 'http', resource: `${base}/app (expect "all good")`, ok: true }]);
      answer = 500;
      const r = await rsp.ended;
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(`ARMRSP: http ${base}/app (expect "all good") failed 2 checks in a row: HTTP 500 Internal Server Error (expected 2xx or 3xx)\n`);
    });

    it('a server that does not answer fails at the timeout', async () => {
      const r = await run('ARMRSP', ['/HTTP', `${base}/hang`, '/TIMEOUT', '0.4', '/INT', '0.1', '/N', '1'], svc.env, { timeoutMs: 10_000 });
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(`ARMRSP: http ${base}/hang failed 1 check in a row: no complete answer from ${base}/hang within 0.4 s\n`);
    });
  });

  it('arms status shows each monitor\'s last result and consecutive failures', async () => {
    const disk = tempDir();
    const rsp = startRsp(['/DISK', disk, '/CMD', 'exit 3', '/INT', '0.2', '/N', '100'], { ...svc.env, ARMS_WATCH_ID: 'SHOWN', ARMS_GROUPNAME: 'WEB' });
    await until(() => results(svc, 'SHOWN'), (r) => (r.find((x) => x.kind === 'cmd')?.failures ?? 0) >= 2 && r.length === 2);
    const text = await run('arms', ['status'], svc.env);
    expect(text.stdout).toMatch(/MONITOR\s+GROUP\s+RESOURCE\s+RESULT\s+FAILURES\s+CHECKED\s+DETAIL/);
    expect(text.stdout).toMatch(new RegExp(`SHOWN\\s+WEB\\s+disk ${disk}\\s+ok\\s+0\\s+\\S+ \\S+\\s+write, fsync, read back, delete in \\d+ ms`));
    expect(text.stdout).toMatch(/SHOWN\s+WEB\s+cmd exit 3\s+FAILED\s+[2-9]\s+\S+ \S+\s+exit code 3/);
    rsp.child.kill('SIGTERM');
    expect((await rsp.ended).code).toBe(143);
  });

  it('the service away: the checks go on, the reports say so once; a bad service answer for /A is exit 3', async () => {
    const env = envFor(tempDir()); // a home with no service
    const r = await run('ARMRSP', ['/CMD', 'exit 1', '/INT', '0.1', '/N', '2'], env, { timeoutMs: 10_000 });
    expect(r.code).toBe(1);
    expect(r.stderr.match(/cannot report to the service/g)).toHaveLength(1);
    const a = await run('ARMRSP', ['/A'], { ...env, ARMS_GROUPNAME: 'WEB' }, { timeoutMs: 10_000 });
    expect(a.code).toBe(3);
    expect(a.stderr).toMatch(/^ARMRSP: the ARMS service is not running/);
  });
});

describe('ARMRSP /A and ARMLOAD', () => {
  it('/A takes the group\'s disks, addresses and NICs from the config; an unknown group is exit 4; an empty one stays resident', async () => {
    const home = tempDir();
    const disk = tempDir();
    const { port, server } = await openPort();
    for (const g of ['G', 'EMPTY']) {
      fs.mkdirSync(path.join(home, 'groups', g), { recursive: true });
      for (const s of ['start.sh', 'stop.sh']) fs.writeFileSync(path.join(home, 'groups', g, s), 'exit 0\n');
    }
    const addresses = hasPing ? `[127.0.0.1, "127.0.0.1:${port}"]` : `["127.0.0.1:${port}"]`;
    const svc = await startService({
      home,
      config: `syslog: false\ngroups:\n  G:\n    start: start.sh\n    stop: stop.sh\n    disks: [{ path: ${disk} }]\n    addresses: ${addresses}\n    nics: [lo]\n  EMPTY:\n    start: start.sh\n    stop: stop.sh\n`,
    });
    const rsp = startRsp(['/A', '/CMD', 'exit 0', '/INT', '0.2'], { ...svc.env, ARMS_GROUPNAME: 'g', ARMS_WATCH_ID: 'ALLMON' });
    const expected = [
      { kind: 'disk', resource: disk },
      ...(hasPing ? [{ kind: 'ip', resource: '127.0.0.1' }] : []),
      { kind: 'tcp', resource: `127.0.0.1:${port}` },
      ...(linux ? [{ kind: 'nic', resource: 'lo' }] : []),
      { kind: 'cmd', resource: 'exit 0' },
    ];
    const res = await until(() => results(svc, 'ALLMON'), (r) => r.length === expected.length);
    expect(res.map((x) => ({ kind: x.kind, resource: x.resource })).sort((a, b) => a.kind.localeCompare(b.kind))).toEqual(
      [...expected].sort((a, b) => a.kind.localeCompare(b.kind)),
    );
    expect(res.every((x) => x.ok && x.group === 'G')).toBe(true); // the name as configured
    expect(rsp.out()).toMatch(/^ARMRSP: ALLMON \(group G\): checking \d resources every 0.2 s \(timeout 10 s; exit after 3 failed checks in a row\): disk /);
    rsp.child.kill('SIGTERM');
    await rsp.ended;
    server.close();

    const unknown = await run('ARMRSP', ['/A'], { ...svc.env, ARMS_GROUPNAME: 'NOPE' });
    expect(unknown).toMatchObject({ code: 4, stderr: 'ARMRSP: unknown group "NOPE"\n' });
    // A group with nothing to watch: ARMRSP says so and stays resident (test/recovery/armrsp-idle.test.ts).
    const empty = startRsp(['/A'], { ...svc.env, ARMS_GROUPNAME: 'EMPTY', ARMS_WATCH_ID: 'IDLE' });
    await until(() => results(svc, 'IDLE'), (r) => r.length === 1);
    expect(await results(svc, 'IDLE')).toMatchObject([{ kind: 'none', ok: true, group: 'EMPTY', detail: expect.stringMatching(/nothing to watch/) }]);
    expect(empty.child.exitCode).toBe(null);
    empty.child.kill('SIGTERM');
    expect(await empty.ended).toMatchObject({ code: 143 });
    await svc.stop();
  });

  it('ARMLOAD RSP /R 2 /FOV ARMRSP /A from the start script: the disk goes, two restarts, then the group fails over', async () => {
    const home = tempDir();
    const dir = tempDir();
    const disk = path.join(dir, 'disk');
    const trace = path.join(dir, 'trace');
    const gdir = path.join(home, 'groups', 'RSPG');
    fs.mkdirSync(gdir, { recursive: true });
    fs.writeFileSync(path.join(gdir, 'start.sh'), `echo "start $ARMS_EVENT" >> ${trace}\nARMLOAD RSP /R 2 /FOV ARMRSP /A /INT 0.2 /N 2\n`);
    fs.writeFileSync(path.join(gdir, 'stop.sh'), `echo "stop $ARMS_EVENT $CLP_FACTOR" >> ${trace}\nARMKILL RSP\n`);
    // The disk's activation brings the folder (back): a switched disk, taken over at the failover.
    const svc = await startService({
      home,
      config: `syslog: false\ngroups:\n  RSPG:\n    start: start.sh\n    stop: stop.sh\n    disks:\n      - path: ${disk}\n        activate: mkdir -p ${disk}\n`,
    });
    expect((await run('arms', ['group', 'start', 'RSPG'], svc.env)).code).toBe(0);
    await until(() => results(svc, 'RSP'), (r) => r.length > 0 && r[0].ok);
    expect(await results(svc, 'RSP')).toMatchObject([{ group: 'RSPG', kind: 'disk', resource: disk, ok: true }]);

    fs.rmSync(disk, { recursive: true });
    const g = await until(async () => (await status(svc)).groups.find((x) => x.name === 'RSPG'), (x) => x.startedAs === 'FAILOVER' && x.state === 'online', 30_000);
    expect(g).toMatchObject({ state: 'online', startedAs: 'FAILOVER', failovers: { recent: 1 } });
    expect(fs.readFileSync(trace, 'utf8').trim().split('\n')).toEqual(['start START', 'stop START GROUPFAILOVER', 'start FAILOVER']);
    const alerts = readLog(svc.home, 'alert');
    // three ARMRSP runs (the first and two restarts), each ending with its alert
    expect(alerts.filter((l) => l.src === 'ARMRSP' && l.group === 'RSPG').map((l) => l.msg)).toEqual(
      Array(3).fill(`ARMRSP RSP: disk ${disk} failed 2 checks in a row: the folder ${disk} does not exist (ENOENT); exiting`),
    );
    expect(alerts.filter((l) => l.watch === 'RSP' && l.action === 'failover')).toHaveLength(1);
    // After the failover the disk is back, and the new ARMRSP finds it healthy.
    await until(() => results(svc, 'RSP'), (r) => r.length > 0 && r[0].ok);
    expect(await results(svc, 'RSP')).toMatchObject([{ ok: true, failures: 0 }]);
    expect((await run('arms', ['group', 'stop', 'RSPG'], svc.env)).code).toBe(0);
    await svc.stop();
  });
});

// Network namespaces the test creates: nothing here can reach any address outside them (the
// monitor's namespace has no route but its veth to the target's namespace).
describe.skipIf(!linux || !isRoot || !hasIp || !hasPing)('ARMRSP in network namespaces', () => {
  const A = `armsA${process.pid}`;
  const B = `armsB${process.pid}`;
  const ip = (...args: string[]) => execFileSync('ip', args, { stdio: 'pipe' });
  let svc: Service;
  let usable = true;
  /** The target's namespace B, joined to A by a veth pair: 192.0.2.1 (A) and 192.0.2.2 (B). */
  const makeB = () => {
    ip('netns', 'add', B);
    ip('-n', A, 'link', 'add', 'rspa', 'type', 'veth', 'peer', 'name', 'rspb', 'netns', B);
    ip('-n', A, 'addr', 'add', '192.0.2.1/30', 'dev', 'rspa');
    ip('-n', B, 'addr', 'add', '192.0.2.2/30', 'dev', 'rspb');
    for (const [ns, dev] of [[A, 'rspa'], [B, 'rspb'], [B, 'lo']]) ip('-n', ns, 'link', 'set', dev, 'up');
  };
  beforeAll(async () => {
    svc = await startService({ config: 'syslog: false\n' });
    try {
      ip('netns', 'add', A);
      ip('-n', A, 'link', 'set', 'lo', 'up');
      makeB();
      ip('netns', 'exec', A, 'true'); // needs to mount /sys: not in every container
    } catch (e) {
      usable = false;
      console.warn(`network namespace tests skipped: ${(e as Error).message}`);
    }
  });
  afterAll(() => {
    for (const ns of [A, B]) spawnSync('ip', ['netns', 'del', ns]);
  });

  it('a NIC whose link goes down fails (operstate and carrier seen inside the namespace)', async () => {
    if (!usable) return;
    const nic = startRsp(['/NIC', 'rspa', '/INT', '0.2', '/N', '2'], { ...svc.env, ARMS_WATCH_ID: 'NSNIC' }, A);
    await until(() => results(svc, 'NSNIC'), (r) => r.some((x) => x.ok));
    expect((await results(svc, 'NSNIC'))[0]).toMatchObject({ kind: 'nic', ok: true, detail: 'link up (operstate up, carrier 1)' });
    ip('-n', B, 'link', 'set', 'rspb', 'down'); // the far end goes down: no carrier on ours
    try {
      const n = await nic.ended;
      expect(n.code).toBe(1);
      expect(n.stderr).toBe('ARMRSP: nic rspa failed 2 checks in a row: link down (operstate down, carrier 0)\n');
    } finally {
      ip('-n', B, 'link', 'set', 'rspb', 'up');
    }
  });

  it.skipIf(!hasCc)('ping of an address in a namespace passes, and fails once that namespace is taken down (the probe helper\'s echoes)', async () => {
    if (!usable) return;
    const ping = startRsp(['/IP', '192.0.2.2', '/INT', '0.2', '/TIMEOUT', '1', '/N', '2'], { ...svc.env, ARMS_WATCH_ID: 'NSPING' }, A);
    await until(() => results(svc, 'NSPING'), (r) => r.some((x) => x.ok));
    expect((await results(svc, 'NSPING'))[0]).toMatchObject({ kind: 'ip', ok: true, detail: expect.stringMatching(/^reply in [\d.]+ ms$/) });
    ip('netns', 'del', B); // the veth pair goes with it: no route to 192.0.2.2 is left in A
    const p = await ping.ended;
    expect(p.code).toBe(1);
    // An echo under way when the route went gets no reply; the next cannot even be sent.
    expect(failedLines(p.stdout, 'ip 192.0.2.2')[0]).toMatch(/FAILED \(1 of 2\): no reply from 192\.0\.2\.2(: Network is unreachable| within 1 s)$/);
    expect(p.stderr).toBe('ARMRSP: ip 192.0.2.2 failed 2 checks in a row: no reply from 192.0.2.2: Network is unreachable\n');
  });

  it.skipIf(!hasSetpriv)('the same through the OS ping, where ARMRSP may not send ICMP itself (not root)', async () => {
    if (!usable) return;
    try {
      ip('netns', 'pids', B);
    } catch {
      makeB(); // the test before took it down
    }
    // As nobody it cannot report to the service: it runs 1.5 s without a failed check, then the target goes.
    const ping = startRsp(['/IP', '192.0.2.2', '/INT', '0.2', '/TIMEOUT', '1', '/N', '2'], { ...svc.env, ARMS_WATCH_ID: 'NSPING2' }, A, true);
    await until(async () => ping.out(), (o) => o.includes('checking 1 resource'), 10_000);
    await sleep(1500);
    expect(ping.out()).not.toMatch(/FAILED/);
    ip('netns', 'del', B);
    const p = await ping.ended;
    expect(p.code).toBe(1);
    // The running ping only sees its echo go unanswered; the one started after that failure cannot
    // even send, and says why.
    expect(failedLines(p.stdout, 'ip 192.0.2.2')[0]).toMatch(/FAILED \(1 of 2\): no reply from 192.0.2.2: no answer yet for icmp_seq=\d+$/);
    expect(p.stderr).toMatch(/^ARMRSP: ip 192\.0\.2\.2 failed 2 checks in a row: no reply from 192\.0\.2\.2: .*unreachable/im);
  });
});

describe('ARMRSP start-up path', () => {
  it('loads no module from node_modules and few of its own', () => {
    const dir = tempDir();
    const list = path.join(dir, 'modules.txt');
    spawnSync(process.execPath, ['-r', path.join(ROOT, 'test', 'fixtures', 'list-modules.cjs'), path.join(ROOT, 'bin', 'armrsp.js'), '/IP', '127.0.0.1:1', '/HTTP', 'http://127.0.0.1:1/', '/N', '1'], {
      env: { ...envFor(dir), LIST_MODULES_TO: list },
      timeout: 15_000,
    });
    const mods = fs.readFileSync(list, 'utf8').split('\n').filter(Boolean);
    expect(mods.filter((m) => m.includes(`${path.sep}node_modules${path.sep}`))).toEqual([]);
    expect(mods.length).toBeLessThanOrEqual(16);
  });
});
