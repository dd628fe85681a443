// The command binaries run on every line of every script: they must load nothing heavy.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { envFor, ROOT, tempDir } from './helpers';

const HEAVY = ['pino', 'execa', 'etcd3', 'yaml', 'commander', 'cross-spawn', 'ps-list'];

function modulesLoadedBy(bin: string, args: string[]): string[] {
  const dir = tempDir();
  const list = path.join(dir, 'modules.txt');
  spawnSync(process.execPath, ['-r', path.join(ROOT, 'test', 'fixtures', 'list-modules.cjs'), path.join(ROOT, 'bin', bin), ...args], {
    env: { ...envFor(dir), LIST_MODULES_TO: list },
    timeout: 15_000,
  });
  return fs.readFileSync(list, 'utf8').split('\n').filter(Boolean);
}

describe('command start-up path', () => {
  it('armlog loads only its own few modules, none from node_modules', () => {
    // The message goes nowhere (no service in this home): the whole path up to the connect runs.
    const mods = modulesLoadedBy('armlog.js', ['hello']);
    const external = mods.filter((m) => m.includes(`${path.sep}node_modules${path.sep}`));
    expect(external).toEqual([]);
    for (const heavy of HEAVY) expect(mods.some((m) => m.includes(`${path.sep}${heavy}${path.sep}`))).toBe(false);
    expect(mods.length).toBeLessThanOrEqual(10);
  });

  it('arms service status loads neither the HTTP server nor prom-client (armsd loads them only when HTTP is on)', () => {
    const mods = modulesLoadedBy('arms.js', ['service', 'status']);
    expect(mods.filter((m) => /[\\/](prom-client|playwright-core)[\\/]|[\\/]dist[\\/]http[\\/]/.test(m))).toEqual([]);
  });
});

describe('the etcd client stays in armsd', () => {
  it('no command loads etcd3, gRPC or cockatiel, not even the ones that act on a cluster (ARMFOVER, ARMDOWN, arms status / group move / check --cluster)', () => {
    const cluster = ['etcd3', '@grpc', 'cockatiel', `${path.sep}dist${path.sep}cluster${path.sep}cluster.js`, `${path.sep}dist${path.sep}cluster${path.sep}etcd.js`];
    for (const [bin, args] of [
      ['armfover.js', ['G']],
      ['armdown.js', ['/?']],
      ['arms.js', ['status']],
      ['arms.js', ['group', 'move', 'G', 'B']],
      ['arms.js', ['check', '--cluster']],
    ] as const) {
      const mods = modulesLoadedBy(bin, [...args]);
      expect(mods.length).toBeGreaterThan(0);
      for (const c of cluster) expect(mods.filter((m) => m.includes(c)), `${bin} ${args.join(' ')}`).toEqual([]);
    }
  });
});
