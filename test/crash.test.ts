// Issue 12's crash test: 200 acknowledged operations (ARMLOAD, ARMKILL, group start/stop,
// ARMSETCD), each followed by a kill -9 of armsd the moment its answer arrives. After every
// restart the service's state matches every answer given: 0 undone, no program twice.
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { call } from '../src/client/client';
import { Service, startService, stopAll, tempDir } from './helpers';

const BASE = 300_000 + (process.pid % 4000) * 250;

afterAll(async () => {
  await stopAll();
  // A failed run leaves its last service killed and its programs orphaned: never left behind.
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const [cmd, a] = fs.readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0');
      if (cmd === 'sleep' && Number(a) >= BASE && Number(a) < BASE + 250) process.kill(Number(d), 'SIGKILL');
    } catch {
      /* gone */
    }
  }
});

function sleepers(): Map<string, number> {
  const out = new Map<string, number>();
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const [cmd, a] = fs.readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0');
      if (cmd === 'sleep' && Number(a) >= BASE && Number(a) < BASE + 250) out.set(a, (out.get(a) ?? 0) + 1);
    } catch {
      /* gone */
    }
  }
  return out;
}

/** One request on a connection of its own; SIGKILL to the service the moment the answer arrives. */
function answerThenCrash(svc: Service, op: string, args: Record<string, unknown>): Promise<{ ok: boolean; error?: { message: string } }> {
  return new Promise((resolve, reject) => {
    const s = net.connect(svc.pipe);
    let got = '';
    s.on('error', reject);
    s.on('data', (d) => {
      got += d.toString();
      if (!got.includes('\n')) return;
      svc.proc.kill('SIGKILL');
      s.destroy();
      resolve(JSON.parse(got.split('\n')[0]));
    });
    s.write(JSON.stringify({ v: 1, id: 1, op, args }) + '\n');
  });
}

describe('crash test', () => {
  it('200 acknowledged operations, each followed by kill -9 of armsd at the answer: nothing undone, nothing doubled', async () => {
    if (process.platform !== 'linux') return;
    const home = tempDir();
    let config = 'syslog: false\nosMonitor: false\ngroups:\n';
    for (const g of ['G1', 'G2']) {
      fs.mkdirSync(path.join(home, 'groups', g), { recursive: true });
      fs.writeFileSync(path.join(home, 'groups', g, 'start.sh'), 'exit 0\n');
      fs.writeFileSync(path.join(home, 'groups', g, 'stop.sh'), 'exit 0\n');
      config += `  ${g}:\n    start: start.sh\n    stop: stop.sh\n`;
    }
    fs.writeFileSync(path.join(home, 'arms.yaml'), config);

    // What the answers promised.
    const watches = new Map<string, string>(); // ID -> sleep argument
    const groups: Record<string, 'online' | 'offline'> = { G1: 'offline', G2: 'offline' };
    const values: Record<string, number> = {};
    let next = 0;
    let acknowledged = 0;
    let undone = 0;
    const problems: string[] = [];

    let svc = await startService({ home });
    for (let op = 0; op < 200; op++) {
      let answer: { ok: boolean; error?: { message: string } };
      let promised: () => void;
      switch (op % 5) {
        case 0:
        case 1: {
          const id = `W${next}`;
          const a = String(BASE + next++);
          answer = await answerThenCrash(svc, 'watch.start', { id, file: 'sleep', args: [a], cwd: home, env: { PATH: process.env.PATH! }, restarts: 3 });
          promised = () => watches.set(id, a);
          break;
        }
        case 2: {
          const id = [...watches.keys()][op % watches.size];
          answer = await answerThenCrash(svc, 'watch.kill', { id });
          promised = () => watches.delete(id);
          break;
        }
        case 3: {
          const g = op % 2 ? 'G1' : 'G2';
          const to = groups[g] === 'online' ? 'stop' : 'start';
          answer = await answerThenCrash(svc, `group.${to}`, { name: g, wait: true });
          promised = () => (groups[g] = to === 'start' ? 'online' : 'offline');
          break;
        }
        default: {
          const name = `V${op % 7}`;
          const value = op;
          answer = await answerThenCrash(svc, 'value.set', { name, value });
          promised = () => (values[name] = value);
        }
      }
      expect(answer.ok, answer.error?.message).toBe(true);
      promised();
      acknowledged++;
      await svc.exited;
      svc = await startService({ home });

      // Every answer so far still holds.
      const s = (await call(svc.pipe, 'status')) as { groups: Array<{ name: string; state: string }>; watches: Array<{ id: string; state: string }> };
      const running = s.watches.filter((w) => w.state === 'running').map((w) => w.id).sort();
      const want = [...watches.keys()].sort();
      if (JSON.stringify(running) !== JSON.stringify(want)) {
        undone++;
        problems.push(`after op ${op}: watches ${running.join(',')} instead of ${want.join(',')}`);
      }
      for (const g of s.groups) {
        if (g.state !== groups[g.name]) {
          undone++;
          problems.push(`after op ${op}: group ${g.name} ${g.state} instead of ${groups[g.name]}`);
        }
      }
      for (const [name, value] of Object.entries(values)) {
        const got = ((await call(svc.pipe, 'value.get', { name })) as { value: number }).value;
        if (got !== value) {
          undone++;
          problems.push(`after op ${op}: ${name}=${got} instead of ${value}`);
        }
      }
      const procs = sleepers();
      for (const [id, a] of watches) {
        if (procs.get(a) !== 1) problems.push(`after op ${op}: watch ${id} has ${procs.get(a) ?? 0} programs`);
      }
      for (const [a, n] of procs) if (![...watches.values()].includes(a)) problems.push(`after op ${op}: a program (sleep ${a}, ${n}) of no watch`);
      expect(problems, `after ${acknowledged} acknowledged operations`).toEqual([]); // the first broken promise ends the test
    }
    expect(acknowledged).toBe(200);
    expect(problems).toEqual([]);
    expect(undone).toBe(0);
    await svc.stop(); // a clean stop ends every watch
    expect([...sleepers().keys()]).toEqual([]);
  }, 900_000); // ~2 min on an idle 2-vCPU machine; a loaded one starts node much slower
});
