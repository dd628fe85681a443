// The command binaries run on every line of every script: they must load nothing heavy. Each is one
// bundle (scripts/bundle-commands.js); what went into it is in dist/bundles/meta.json.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vm from 'node:vm';
import { describe, expect, it } from 'vitest';
import { readLinuxTrailer } from '../src/platform/shims';
import { envFor, ROOT, tempDir } from './helpers';

/** never in any command: the service's logger, process and cluster libraries, HTTP servers */
const NEVER = ['pino', 'execa', 'etcd3', 'express', 'fastify', 'koa', '@hapi', 'hapi', 'restify', 'undici', 'prom-client', 'ps-list'];
const BUNDLES = path.join(ROOT, 'dist', 'bundles');

function modulesLoadedBy(bin: string, args: string[]): string[] {
  const dir = tempDir();
  const list = path.join(dir, 'modules.txt');
  spawnSync(process.execPath, ['-r', path.join(ROOT, 'test', 'fixtures', 'list-modules.cjs'), path.join(ROOT, 'bin', bin), ...args], {
    env: { ...envFor(dir), LIST_MODULES_TO: list },
    timeout: 15_000,
  });
  return fs.readFileSync(list, 'utf8').split('\n').filter((m) => m && !m.endsWith('list-modules.cjs'));
}

/** the packages under node_modules that went into a bundle */
function packagesIn(inputs: string[]): string[] {
  const names = inputs
    .filter((f) => f.includes('node_modules/'))
    .map((f) => {
      const [first, second] = f.slice(f.lastIndexOf('node_modules/') + 'node_modules/'.length).split('/');
      return first.startsWith('@') ? `${first}/${second}` : first;
    });
  return [...new Set(names)].sort();
}

describe('command start-up path', () => {
  it('armlog reads its launcher and its one bundle, nothing from node_modules', () => {
    // The message goes nowhere (no service in this home): the whole path up to the connect runs.
    const mods = modulesLoadedBy('armlog.js', ['hello']);
    expect(mods.map((m) => path.relative(ROOT, m).split(path.sep).join('/'))).toEqual(['bin/armlog.js', 'dist/bundles/armlog.js']);
  });

  it('every command is bundled, and no bundle holds a heavy package', () => {
    const meta = JSON.parse(fs.readFileSync(path.join(BUNDLES, 'meta.json'), 'utf8')) as Record<string, string[]>;
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string> };
    const commands = [...new Set(Object.values(pkg.bin).map((b) => path.basename(b, '.js')))].filter((c) => c !== 'armsd').sort();
    // arms: a small bundle answers `arms status`; arms-main (commander and all) the other subcommands
    expect(Object.keys(meta).sort()).toEqual([...commands, 'arms-main'].sort());
    const own: Record<string, string> = { arms: 'dist/commands/arms/entry.js', 'arms-main': 'dist/commands/arms/main.js' };
    for (const cmd of Object.keys(meta)) {
      const inputs = meta[cmd];
      // the command's own module is in it (the bundle is what runs, not a stub)
      expect(inputs, cmd).toContain(own[cmd] ?? `dist/commands/${cmd}.js`);
      const packages = packagesIn(inputs);
      for (const heavy of NEVER) expect(packages, `${cmd} bundles ${heavy}`).not.toContain(heavy);
      // The ARM* commands run on the lines of scripts, `arms status` in monitoring loops: nothing from node_modules at all.
      if (cmd !== 'arms-main') expect(packages, cmd).toEqual([]);
    }
  });

  it('the bundles are what the launchers run', () => {
    for (const cmd of ['armlog', 'arms', 'armload']) {
      expect(fs.readFileSync(path.join(ROOT, 'bin', `${cmd}.js`), 'utf8')).toContain(`dist/bundles/${cmd}.js`);
      if (process.platform !== 'win32') {
        // Linux: a launcher whose trailer names the bundle; other POSIX systems: a symlink to it
        const file = path.join(ROOT, 'dist', 'path', cmd);
        const trailer = readLinuxTrailer(file);
        const runs = trailer ? path.resolve(path.dirname(file), trailer.script) : fs.realpathSync(file);
        expect(runs).toBe(path.join(BUNDLES, `${cmd}.js`));
        expect(trailer !== null).toBe(process.platform === 'linux' && fs.existsSync(path.join(ROOT, 'dist', 'platform', 'arms-launch')));
      }
    }
    // A bundle that runs from dist/bundles still finds what it names by path (the batch runner, bin/armsd.js).
    const r = spawnSync(process.execPath, [path.join(ROOT, 'bin', 'arms.js'), '--help'], { encoding: 'utf8', timeout: 15_000 });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^Usage: arms/);
    // `arms status` without a service: the short path says it as the full one does
    const dir = tempDir();
    for (const args of [['status'], ['status', '--json'], ['status', '--help']]) {
      const s = spawnSync(process.execPath, [path.join(ROOT, 'bin', 'arms.js'), ...args], { env: envFor(dir), encoding: 'utf8', timeout: 15_000 });
      if (args[1] === '--help') {
        expect(s.status).toBe(0);
        expect(s.stdout).toMatch(/^Usage: arms status/);
      } else {
        expect(s.status).toBe(3);
        expect(s.stderr).toMatch(/^arms: the ARMS service is not running \(nothing answers on .*\); start it with "arms service start"\n$/);
      }
    }
  });

  it('arms service status loads neither the HTTP server nor prom-client (armsd loads them only when HTTP is on)', () => {
    const mods = modulesLoadedBy('arms.js', ['service', 'status']);
    expect(mods.filter((m) => /[\\/](prom-client|playwright-core)[\\/]|[\\/]dist[\\/]http[\\/]/.test(m))).toEqual([]);
  });
});

describe('the code cache the commands run from', () => {
  it("every command's loader names a cache that this node accepts for its body", () => {
    // A cache V8 refuses costs nothing but the time it was made to save: only a check like this one sees it.
    const loaders = fs.readdirSync(BUNDLES).filter((f) => f.endsWith('.js') && !f.endsWith('.body.js') && f !== 'arms-main.js');
    expect(loaders.length).toBeGreaterThanOrEqual(10);
    for (const loader of loaders) {
      const text = fs.readFileSync(path.join(BUNDLES, loader), 'utf8');
      const cache = /"\/([^"]+\.cache)"/.exec(text)?.[1];
      expect(cache, loader).toBeDefined();
      const body = path.join(BUNDLES, loader.replace(/\.js$/, '.body.js'));
      const script = new vm.Script(fs.readFileSync(body, 'utf8'), { filename: body, cachedData: fs.readFileSync(path.join(BUNDLES, cache!)) });
      expect(script.cachedDataRejected, `${loader}: ${cache}`).toBe(false);
    }
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
