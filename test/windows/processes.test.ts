// Issue 15: processes as Windows handles them, under Wine: the real armsd under node.exe, the real
// commands, programs started through the native host (bin/win/arms-host.exe). ARMLOAD of a program
// found nowhere, ARMKILL of a console program and of a cmd -> ping tree, a services: entry without
// status: whose command line keeps its quoting, a .ps1 group script whose PowerShell does not work,
// and the Event Log through ReportEvent. See README.md beside this file for what Wine cannot show.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyPackage, killWine, Running, sleep, startWinenode, winenode, winePath, wineProcesses, writeBat } from './wine';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'arms-win-proc-'));
const home = path.join(tmp, 'home');
const pkg = path.join(tmp, 'pkg');
/** A folder with a space in its name, for the quoting cases. */
const spaced = path.join(tmp, 'with space');
let homeWin = '';
let service: Running | null = null;

const w = (p: string) => winePath(p);
const bin = (name: string) => w(path.join(pkg, 'bin', `${name}.js`));
/** A command run by the Windows node; ARMLOAD hands its environment (STAY: argv.js waits) to what it starts. */
const cmd = (name: string, args: string[], timeoutMs?: number) => winenode(['node', bin(name), ...args], { ARMS_HOME: homeWin, STAY: '1' }, timeoutMs);

type Watch = { id: string; pid: number | null; state: string; command: string; lastExit: { code: number | null } | null };
async function status(): Promise<{ groups: Array<{ name: string; state: string; lastError: { step: string; message: string } | null }>; watches: Watch[] }> {
  const r = await cmd('arms', ['status', '--json']);
  if (r.code !== 0) throw new Error(`arms status: ${r.code} ${r.stderr}`);
  return JSON.parse(r.stdout);
}
function readLog(): Array<{ src: string; msg: string; level: number }> {
  const file = path.join(home, 'log', 'cluster.log');
  return fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)) : [];
}
/** The Windows processes whose command line matches, as Wine runs them (one Linux process each). */
const running = (re: RegExp) => wineProcesses().filter((p) => re.test(p.cmdline));

beforeAll(async () => {
  const p = await winenode(['path'], {}, 600_000);
  expect(p.code, `winenode path failed: ${p.stderr}`).toBe(0);
  fs.mkdirSync(path.join(home, 'groups', 'PS'), { recursive: true });
  fs.mkdirSync(spaced);
  homeWin = w(home);
  copyPackage(pkg);
  const made = await winenode(['node', w(path.join(pkg, 'scripts', 'make-path.js'))]);
  expect(made.code, made.stderr).toBe(0);
  // argv.js: writes its arguments (JSON) to the file named first; waits when STAY is set; on
  // Ctrl+Break (SIGBREAK in node) notes it and ends.
  fs.writeFileSync(
    path.join(spaced, 'argv.js'),
    [
      "const fs = require('fs');",
      'fs.writeFileSync(process.argv[2], JSON.stringify(process.argv.slice(3)));',
      "process.on('SIGBREAK', () => { fs.writeFileSync(process.argv[2] + '.break', 'SIGBREAK'); process.exit(0); });",
      'if (process.env.STAY) setInterval(() => {}, 1000);',
      '',
    ].join('\n'),
  );
  const argvWin = w(path.join(spaced, 'argv.js'));
  const outWin = w(path.join(spaced, 'svc.json'));
  fs.writeFileSync(
    path.join(home, 'arms.yaml'),
    [
      'services:',
      '  W3SVC:',
      // As an administrator writes it: quotes around a path with a space and around two words.
      `    start: 'node "${argvWin}" "${outWin}" "two words" plain'`,
      'groups:',
      '  PS:',
      '    start: START.ps1',
      '    stop: STOP.BAT',
      '',
    ].join('\n'),
  );
  fs.writeFileSync(path.join(home, 'groups', 'PS', 'START.ps1'), "Set-Content -Path ran.txt -Value 'ran'\r\nexit 0\r\n");
  writeBat(path.join(home, 'groups', 'PS', 'STOP.BAT'), ['@ECHO OFF']);

  service = startWinenode(['node', bin('armsd')], { ARMS_HOME: homeWin, STAY: '1' });
  let ended = false;
  void service.done.then(() => (ended = true));
  for (const deadline = Date.now() + 180_000; ; await sleep(500)) {
    if (ended) throw new Error(`armsd ended before answering: ${JSON.stringify(await service.done)}`);
    if ((await cmd('arms', ['service', 'status'])).code === 0) break;
    if (Date.now() > deadline) throw new Error('armsd did not answer within 180 s');
  }
});

