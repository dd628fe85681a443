// ARMSLEEP, ARMSETCD/ARMGETCD, ARMBCAST, and ARMLOAD /U, against a real service.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readLog, run, Service, startService, stopAll, tempDir } from './helpers';

afterAll(stopAll);

describe('companions', () => {
  let svc: Service;
  beforeAll(async () => {
    svc = await startService({ config: 'syslog: false\n' });
  });

  it('ARMSETCD keeps a value under a case-insensitive name; ARMGETCD exits with it, 0 when never set', async () => {
    expect((await run('ARMSETCD', ['ReturnStart1', '2'], svc.env)).code).toBe(0);
    expect((await run('ARMGETCD', ['RETURNSTART1'], svc.env)).code).toBe(2);
    expect((await run('armgetcd', ['returnstart1'], svc.env)).code).toBe(2);
    expect((await run('ARMGETCD', ['never_set'], svc.env)).code).toBe(0);
    // From a child process back to the script that waited for it (the vendor scripts' pattern).
    expect((await run('ARMLOAD', ['child', '/W', 'sh', '-c', 'ARMSETCD RESULT 7'], svc.env)).code).toBe(0);
    expect((await run('ARMGETCD', ['result'], svc.env)).code).toBe(7);
    // POSIX exit codes hold 0-255.
    expect((await run('ARMSETCD', ['big', '300'], svc.env)).code).toBe(0);
    expect((await run('ARMGETCD', ['big'], svc.env)).code).toBe(300 & 0xff);
  });

  it('ARMSETCD/ARMGETCD usage errors exit 2', async () => {
    for (const [cmd, args] of [
      ['ARMSETCD', ['onlyname']],
      ['ARMSETCD', ['name', 'seven']],
      ['ARMSETCD', ['bad name!', '1']],
      ['ARMGETCD', []],
      ['ARMGETCD', ['a', 'b']],
    ] as const) {
      const r = await run(cmd, [...args], svc.env);
      expect(r.code, `${cmd} ${args.join(' ')}`).toBe(2);
      expect(r.stderr).toMatch(new RegExp(`^${cmd}: .+\\n$`));
    }
  });

  it('ARMSLEEP waits and exits 0; a bad number is exit 2', async () => {
    const began = Date.now();
    expect((await run('ARMSLEEP', ['1'], svc.env)).code).toBe(0);
    expect(Date.now() - began).toBeGreaterThanOrEqual(1000);
    expect((await run('ARMSLEEP', ['soon'], svc.env)).code).toBe(2);
  });

  it('ARMBCAST writes the message to the alert log with the group', async () => {
    const r = await run('ARMBCAST', ['/MSG', 'Failed to connect the switched disk partition', '/A'], { ...svc.env, ARMS_GROUPNAME: 'IIS' });
    expect(r.code).toBe(0);
    expect(readLog(svc.home, 'alert')).toContainEqual(expect.objectContaining({ src: 'ARMBCAST', group: 'IIS', msg: 'Failed to connect the switched disk partition' }));
    expect((await run('ARMBCAST', ['no /MSG'], svc.env)).code).toBe(2);
  });

  it('ARMLOAD /U runs the program as that account (the service runs as root)', async () => {
    if (process.getuid?.() !== 0) return;
    const dir = tempDir();
    fs.chmodSync(dir, 0o777);
    const out = path.join(dir, 'who');
    const r = await run('ARMLOAD', ['asnobody', '/U', 'nobody', '/W', 'sh', '-c', `id -un > ${out}`], { ...svc.env }, {});
    expect(r.code, r.stderr).toBe(0);
    expect(fs.readFileSync(out, 'utf8').trim()).toBe('nobody');
    const none = await run('ARMLOAD', ['x', '/U', 'no_such_account', 'sleep', '1'], svc.env);
    expect(none.code).toBe(6);
    expect(none.stderr).toMatch(/no such account/);
  });
});
