// The Windows-only operator commands (issue 15) on Linux: one clear line and exit 2, the service
// unharmed; the pipe operation behind `arms account set` refuses as a usage error.
import { describe, expect, it } from 'vitest';
import { call } from '../src/client/client';
import { run, startService } from './helpers';

describe('Windows-only commands on Linux', () => {
  it('arms service install/uninstall and arms account set: exit 2 with one line; account.set over the pipe is a usage error', async () => {
    const svc = await startService({ config: 'syslog: false\n' });
    const install = await run('arms', ['service', 'install'], svc.env);
    expect(install).toMatchObject({ code: 2, stdout: '' });
    expect(install.stderr).toBe('arms: arms service install registers a Windows service; on Linux run armsd under systemd (Type=simple, ExecStart=armsd)\n');
    const uninstall = await run('arms', ['service', 'uninstall'], svc.env);
    expect(uninstall.code).toBe(2);
    expect(uninstall.stderr).toBe('arms: arms service uninstall removes a Windows service; there is none on this system\n');
    const account = await run('arms', ['account', 'set', 'Administrator'], svc.env, { input: 'pw\n' });
    expect(account.code).toBe(2);
    expect(account.stderr).toBe('arms: stored accounts are for Windows; on POSIX ARMLOAD /U needs the service to run as root\n');
    await expect(call(svc.pipe, 'account.set', { user: 'Administrator', password: 'pw' })).rejects.toMatchObject({ exitCode: 2 });
    await expect(call(svc.pipe, 'account.set', { user: 'Administrator' })).rejects.toMatchObject({ exitCode: 2 });
    expect((await run('arms', ['service', 'status'], svc.env)).code).toBe(0);
    await svc.stop();
  });
});