afterAll(async () => {
  if (service) {
    await cmd('arms', ['service', 'stop', '--timeout', '60'], 90_000).catch(() => undefined);
    const ended = await Promise.race([service.done.then(() => true), sleep(30_000).then(() => false)]);
    if (!ended) service.kill();
  }
  await killWine();
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe.sequential('processes as Windows handles them (node.exe, cmd.exe and the native host under Wine)', () => {
  it('ARMLOAD of a program found nowhere: exit 6 and one line, with and without /W; the ID stays free', async () => {
    for (const args of [['nf', 'no-such-program-anywhere'], ['nf', '/W', 'no-such-program-anywhere', 'x']]) {
      const r = await cmd('ARMLOAD', args);
      expect(r.code, r.stdout).toBe(6);
      expect(r.stderr.trim()).toBe('ARMLOAD: cannot start "no-such-program-anywhere": not found');
    }
    expect((await status()).watches.map((x) => x.id)).not.toContain('nf');
  });

  it('a watched program runs under the host, in a process group of its own, found on PATH like cmd finds it', async () => {
    const out = w(path.join(spaced, 'console.json'));
    const r = await cmd('ARMLOAD', ['CON', 'node', w(path.join(spaced, 'argv.js')), out, 'a b']);
    expect(r.code, r.stderr).toBe(0);
    for (const deadline = Date.now() + 30_000; !fs.existsSync(path.join(spaced, 'console.json')) && Date.now() < deadline; ) await sleep(200);
    expect(JSON.parse(fs.readFileSync(path.join(spaced, 'console.json'), 'utf8'))).toEqual(['a b']);
    const watch = (await status()).watches.find((x) => x.id === 'CON')!;
    // The watch's pid is the host's; the program is its child.
    // (Wine shows a Windows process's argv joined with spaces, quotes removed.)
    const host = wineProcesses().find((p) => /arms-host\.exe run /.test(p.cmdline) && p.cmdline.includes('console.json'));
    expect(host, JSON.stringify(wineProcesses().map((p) => p.cmdline))).toBeDefined();
    expect(watch.state).toBe('running');
  });

  it('ARMKILL of a console program: asked with Ctrl+Break first (Wine refuses the event: then forced at once), gone when ARMKILL returns', async () => {
    expect(running(/console\.json/).length).toBe(2); // the host and node
    const r = await cmd('ARMKILL', ['CON']);
    expect(r.code, r.stderr).toBe(0);
    expect(running(/console\.json/)).toEqual([]);
    // The stop was asked of armsd's one resident host (no arms-host started per stop).
    expect(running(/arms-host\.exe serve$/).length, JSON.stringify(wineProcesses().map((p) => p.cmdline))).toBe(1);
    // WINE ONLY: Wine's GenerateConsoleCtrlEvent fails (ERROR_INVALID_HANDLE), so node never saw
    // SIGBREAK. On Windows it would have: it writes console.json.break and exits 0.
    expect(fs.existsSync(path.join(spaced, 'console.json.break'))).toBe(false);
  });

  it('ARMKILL of cmd -> ping ends both', async () => {
    const r = await cmd('ARMLOAD', ['PING', 'cmd', '/c', 'ping -n 300 127.0.0.1 > nul']);
    expect(r.code, r.stderr).toBe(0);
    // (The host's own command line holds the same words: it is left out.)
    const find = () => ({
      cmd: running(/^\S*cmd(\.exe)? \/c ping -n 300/i),
      ping: running(/^\S*ping(\.exe)? -n 300 127\.0\.0\.1/i),
    });
    let tree = find();
    for (const deadline = Date.now() + 30_000; (tree.cmd.length === 0 || tree.ping.length === 0) && Date.now() < deadline; await sleep(200)) tree = find();
    expect(tree.cmd.length, JSON.stringify(wineProcesses().map((p) => p.cmdline))).toBe(1);
    expect(tree.ping.length, JSON.stringify(wineProcesses().map((p) => p.cmdline))).toBe(1);
    const k = await cmd('ARMKILL', ['PING']);
    expect(k.code, k.stderr).toBe(0);
    let left = running(/ping -n 300/);
    for (const deadline = Date.now() + 10_000; left.length > 0 && Date.now() < deadline; await sleep(100)) left = running(/ping -n 300/);
    expect(left).toEqual([]);
  });

  it('a services: entry without status: its command line reaches cmd.exe with the quoting as written', async () => {
    const r = await cmd('ARMLOAD', ['WWWPS', '/S', '/M', 'W3SVC']);
    expect(r.code, r.stderr).toBe(0);
    const file = path.join(spaced, 'svc.json');
    for (const deadline = Date.now() + 30_000; !fs.existsSync(file) && Date.now() < deadline; ) await sleep(200);
    expect(JSON.parse(fs.readFileSync(file, 'utf8'))).toEqual(['two words', 'plain']);
    expect((await status()).watches.find((x) => x.id === 'WWWPS')).toMatchObject({ state: 'running' });
    expect((await cmd('ARMKILL', ['WWWPS'])).code).toBe(0);
  });

  it("a .ps1 group script whose powershell.exe does not answer as PowerShell (Wine's is a stub): the group is in error, nothing ran", async () => {
    const r = await cmd('arms', ['group', 'start', 'PS']);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toMatch(/^arms: group PS: start script START\.ps1 could not be started: powershell\.exe (is not a working PowerShell \(asked for its version, it printed .* and exited with code \d+\)|not found \(PowerShell runs \.ps1 scripts\))$/);
    const g = (await status()).groups.find((x) => x.name === 'PS');
    expect(g).toMatchObject({ state: 'error', lastError: { step: 'start' } });
    expect(fs.existsSync(path.join(home, 'groups', 'PS', 'ran.txt'))).toBe(false);
  });

  it('alerts go to the Event Log through ReportEvent (the host); no complaint in the cluster log', async () => {
    const r = await cmd('ARMLOG', ['event log check', '/ARM']);
    expect(r.code, r.stderr).toBe(0);
    const direct = await winenode(['cmd', '/c', w(path.join(pkg, 'bin', 'win', 'arms-host.exe')), 'event', 'arms', 'WARN', 'a direct event']);
    expect(direct.code, direct.stderr).toBe(0);
    await sleep(2000);
    expect(readLog().filter((l) => /alerts are not reaching the system log/.test(l.msg))).toEqual([]);
  });

  it("the host carries the event source's message table: events 1-3 (INFO, WARN, ERR) are their text alone", () => {
    // What Event Viewer looks up in EventMessageFile (the host, registered by arms service
    // install): without it, it shows "the description for Event ID 1 ... cannot be found".
    expect(messageTable(fs.readFileSync(path.join(pkg, 'bin', 'win', 'arms-host.exe')))).toEqual(
      new Map([
        [1, '%1%0\n'],
        [2, '%1%0\n'],
        [3, '%1%0\n'],
      ]),
    );
  });

  it('ARMLOAD /U on Windows without stored credentials: exit 6, saying so', async () => {
    const r = await cmd('ARMLOAD', ['U1', '/U', 'Administrator', 'node', '-e', '0']);
    expect(r.code).toBe(6);
    expect(r.stderr.trim()).toMatch(/^ARMLOAD: \/U Administrator/);
  });
  it('/U with stored credentials: "arms account set" (password on stdin) seals them through the service; ARMLOAD /U answers 0 only once the program runs as that account, else 6 with the host\'s reason', async () => {
    const bat = path.join(tmp, 'ACCOUNT.BAT');
    writeBat(bat, ['@echo off', `set "ARMS_HOME=${homeWin}"`, `echo s3cret-pw| node "${bin('arms')}" account set Administrator`]);
    const r = await winenode(['cmd', '/c', w(bat)]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toMatch(/^stored the credentials of Administrator for ARMLOAD \/U \(sealed for the service's account in .*\\accounts\\administrator\.dpapi\)$/);
    const sealed = fs.readFileSync(path.join(home, 'state', 'accounts', 'administrator.dpapi'));
    expect(sealed.length).toBeGreaterThan(0);
    expect(sealed.includes(Buffer.from('s3cret-pw', 'utf16le'))).toBe(false);
    expect(sealed.includes(Buffer.from('s3cret-pw'))).toBe(false);

    // ARMLOAD answers only once the host has the program running as that account: the host says
    // so on a pipe of its own ("started PID"), after LogonUser and CreateProcessAsUser. Here
    // (WINE ONLY) the logon "works": Wine's LogonUser is a stub that hands back a made-up token,
    // and CreateProcessAsUser then refuses it (ERROR_INVALID_HANDLE). So the start fails: exit 6,
    // saying why, no watch, and the program never ran. On Windows the token is a real logon's and
    // LocalSystem may use it: exit 0 once the program runs as the account.
    const out = w(path.join(spaced, 'as-user.json'));
    const u = await cmd('ARMLOAD', ['U2', '/U', 'Administrator', 'node', w(path.join(spaced, 'argv.js')), out, 'as user']);
    expect(u.code, u.stderr).toBe(6);
    expect(u.stderr.trim()).toMatch(/^ARMLOAD: cannot start "node" as Administrator: the logon worked, but the program could not be started as that account \(.+\)$/);
    expect((await status()).watches.map((x) => x.id)).not.toContain('U2');
    expect(fs.existsSync(path.join(spaced, 'as-user.json'))).toBe(false);
    expect(running(/as-user\.json/)).toEqual([]);

    // Stored credentials that cannot be used: the start fails before any program runs, exit 6 with
    // the host's reason. Shown here with a sealed file that DPAPI cannot open (damaged, or sealed
    // by another account); a refused logon (a changed password: LogonUser fails with
    // ERROR_LOGON_FAILURE) takes the same path on Windows, which Wine's LogonUser cannot show.
    const file = path.join(home, 'state', 'accounts', 'administrator.dpapi');
    fs.writeFileSync(file, Buffer.from('not sealed by DPAPI'));
    const damaged = await cmd('ARMLOAD', ['U4', '/U', 'Administrator', 'node', w(path.join(spaced, 'argv.js')), out, 'as user']);
    expect(damaged.code, damaged.stderr).toBe(6);
    expect(damaged.stderr.trim()).toMatch(/^ARMLOAD: cannot start "node" as Administrator: cannot unseal .*administrator\.dpapi \(stored by another account\? store them again with arms account set\)/);
    expect((await status()).watches.map((x) => x.id)).not.toContain('U4');
    expect(fs.existsSync(path.join(spaced, 'as-user.json'))).toBe(false);
    // A name that cannot be an account is refused before anything is looked up.
    const bad = await cmd('ARMLOAD', ['U3', '/U', 'a/b', 'node', '-e', '0']);
    expect(bad.code).toBe(2);
  });
});

/** The message table (RT_MESSAGETABLE 1, first language) of a PE file: message ID to text. */
function messageTable(pe: Buffer): Map<number, string> {
  const nt = pe.readUInt32LE(0x3c);
  const sections = pe.readUInt16LE(nt + 6);
  const optSize = pe.readUInt16LE(nt + 20);
  const first = nt + 24 + optSize;
  let rsrc: { rva: number; raw: number } | null = null;
  for (let i = 0; i < sections; i++) {
    const h = first + i * 40;
    if (pe.toString('latin1', h, h + 8).replace(/\0+$/, '') === '.rsrc') rsrc = { rva: pe.readUInt32LE(h + 12), raw: pe.readUInt32LE(h + 20) };
  }
  if (!rsrc) throw new Error('no .rsrc section');
  const base = rsrc.raw;
  /** The entry with `id` in the resource directory at `dir` (its first entry when id is null). */
  const entry = (dir: number, id: number | null): number => {
    const named = pe.readUInt16LE(base + dir + 12);
    const ids = pe.readUInt16LE(base + dir + 14);
    for (let i = 0; i < named + ids; i++) {
      const e = base + dir + 16 + i * 8;
      if (id === null || pe.readUInt32LE(e) === id) return pe.readUInt32LE(e + 4) & 0x7fffffff;
    }
    throw new Error(`no resource ${id}`);
  };
  const data = base + entry(entry(entry(0, 11), 1), null);
  let at = pe.readUInt32LE(data) - rsrc.rva + base;
  const table = at;
  const out = new Map<number, string>();
  const blocks = pe.readUInt32LE(at);
  for (let b = 0; b < blocks; b++, at += 12) {
    const low = pe.readUInt32LE(at + 4);
    const high = pe.readUInt32LE(at + 8);
    let e = table + pe.readUInt32LE(at + 12);
    for (let id = low; id <= high; id++) {
      const len = pe.readUInt16LE(e);
      const unicode = pe.readUInt16LE(e + 2) === 1;
      out.set(id, pe.toString(unicode ? 'utf16le' : 'latin1', e + 4, e + len).replace(/\0+$/, ''));
      e += len;
    }
  }
  return out;
}
