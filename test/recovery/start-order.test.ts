// Start order with the real service and real scripts: after: between groups (start after, stop
// before, a failed dependency stops the start and says why), and ready: between the watches of a
// group (ARMLOAD returns once the program answers; exit 1 when it does not in time).
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { call } from '../../src/client/client';
import { readLog, run, startService, stopAll, tempDir } from '../helpers';

afterAll(stopAll);

function groupDirs(home: string, names: string[], start: (g: string) => string = () => '') {
  const trace = path.join(home, 'trace');
  for (const g of names) {
    const dir = path.join(home, 'groups', g);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'start.sh'), `echo "start ${g}" >> ${trace}\n${start(g)}`);
    fs.writeFileSync(path.join(dir, 'stop.sh'), `echo "stop ${g}" >> ${trace}\n`);
  }
  return () => fs.readFileSync(trace, 'utf8').trim().split('\n');
}

const states = async (pipe: string) => Object.fromEntries(((await call(pipe, 'status')) as { groups: Array<{ name: string; state: string }> }).groups.map((g) => [g.name, g.state]));

describe('after: between groups', () => {
  it('autostart starts each group after those it names, and the service stops them in the reverse order', async () => {
    const home = tempDir();
    // DB is slow to start: WEB and API must still come after it.
    const trace = groupDirs(home, ['WEB', 'API', 'DB'], (g) => (g === 'DB' ? 'sleep 0.5\n' : ''));
    const svc = await startService({
      home,
      config: `syslog: false
groups:
  WEB: { start: start.sh, stop: stop.sh, autostart: true, after: [API] }
  API: { start: start.sh, stop: stop.sh, autostart: true, after: [DB] }
  DB: { start: start.sh, stop: stop.sh, autostart: true }
`,
    });
    for (let i = 0; i < 200 && Object.values(await states(svc.pipe)).some((s) => s !== 'online'); i++) await new Promise((r) => setTimeout(r, 50));
    expect(await states(svc.pipe)).toEqual({ WEB: 'online', API: 'online', DB: 'online' });
    expect(trace()).toEqual(['start DB', 'start API', 'start WEB']);
    // arms group stop DB: the groups that start after it are stopped first.
    expect((await run('arms', ['group', 'stop', 'DB'], svc.env)).code).toBe(0);
    expect(trace().slice(3)).toEqual(['stop WEB', 'stop API', 'stop DB']);
    expect(await states(svc.pipe)).toEqual({ WEB: 'offline', API: 'offline', DB: 'offline' });
    expect(readLog(home).some((l) => l.msg === 'group API stops before group DB (it starts after it)')).toBe(true);
    await svc.stop();
  });

  it('a group whose dependency failed or is offline does not start, and says why', async () => {
    const home = tempDir();
    groupDirs(home, ['WEB', 'DB'], (g) => (g === 'DB' ? 'exit 3\n' : ''));
    const svc = await startService({ home, config: 'syslog: false\ngroups:\n  WEB: { start: start.sh, stop: stop.sh, after: [DB] }\n  DB: { start: start.sh, stop: stop.sh }\n' });
    const off = await run('arms', ['group', 'start', 'WEB'], svc.env);
    expect(off).toMatchObject({ code: 1, stderr: 'arms: group WEB does not start: it starts after group DB, which is offline\n' });
    expect((await run('arms', ['group', 'start', 'DB'], svc.env)).code).toBe(1);
    const failed = await run('arms', ['group', 'start', 'WEB'], svc.env);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toBe('arms: group WEB does not start: it starts after group DB, which is error (start script start.sh exited with code 3)\n');
    const web = ((await call(svc.pipe, 'status')) as { groups: Array<{ name: string; state: string; lastError: { message: string } }> }).groups.find((g) => g.name === 'WEB')!;
    expect(web).toMatchObject({ state: 'offline', lastError: { message: 'group WEB does not start: it starts after group DB, which is error (start script start.sh exited with code 3)' } });
    expect(readLog(home, 'alert').some((l) => l.group === 'WEB' && l.event === 'dependency')).toBe(true);
    await svc.stop();
  });
});

describe('ready: between the watches of a group', () => {
  it("ARMLOAD returns once the program answers, so the next ARMLOAD starts after it; not ready in time is exit 1", async () => {
    const home = tempDir();
    const port = await new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    const server = path.join(home, 'server.js');
    // Listens only after 700 ms, as an application that takes its time.
    fs.writeFileSync(server, `setTimeout(() => require('net').createServer(() => {}).listen(${port}, '127.0.0.1', () => require('fs').appendFileSync('${home}/order', 'listening\\n')), 700);\n`);
    const dir = path.join(home, 'groups', 'G');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(
      path.join(dir, 'start.sh'),
      `ARMLOAD SRV ${process.execPath} ${server} || exit 1\necho "next ARMLOAD" >> ${home}/order\nARMLOAD NEVER sleep 600\necho "NEVER: $?" >> ${home}/order\n`,
    );
    fs.writeFileSync(path.join(dir, 'stop.sh'), 'ARMKILL SRV; ARMKILL NEVER; exit 0\n');
    const svc = await startService({
      home,
      config: `syslog: false
groups:
  G:
    start: start.sh
    stop: stop.sh
    ready:
      SRV: { tcp: "127.0.0.1:${port}", timeout: 20s, interval: 100ms }
      NEVER: { cmd: "exit 1", timeout: 500ms, interval: 100ms }
`,
    });
    expect((await run('arms', ['group', 'start', 'G'], svc.env)).code).toBe(0);
    expect(fs.readFileSync(path.join(home, 'order'), 'utf8')).toBe('listening\nnext ARMLOAD\nNEVER: 1\n');
    expect(readLog(home).some((l) => l.src === 'script' && /^ARMLOAD: watch NEVER started \(pid \d+\) but not ready within 0.5 s \(cmd exit 1: exit code 1\); it stays watched$/.test(l.msg))).toBe(true);
    expect(((await call(svc.pipe, 'status')) as { watches: Array<{ id: string; state: string }> }).watches.map((w) => [w.id, w.state])).toEqual([
      ['SRV', 'running'],
      ['NEVER', 'running'],
    ]);
    expect((await run('arms', ['group', 'stop', 'G'], svc.env)).code).toBe(0);
    await svc.stop();
  });
});
