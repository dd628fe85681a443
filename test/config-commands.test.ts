// Command lines from the config (`services:` start/stop/status, `power:`, a disk's `activate:` and
// `deactivate:`) reach the system's shell exactly as the administrator wrote them: quotes, spaces
// inside quotes, a path with spaces. (On Windows the same lines go to cmd.exe: test/windows.)
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { call } from '../src/client/client';
import { run, startService, stopAll, tempDir, until } from './helpers';

afterAll(stopAll);

/** A folder with a space in its name, holding a program that writes its arguments (JSON) to a file. */
function argvProgram(): { dir: string; prog: string; out: (name: string) => string; seen: (name: string) => unknown } {
  const dir = path.join(tempDir('arms-cfgcmd-'), 'with space');
  fs.mkdirSync(dir);
  const prog = path.join(dir, 'argv.js');
  // argv[2]: the file to write; then the arguments it was given; then it waits if told to.
  fs.writeFileSync(prog, "require('fs').writeFileSync(process.argv[2], JSON.stringify(process.argv.slice(3)));\nif (process.env.STAY) setInterval(() => {}, 1000);\n");
  const out = (name: string) => path.join(dir, `${name}.json`);
  const seen = (name: string) => (fs.existsSync(out(name)) ? JSON.parse(fs.readFileSync(out(name), 'utf8')) : null);
  return { dir, prog, out, seen };
}

/** The line as an administrator writes it in arms.yaml: node "<path with spaces>" "<file>" "two words" plain 'single quoted'. */
const line = (prog: string, out: string) => `node "${prog}" "${out}" "two words" plain 'single quoted'`;
const EXPECTED = ['two words', 'plain', 'single quoted'];
/** YAML: the line as a single-quoted scalar ('' is one '). */
const yaml = (s: string) => `'${s.replace(/'/g, "''")}'`;

describe('config command lines keep the quoting the administrator wrote', () => {
  it('a services: entry without status: the started command line is the watched program, with its arguments as written', async () => {
    const p = argvProgram();
    const config = `syslog: false\nservices:\n  W3SVC:\n    start: ${yaml(line(p.prog, p.out('start')))}\n`;
    const svc = await startService({ config, env: { STAY: '1' } });
    const r = await run('ARMLOAD', ['WWWPS', '/S', '/M', 'W3SVC'], svc.env);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    await until(async () => p.seen('start'), (x) => x !== null, 10_000);
    expect(p.seen('start')).toEqual(EXPECTED);
    const w = ((await call(svc.pipe, 'status')) as { watches: Array<{ id: string; state: string; command: string }> }).watches.find((x) => x.id === 'WWWPS');
    expect(w).toMatchObject({ state: 'running', command: `service W3SVC (${line(p.prog, p.out('start'))})` });
    expect((await run('ARMKILL', ['WWWPS'], svc.env)).code).toBe(0);
    await svc.stop();
  });

  it("a disk's activate: and deactivate:, and power:, run with their arguments as written", async () => {
    const p = argvProgram();
    const group = path.join(path.dirname(p.dir), 'G');
    fs.mkdirSync(group);
    fs.writeFileSync(path.join(group, 'start.sh'), 'exit 0\n');
    fs.writeFileSync(path.join(group, 'stop.sh'), 'exit 0\n');
    const config = [
      'syslog: false',
      `power: { shutdown: ${yaml(line(p.prog, p.out('power')))} }`,
      'groups:',
      '  G:',
      `    dir: ${group}`,
      '    start: start.sh',
      '    stop: stop.sh',
      '    disks:',
      `      - path: ${p.dir}`,
      `        activate: ${yaml(line(p.prog, p.out('activate')))}`,
      `        deactivate: ${yaml(line(p.prog, p.out('deactivate')))}`,
      '',
    ].join('\n');
    const svc = await startService({ config });
    expect((await run('arms', ['group', 'start', 'G'], svc.env)).code).toBe(0);
    expect(p.seen('activate')).toEqual(EXPECTED);
    expect((await run('arms', ['group', 'stop', 'G'], svc.env)).code).toBe(0);
    expect(p.seen('deactivate')).toEqual(EXPECTED);
    expect((await run('ARMDOWN', [], svc.env)).code).toBe(0);
    await until(async () => p.seen('power'), (x) => x !== null, 10_000);
    expect(p.seen('power')).toEqual(EXPECTED);
    await svc.stop();
  });
});
