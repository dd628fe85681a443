// The commands reach the pipe through node's own pipe handle (src/client/raw-pipe.ts) or, when that
// is not usable or ARMS_CLIENT=net says so, through `net`. Both must behave the same for everything
// a service (or no service) can do to a command: each case runs the real ARMLOG both ways against
// a real armsd or a real misbehaving server process.
import { ChildProcess, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { envFor, fakeService, fromArmlog, ROOT, run, Service, startService, stopAll, tempDir, until } from './helpers';

const TRANSPORTS = { raw: {}, net: { ARMS_CLIENT: 'net' } } as const;

const fakes: ChildProcess[] = [];
afterAll(async () => {
  for (const f of fakes) f.kill('SIGKILL');
  await stopAll();
});

describe('the pipe client, raw handle and net alike', () => {
  let svc: Service;
  beforeAll(async () => {
    svc = await startService();
  });

  for (const [name, extra] of Object.entries(TRANSPORTS)) {
    it(`${name}: ARMLOG's line reaches the cluster log, exit 0`, async () => {
      const r = await run('ARMLOG', [`through ${name}`], envFor(svc.home, extra));
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(fromArmlog(svc.home).map((l) => l.msg)).toContain(`through ${name}`);
    });

    it(`${name}: no service at all: exit 3, "not running"`, async () => {
      const r = await run('ARMLOG', ['x'], envFor(tempDir(), extra));
      expect(r.code).toBe(3);
      expect(r.stderr).toMatch(/^ARMLOG: the ARMS service is not running \(nothing answers on .*armsd\.sock\); start it with "arms service start"\n$/);
    });

    it(`${name}: a socket left by a dead service (connection refused): exit 3, "not running"`, async () => {
      const dir = tempDir();
      const sock = path.join(dir, 'dead.sock');
      const f = await fakeService(sock, '');
      f.kill('SIGKILL');
      await new Promise((r) => f.once('exit', r));
      expect(fs.existsSync(sock)).toBe(true);
      const r = await run('ARMLOG', ['x'], envFor(dir, { ...extra, ARMS_PIPE: sock }));
      expect(r.code).toBe(3);
      expect(r.stderr).toMatch(/^ARMLOG: the ARMS service is not running \(nothing answers on .*dead\.sock\)/);
    });

    it(`${name}: a path that is not a socket: exit 3, one line naming the path and the error`, async () => {
      const file = path.join(tempDir(), 'plain-file');
      fs.writeFileSync(file, 'x');
      const r = await run('ARMLOG', ['x'], envFor(tempDir(), { ...extra, ARMS_PIPE: file }));
      expect(r.code).toBe(3);
      expect(r.stderr).toMatch(/^ARMLOG: (cannot reach the service on .*plain-file: .*ECONNREFUSED.*|the ARMS service is not running .*plain-file.*)\n$/);
    });

    it(`${name}: the service closes the connection without answering: exit 3`, async () => {
      const sock = path.join(tempDir(), 's.sock');
      fakes.push(await fakeService(sock, "s.once('data', () => s.destroy());"));
      const r = await run('ARMLOG', ['x'], envFor(tempDir(), { ...extra, ARMS_PIPE: sock }));
      expect(r.code).toBe(3);
      expect(r.stderr).toBe(`ARMLOG: the service closed the connection on ${sock} before answering\n`);
    });

    it(`${name}: an answer that is not JSON: exit 2, one line`, async () => {
      const sock = path.join(tempDir(), 's.sock');
      fakes.push(await fakeService(sock, "s.once('data', () => s.write('hello\\n'));"));
      const r = await run('ARMLOG', ['x'], envFor(tempDir(), { ...extra, ARMS_PIPE: sock }));
      expect(r.code).toBe(2);
      expect(r.stderr).toBe('ARMLOG: the service sent a line that is not JSON\n');
    });

    it(`${name}: an answer sent one byte at a time: read whole`, async () => {
      const sock = path.join(tempDir(), 's.sock');
      const answer = JSON.stringify({ v: 1, id: 1, ok: true, result: null }) + '\n';
      fakes.push(
        await fakeService(
          sock,
          `s.once('data', async () => {
             const a = ${JSON.stringify(answer)};
             for (const c of a) { s.write(c); await new Promise((r) => setTimeout(r, 2)); }
           });`,
        ),
      );
      const r = await run('ARMLOG', ['x'], envFor(tempDir(), { ...extra, ARMS_PIPE: sock }));
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
    });

    it(`${name}: the service refuses the request (an error with no id): its message, its exit code`, async () => {
      const sock = path.join(tempDir(), 's.sock');
      const refusal = JSON.stringify({ v: 1, id: null, ok: false, error: { code: 'too_large', message: 'request line too large' } }) + '\n';
      fakes.push(await fakeService(sock, `s.once('data', () => s.write(${JSON.stringify(refusal)}));`));
      const r = await run('ARMLOG', ['x'], envFor(tempDir(), { ...extra, ARMS_PIPE: sock }));
      expect(r.code).toBe(2);
      expect(r.stderr).toBe('ARMLOG: request line too large\n');
    });
  }

  it('ARMLOG loads no net module through the raw handle; it does with ARMS_CLIENT=net', () => {
    const client = path.join(ROOT, 'dist', 'client', 'client.js');
    const probe = `require(${JSON.stringify(client)}).call(process.argv[1], 'ping').then(() => { const loaded = process.moduleLoadList.includes('NativeModule net'); process.stdout.write(String(loaded)); })`;
    const usesNet = (extra: NodeJS.ProcessEnv) => {
      const r = spawnSync(process.execPath, ['-e', probe, svc.pipe], { env: envFor(svc.home, extra), encoding: 'utf8', timeout: 15_000 });
      expect(r.stderr).toBe('');
      return r.stdout;
    };
    // (read before process.stdout, which is a net socket on a pipe.) On Linux and node 20 the handle is there: if a node release takes it away, this says so.
    expect(usesNet({})).toBe(process.platform === 'win32' ? 'true' : 'false');
    expect(usesNet({ ARMS_CLIENT: 'net' })).toBe('true');
    // Asked to warn about pending deprecations, node would print one for process.binding: net, no warning.
    expect(usesNet({ NODE_PENDING_DEPRECATION: '1' })).toBe('true');
  });

  it('the service is unharmed by all of it', async () => {
    const r = await run('ARMLOG', ['still here'], envFor(svc.home));
    expect(r.code).toBe(0);
    await until(async () => fromArmlog(svc.home).map((l) => l.msg), (m) => m.includes('still here'));
  });
});
