// The Linux command launcher (src/platform/launcher.c, written by shims.ts writeCommandsDir): the
// real dist/path launchers, a real armsd, real programs. The proof that node did not read
// NODE_EXTRA_CA_CERTS is what a user sees: node warns "Ignoring extra certs" when it reads a file
// that is not there, and a spared command prints no such warning.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commandBins, commandScript, commandsDirComplete, linuxLauncherTrailer, LINUX_LAUNCHER, readLinuxTrailer, SPARE, spareRule, writeCommandsDir } from '../src/platform/shims';
import { COMMANDS, fromArmlog, ROOT, run, Service, startService, stopAll, tempDir } from './helpers';

const linux = process.platform === 'linux';
const WARNING = /Warning: Ignoring extra certs from/;
const NO_CERTS = '/nonexistent/arms-launcher-test/extra-certs.pem';
afterAll(stopAll);

/** Runs `file` with `args` and `env`, synchronously (the launcher execs in place: what ends is node). */
function launch(file: string, args: string[], env: NodeJS.ProcessEnv) {
  const r = spawnSync(file, args, { env, encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A launcher of our own in `dir` named `name`: the template plus `trailer` (a real one, or damaged). */
function ownLauncher(dir: string, name: string, trailer: Buffer): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, Buffer.concat([fs.readFileSync(LINUX_LAUNCHER), trailer]), { mode: 0o755 });
  return file;
}

/** A script that prints what node was given: its argv[1] and arguments, and the certificate variables. */
function argvScript(dir: string): string {
  const file = path.join(dir, 'show.js');
  fs.writeFileSync(
    file,
    'process.stdout.write(JSON.stringify({ script: process.argv[1], args: process.argv.slice(2), pid: process.pid, ppid: process.ppid, certs: process.env.NODE_EXTRA_CA_CERTS ?? null, spared: process.env.ARMS_SPARED_NODE_EXTRA_CA_CERTS ?? null }))',
  );
  return file;
}

describe.runIf(linux)('the Linux command launcher', () => {
  it('is what dist/path holds: a copy of arms-launch per command, naming its bundle, with the spare rule of shims.ts', () => {
    // CI has a C compiler (.ci/run): the build must have made the launcher, not fallen back to symlinks.
    expect(fs.existsSync(LINUX_LAUNCHER)).toBe(true);
    const template = fs.readFileSync(LINUX_LAUNCHER);
    for (const name of Object.keys(commandBins())) {
      const file = path.join(COMMANDS, name);
      expect(fs.lstatSync(file).isFile(), name).toBe(true);
      expect(fs.statSync(file).mode & 0o777, name).toBe(0o755);
      expect(fs.readFileSync(file).subarray(0, template.length).equals(template), name).toBe(true);
      const t = readLinuxTrailer(file)!;
      expect(t.node).toBe('node');
      const bundle = path.join(ROOT, 'dist', 'bundles', `${name.toLowerCase()}.js`);
      expect(path.resolve(COMMANDS, t.script)).toBe(fs.existsSync(bundle) ? bundle : path.join(ROOT, 'bin', `${name}.js`));
      expect(t.spare, name).toBe(spareRule(name));
    }
    // the decision, as the data says it: every ARM* command but ARMRSP; arms for status only; never armsd
    expect(Object.fromEntries(Object.keys(commandBins()).map((n) => [n, spareRule(n)]))).toEqual({
      ...Object.fromEntries(['armload', 'armkill', 'armlog', 'armsleep', 'armsetcd', 'armgetcd', 'armbcast', 'armfover', 'armdown'].flatMap((n) => [[n, 'always'], [n.toUpperCase(), 'always']])),
      armrsp: 'never',
      ARMRSP: 'never',
      arms: 'first=status',
      armsd: 'never',
    });
    expect(Object.keys(SPARE).sort()).toEqual([...new Set(Object.keys(commandBins()).map((n) => n.toLowerCase()))].sort());
  });

  it('runs node in place with <script> <the arguments> unchanged; spares as the trailer says', () => {
    const dir = tempDir('arms-launch-');
    const show = argvScript(dir);
    const always = ownLauncher(dir, 'SHOW', linuxLauncherTrailer('node', 'show.js', 'always'));
    const args = ['a b', '', '"quoted"', '*', '%X%', 'é', '--inspect'];
    const base: NodeJS.ProcessEnv = { ...process.env, PATH: `${path.dirname(process.execPath)}:/usr/bin:/bin` };
    delete base.NODE_EXTRA_CA_CERTS;
    delete base.ARMS_SPARED_NODE_EXTRA_CA_CERTS;
    const shown = (file: string, a: string[], env: NodeJS.ProcessEnv) => {
      const r = launch(file, a, env);
      expect(r.code, r.stderr).toBe(0);
      return JSON.parse(r.stdout) as { script: string; args: string[]; pid: number; ppid: number; certs: string | null; spared: string | null };
    };
    const s = shown(always, args, { ...base, NODE_EXTRA_CA_CERTS: '/some/where.pem' });
    expect(s.script).toBe(show);
    expect(s.args).toEqual(args);
    // moved aside, exactly; the bundles put it back (an ordinary script like this one does not)
    expect([s.certs, s.spared]).toEqual([null, '/some/where.pem']);
    expect(shown(always, [], { ...base, NODE_EXTRA_CA_CERTS: '' })).toMatchObject({ args: [], certs: null, spared: '' });
    expect(shown(always, [], base)).toMatchObject({ certs: null, spared: null });
    // a stale spared value from the caller never becomes the certificates
    expect(shown(always, [], { ...base, ARMS_SPARED_NODE_EXTRA_CA_CERTS: '/stale.pem' })).toMatchObject({ certs: null, spared: null });
    expect(shown(always, [], { ...base, ARMS_SPARED_NODE_EXTRA_CA_CERTS: '/stale.pem', NODE_EXTRA_CA_CERTS: '/x.pem' })).toMatchObject({ certs: null, spared: '/x.pem' });

    const never = ownLauncher(dir, 'NEVER', linuxLauncherTrailer('node', show, 'never'));
    expect(shown(never, ['x'], { ...base, NODE_EXTRA_CA_CERTS: '/x.pem', ARMS_SPARED_NODE_EXTRA_CA_CERTS: '/stale.pem' })).toMatchObject({ script: show, certs: '/x.pem', spared: null });

    const status = ownLauncher(dir, 'STATUS', linuxLauncherTrailer('node', show, 'first=status'));
    const env = { ...base, NODE_EXTRA_CA_CERTS: '/x.pem' };
    expect(shown(status, ['status', '--json'], env)).toMatchObject({ certs: null, spared: '/x.pem' });
    for (const other of [['--version'], ['statuses'], ['Status'], [], ['group', 'status']]) {
      expect(shown(status, other, env), other.join(' ')).toMatchObject({ certs: '/x.pem', spared: null });
    }

    // node named by a path relative to the launcher's folder; the launcher found through a symlink
    fs.symlinkSync(process.execPath, path.join(dir, 'my-node'));
    const relNode = ownLauncher(dir, 'RELNODE', linuxLauncherTrailer('./my-node', 'show.js', 'never'));
    const other = tempDir('arms-launch-other-');
    fs.symlinkSync(relNode, path.join(other, 'LINKED'));
    const viaLink = shown(path.join(other, 'LINKED'), ['1'], { ...base, PATH: '/nonexistent' });
    expect(viaLink).toMatchObject({ script: show, args: ['1'] });

    // exec in place: node is the process its caller started (a script's ARMKILL/wait sees node itself)
    const sh = spawnSync('sh', ['-c', `"${always}" & echo "$!"; wait`], { env: base, encoding: 'utf8', timeout: 30_000 });
    const [pid, json] = sh.stdout.trim().split('\n');
    expect((JSON.parse(json) as { pid: number }).pid).toBe(Number(pid));
  });

  describe('with a real armsd', () => {
    let svc: Service;
    beforeAll(async () => {
      svc = await startService();
    });

    it('ARMLOG spares the certificates (no warning, its line logged); ARMRSP does not; the proof is node warning on that file', async () => {
      const env = { ...svc.env, NODE_EXTRA_CA_CERTS: NO_CERTS };
      // node itself, with this variable, warns: the warning is what reading the certificates shows
      expect(spawnSync(process.execPath, ['-e', '0'], { env, encoding: 'utf8' }).stderr).toMatch(WARNING);
      for (const name of ['ARMLOG', 'armlog']) {
        const r = await run(name, [`spared line from ${name}`], env);
        expect(r.code, r.stderr).toBe(0);
        expect(r.stderr).not.toMatch(WARNING);
        expect(fromArmlog(svc.home).map((l) => l.msg)).toContain(`spared line from ${name}`);
      }
      for (const name of ['ARMRSP', 'armrsp']) {
        const r = await run(name, ['/?'], env);
        expect(r.code).toBe(0);
        expect(r.stdout).toMatch(/^usage: ARMRSP/);
        expect(r.stderr).toMatch(WARNING);
      }
      // every other ARM* command spares, under both names
      for (const name of Object.keys(commandBins()).filter((n) => /^arm/i.test(n) && !/^(armrsp|arms|armsd)$/i.test(n))) {
        const r = await run(name, ['/?'], env);
        expect(r.code, `${name}: ${r.stderr}`).toBe(0);
        expect(r.stderr, name).not.toMatch(WARNING);
      }
    });

    it('arms status spares; arms --version and other subcommands do not', async () => {
      const env = { ...svc.env, NODE_EXTRA_CA_CERTS: NO_CERTS };
      for (const args of [['status'], ['status', '--json']]) {
        const r = await run('arms', args, env);
        expect(r.code, r.stderr).toBe(0);
        expect(r.stderr).not.toMatch(WARNING);
      }
      for (const args of [['--version'], ['service', 'status']]) {
        const r = await run('arms', args, env);
        expect(r.stderr, args.join(' ')).toMatch(WARNING);
      }
    });

    it("ARMLOAD's program sees NODE_EXTRA_CA_CERTS exactly as the caller set it, and never the spared copy", async () => {
      const dir = tempDir('arms-launch-env-');
      const prog = path.join(dir, 'dump.sh');
      fs.writeFileSync(prog, '#!/bin/sh\nenv > "$1"\n', { mode: 0o755 });
      const seen = async (id: string, extra: NodeJS.ProcessEnv, drop: string[] = []) => {
        const env = { ...svc.env, ...extra };
        for (const k of drop) delete env[k];
        const out = path.join(dir, `${id}.env`);
        const r = await run('ARMLOAD', [id, '/W', prog, out], env);
        expect(r.code, r.stderr).toBe(0);
        expect(r.stderr).not.toMatch(WARNING);
        const vars = Object.fromEntries(
          fs
            .readFileSync(out, 'utf8')
            .split('\n')
            .filter((l) => l.includes('='))
            .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
        );
        return { certs: vars.NODE_EXTRA_CA_CERTS ?? null, spared: vars.ARMS_SPARED_NODE_EXTRA_CA_CERTS ?? null };
      };
      const all = ['NODE_EXTRA_CA_CERTS', 'ARMS_SPARED_NODE_EXTRA_CA_CERTS'];
      expect(await seen('VALUE', { NODE_EXTRA_CA_CERTS: NO_CERTS })).toEqual({ certs: NO_CERTS, spared: null });
      expect(await seen('EMPTY', { NODE_EXTRA_CA_CERTS: '' })).toEqual({ certs: '', spared: null });
      expect(await seen('NONE', {}, all)).toEqual({ certs: null, spared: null });
      expect(await seen('STALE', { ARMS_SPARED_NODE_EXTRA_CA_CERTS: '/stale.pem' }, ['NODE_EXTRA_CA_CERTS'])).toEqual({ certs: null, spared: null });
      expect(await seen('BOTH', { NODE_EXTRA_CA_CERTS: NO_CERTS, ARMS_SPARED_NODE_EXTRA_CA_CERTS: '/stale.pem' })).toEqual({ certs: NO_CERTS, spared: null });
    });

    it('a commands folder written elsewhere (the service fallback) works from there, through a symlinked path too', async () => {
      const real = tempDir('arms-launch-fallback-');
      const linked = path.join(tempDir('arms-launch-link-'), 'home');
      fs.symlinkSync(real, linked);
      const dir = path.join(linked, 'state', 'path');
      const written = writeCommandsDir(dir);
      expect(written.length).toBe(Object.keys(commandBins()).length);
      expect(commandsDirComplete(dir)).toBe(true);
      expect(fs.lstatSync(path.join(dir, 'ARMLOG')).isFile()).toBe(true);
      const env = { ...svc.env, NODE_EXTRA_CA_CERTS: NO_CERTS };
      const r = launch(path.join(dir, 'ARMLOG'), ['from the fallback folder'], env);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).not.toMatch(WARNING);
      expect(fromArmlog(svc.home).map((l) => l.msg)).toContain('from the fallback folder');
      const status = launch(path.join(dir, 'arms'), ['status'], env);
      expect(status.code, status.stderr).toBe(0);
    });
  });

  it('commandsDirComplete: a complete folder is left alone, a damaged or incomplete one is not', () => {
    const dir = path.join(tempDir('arms-launch-complete-'), 'path');
    expect(commandsDirComplete(dir)).toBe(false); // missing
    writeCommandsDir(dir);
    expect(commandsDirComplete(dir)).toBe(true);
    const armlog = path.join(dir, 'ARMLOG');
    const good = fs.readFileSync(armlog);
    const damage = (how: () => void) => {
      how();
      const complete = commandsDirComplete(dir);
      fs.rmSync(armlog, { force: true });
      fs.writeFileSync(armlog, good, { mode: 0o755 });
      fs.chmodSync(armlog, 0o755);
      expect(commandsDirComplete(dir)).toBe(true);
      return complete;
    };
    expect(damage(() => fs.rmSync(armlog))).toBe(false);
    expect(damage(() => fs.truncateSync(armlog, good.length - 3))).toBe(false);
    expect(damage(() => fs.writeFileSync(armlog, Buffer.concat([good.subarray(0, good.length - 40), Buffer.alloc(40)])))).toBe(false);
    expect(damage(() => fs.chmodSync(armlog, 0o644))).toBe(false);
    expect(damage(() => {
      fs.rmSync(armlog);
      fs.symlinkSync(path.join(ROOT, 'dist', 'bundles', 'armlog.js'), armlog); // what a non-Linux folder holds
    })).toBe(false);
    // a trailer naming another script, or another spare rule, is not this installation's
    expect(damage(() => fs.writeFileSync(armlog, Buffer.concat([fs.readFileSync(LINUX_LAUNCHER), linuxLauncherTrailer('node', '../bundles/armlog.js', 'never')])))).toBe(false);
    // a symlink folder as written before (or off Linux) is rewritten as launchers on Linux
    fs.rmSync(dir, { recursive: true });
    fs.mkdirSync(dir);
    for (const [name, bin] of Object.entries(commandBins())) fs.symlinkSync(bin, path.join(dir, name));
    expect(commandsDirComplete(dir)).toBe(false);
  });

  it('commandScript: what an entry of a commands folder runs (the batch interpreter knows its own commands by it)', () => {
    expect(commandScript(path.join(COMMANDS, 'ARMLOG'))).toBe(path.join(ROOT, 'dist', 'bundles', 'armlog.js'));
    expect(commandScript(path.join(COMMANDS, 'armsd'))).toBe(path.join(ROOT, 'bin', 'armsd.js'));
    const dir = tempDir('arms-launch-script-');
    fs.symlinkSync(path.join(ROOT, 'dist', 'bundles', 'armkill.js'), path.join(dir, 'ARMKILL'));
    expect(commandScript(path.join(dir, 'ARMKILL'))).toBe(path.join(ROOT, 'dist', 'bundles', 'armkill.js'));
    // anything else is itself, resolved; a launcher with a damaged trailer is not a command
    expect(commandScript('/bin/sh')).toBe(fs.realpathSync('/bin/sh'));
    expect(commandScript(path.join(dir, 'nothing'))).toBeNull();
    const good = fs.readFileSync(path.join(COMMANDS, 'ARMLOG'));
    const bad = Buffer.from(good);
    bad[bad.length - 20] ^= 1;
    fs.writeFileSync(path.join(dir, 'BAD'), bad);
    expect(readLinuxTrailer(path.join(dir, 'BAD'))).toBeNull();
    expect(commandScript(path.join(dir, 'BAD'))).toBe(path.join(fs.realpathSync(dir), 'BAD'));
  });

  describe('bad input: one line on stderr, exit codes as env(1) has them', () => {
    const dir = tempDir('arms-launch-bad-');
    const show = argvScript(dir);
    const env = { ...process.env, PATH: `${path.dirname(process.execPath)}:/usr/bin:/bin` };
    const oneLine = (r: { stderr: string }, re: RegExp) => {
      expect(r.stderr).toMatch(re);
      expect(r.stderr.split('\n')).toHaveLength(2); // one line and its newline
    };

    it('node not on PATH: 127, "cannot start node"', () => {
      const r = launch(path.join(COMMANDS, 'ARMLOG'), ['x'], { ...env, PATH: tempDir('arms-no-node-') });
      expect(r.code).toBe(127);
      expect(r.stderr).toBe('ARMLOG: cannot start node: No such file or directory\n');
      // PATH unset: env(1)'s default, /bin:/usr/bin
      const unset: NodeJS.ProcessEnv = { ...env };
      delete unset.PATH;
      const u = launch(path.join(COMMANDS, 'arms'), ['--version'], unset);
      if (['/bin/node', '/usr/bin/node'].some((f) => fs.existsSync(f))) {
        expect(u.code, u.stderr).toBe(0);
      } else {
        expect(u.code).toBe(127);
        oneLine(u, /^arms: cannot start node: No such file or directory\n$/);
      }
    });

    it('node that cannot be run: 126', () => {
      const fake = path.join(dir, 'not-a-program');
      fs.writeFileSync(fake, 'nothing', { mode: 0o644 });
      const r = launch(ownLauncher(dir, 'NOEXEC', linuxLauncherTrailer(fake, show, 'never')), [], env);
      expect(r.code).toBe(126);
      expect(r.stderr).toBe(`NOEXEC: cannot start ${fake}: Permission denied\n`);
      const folder = ownLauncher(dir, 'FOLDER', linuxLauncherTrailer('/', show, 'never'));
      expect(launch(folder, [], env).code).toBe(126);
    });

    it('a damaged, missing or unknown trailer, or a missing script: 126 and what is wrong', () => {
      const good = linuxLauncherTrailer('node', show, 'always');
      const cases: Array<[string, Buffer, RegExp]> = [
        ['NONE', Buffer.alloc(0), /has no valid command trailer/],
        ['MAGIC', Buffer.concat([good.subarray(0, good.length - 1), Buffer.from('2')]), /has no valid command trailer/],
        ['LONG', (() => {
          const b = Buffer.from(good);
          b.writeUInt32LE(0x7fffffff, b.length - 16);
          return b;
        })(), /has no valid command trailer/],
        ['SHORT', (() => {
          // still three strings ("de", the script, the rule): the hash tells
          const b = Buffer.from(good);
          b.writeUInt32LE(b.readUInt32LE(b.length - 16) - 2, b.length - 16);
          return b;
        })(), /has no valid command trailer/],
        ['FLIPPED', (() => {
          const b = Buffer.from(good);
          b[6] ^= 1; // a byte of the script's name
          return b;
        })(), /has no valid command trailer/],
        ['TWO', (() => {
          // two strings, with their right length and hash
          const t = linuxLauncherTrailer('node', show, 'never');
          const payload = Buffer.from(`node\0${show}\0`);
          let hash = 2166136261;
          for (const byte of payload) hash = Math.imul(hash ^ byte, 16777619) >>> 0;
          const tail = Buffer.alloc(8);
          tail.writeUInt32LE(payload.length, 0);
          tail.writeUInt32LE(hash, 4);
          return Buffer.concat([payload, tail, t.subarray(t.length - 8)]);
        })(), /has no valid command trailer/],
        ['RULE', linuxLauncherTrailer('node', show, 'sometimes' as 'never'), /has an unknown spare rule "sometimes"/],
        ['NOSCRIPT', linuxLauncherTrailer('node', 'gone.js', 'always'), /cannot find its script .*gone\.js \(No such file or directory\)/],
      ];
      for (const [name, trailer, re] of cases) {
        const file = ownLauncher(dir, name, trailer);
        const r = launch(file, ['x'], { ...env, NODE_EXTRA_CA_CERTS: NO_CERTS });
        expect(r.code, name).toBe(126);
        expect(r.stdout, name).toBe('');
        oneLine(r, new RegExp(`^${name}: `));
        expect(r.stderr, name).toMatch(re);
        if (name !== 'NOSCRIPT') expect(r.stderr, name).toContain(`${name}: ${file} has`);
      }
    });

    it('arms-launch under its own name refuses, with its name', () => {
      const r = launch(LINUX_LAUNCHER, ['status'], env);
      expect(r.code).toBe(126);
      oneLine(r, /^arms-launch: this is the template of the ARMS command launcher, it runs no command by itself/);
      // a link to it is still the template
      const link = path.join(dir, 'ARMLOG-link');
      fs.symlinkSync(LINUX_LAUNCHER, link);
      expect(launch(link, [], env).code).toBe(126);
    });
  });
});
