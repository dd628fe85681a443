// `arms status` writes its output to the descriptor itself (src/commands/output.ts), not through
// process.stdout: what a monitoring script reads from it must still be all of it, whatever stdout is
// (a file, a pipe a slow reader empties, a pipe another process made non-blocking, a reader that
// stops early). The status here is a real one, several MiB, from a server process that sends it.
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMMANDS, envFor, fakeService, tempDir } from './helpers';

const ARMS = path.join(COMMANDS, 'arms');
let service: ChildProcess;
let env: NodeJS.ProcessEnv;
/** a status of 20,000 watches' worth of text: ~4 MiB of JSON, far past a pipe's 64 KiB */
const status = {
  server: 'VM',
  service: { pid: 1, version: 't', startedAt: '2026-12-03T00:00:00Z', uptime: 1 },
  reboots: { count: 0, max: 3 },
  groups: [],
  watches: [],
  monitors: Array.from({ length: 20_000 }, (_, i) => ({ monitor: `m${i}`, group: null, kind: 'disk', resource: `/srv/disk-${i}`, ok: true, failures: 0, at: '2026-12-03T00:00:00Z', detail: 'x'.repeat(100) })),
};

beforeAll(async () => {
  const dir = tempDir();
  const sock = path.join(dir, 's.sock');
  const answer = JSON.stringify({ v: 1, id: 1, ok: true, result: status }) + '\n';
  const file = path.join(dir, 'answer.json');
  fs.writeFileSync(file, answer);
  service = await fakeService(sock, `s.once('data', () => s.end(require('fs').readFileSync(${JSON.stringify(file)})));`);
  env = envFor(dir, { ARMS_PIPE: sock });
});
afterAll(() => service?.kill('SIGKILL'));

/** Runs `bash -o pipefail -c script` ($ARMS: the command); its stdout whole, its exit code. */
function sh(script: string, readSlowly = false): Promise<{ code: number | null; stdout: Buffer; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn('bash', ['-o', 'pipefail', '-c', script], { env: { ...env, ARMS: ARMS }, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => {
      out.push(d);
      if (readSlowly) {
        p.stdout.pause();
        setTimeout(() => p.stdout.resume(), 2);
      }
    });
    p.stderr.on('data', (d) => (stderr += d));
    p.on('close', (code) => resolve({ code, stdout: Buffer.concat(out), stderr }));
  });
}

describe('arms status output', () => {
  it('to a file: the whole status, the table as well as --json', async () => {
    const dir = tempDir();
    const r = await sh(`"$ARMS" status --json > ${dir}/s.json && "$ARMS" status > ${dir}/s.txt`);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(fs.readFileSync(path.join(dir, 's.json'), 'utf8'))).toEqual(status);
    const table = fs.readFileSync(path.join(dir, 's.txt'), 'utf8').split('\n');
    expect(table[0]).toBe('server VM: armsd pid 1, up 1 s, version t');
    expect(table.filter((l) => l.startsWith('m'))).toHaveLength(20_000);
    expect(table.at(-1)).toBe('');
  });

  it('to a pipe read slowly: all of it, in order', async () => {
    const r = await sh('"$ARMS" status --json', true);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout.toString('utf8'))).toEqual(status);
  });

  it('to a pipe another process made non-blocking (EAGAIN): all of it', async () => {
    // What a program that is not node may leave behind on a pipe it shares: O_NONBLOCK on it
    // (node's own spawn makes a child's stdio blocking, so a tiny C program sets it, then runs arms).
    const dir = tempDir();
    fs.writeFileSync(
      path.join(dir, 'nonblock.c'),
      '#include <fcntl.h>\n#include <unistd.h>\nint main(int c, char **v) { (void)c; fcntl(1, F_SETFL, fcntl(1, F_GETFL) | O_NONBLOCK); execv(v[1], v + 1); return 127; }\n',
    );
    const cc = spawnSync(process.env.CC || 'cc', ['-o', path.join(dir, 'nonblock'), path.join(dir, 'nonblock.c')], { encoding: 'utf8' });
    expect(cc.status, cc.stderr).toBe(0);
    const r = await sh(`${dir}/nonblock "$ARMS" status --json`, true);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout.toString('utf8'))).toEqual(status);
  });

  it('to a reader that stops after a few lines (| head): exit 0, nothing on stderr', async () => {
    const r = await sh('"$ARMS" status | head -n 2 && "$ARMS" status --json | head -c 10 >/dev/null');
    expect(r.stdout.toString('utf8')).toBe('server VM: armsd pid 1, up 1 s, version t\nno groups configured\n');
    expect(r.stderr).not.toMatch(/ARMS|arms:|Error|EPIPE/);
    expect(r.code).toBe(0);
  });
});
