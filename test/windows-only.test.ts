// The Windows-only operator command (issue 15) on Linux: one clear line and exit 2, the service
// unharmed; the pipe operation behind `arms account set` refuses as a usage error. (`arms service
// install` is not Windows-only: on Linux it writes a systemd unit, test/service-install.test.ts.)
import { describe, expect, it } from 'vitest';
import { call } from '../src/client/client';
import { run, startService } from './helpers';

describe('Windows-only commands on Linux', () => {
  it('arms account set: exit 2 with one line; account.set over the pipe is a usage error', async () => {
    const svc = await startService({ config: 'syslog: false\n' });
    const account = await run('arms', ['account', 'set', 'Administrator'], svc.env, { input: 'pw\n' });
    expect(account.code).toBe(2);
    expect(account.stderr).toBe('arms: stored accounts are for Windows; on POSIX ARMLOAD /U needs the service to run as root\n');
    await expect(call(svc.pipe, 'account.set', { user: 'Administrator', password: 'pw' })).rejects.toMatchObject({ exitCode: 2 });
    await expect(call(svc.pipe, 'account.set', { user: 'Administrator' })).rejects.toMatchObject({ exitCode: 2 });
    expect((await run('arms', ['service', 'status'], svc.env)).code).toBe(0);
    await svc.stop();
  });
});
