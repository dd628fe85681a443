// Custom probe: exit 0 is healthy; a failing one says why; a hung one is killed at the timeout
// with everything it started.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { commandCheck, killRunningCommands, runCommand } from '../../src/monitors/command';

const alive = (marker: string) => spawnSync('pgrep', ['-f', marker]).status === 0;

describe.skipIf(process.platform === 'win32')('command probe', () => {
  it('exit 0 passes; another exit code fails with the last line it printed', async () => {
    expect(await commandCheck('true').run(2000)).toMatchObject({ ok: true, detail: expect.stringMatching(/^exit code 0 in \d+ ms$/) });
    expect(await runCommand('echo checking; echo "db: connection refused" >&2; exit 3', 2000)).toEqual({ ok: false, detail: 'exit code 3: db: connection refused' });
    expect(await runCommand('echo only stdout; exit 1', 2000)).toEqual({ ok: false, detail: 'exit code 1: only stdout' });
    expect(await runCommand('kill -9 $$', 2000)).toEqual({ ok: false, detail: 'killed by SIGKILL' });
  });

  it('one that hangs is killed at the timeout, grandchildren included', async () => {
    const marker = `sleep 41.${process.pid}`;
    const start = Date.now();
    const o = await runCommand(`${marker} & ${marker}; true`, 300);
    expect(o).toEqual({ ok: false, detail: 'still running after 0.3 s: killed' });
    expect(Date.now() - start).toBeLessThan(1000);
    await new Promise((r) => setTimeout(r, 200));
    expect(alive(marker)).toBe(false);
  });

  it('a program it leaves running does not hold the result up', async () => {
    const marker = `sleep 42.${process.pid}`;
    const start = Date.now();
    expect((await runCommand(`${marker} & exit 0`, 2000)).ok).toBe(true);
    expect(Date.now() - start).toBeLessThan(1000);
    spawnSync('pkill', ['-f', marker]);
  });

  it('killRunningCommands() stops probes under way', async () => {
    const marker = `sleep 43.${process.pid}`;
    const p = runCommand(marker, 5000);
    await new Promise((r) => setTimeout(r, 200));
    expect(alive(marker)).toBe(true);
    killRunningCommands();
    await new Promise((r) => setTimeout(r, 200));
    expect(alive(marker)).toBe(false);
    expect((await p).ok).toBe(false);
  });
});
