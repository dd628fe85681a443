// Script kinds: a group script the service cannot run (its interpreter is missing, or is not a
// working one) fails the group with a clear error; it never counts as a success.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { call } from '../src/client/client';
import { readLog, run, startService, stopAll, tempDir } from './helpers';

afterAll(stopAll);

const hasPwsh = spawnSync('sh', ['-c', 'command -v pwsh'], { stdio: 'ignore' }).status === 0;

describe('a .ps1 group script', () => {
  it(hasPwsh ? 'runs through pwsh with its exit code' : 'without PowerShell (no pwsh here): the group is in error, saying why; nothing counts as started', async () => {
    const home = tempDir('arms-ps1-');
    const dir = path.join(home, 'groups', 'P');
    fs.mkdirSync(dir, { recursive: true });
    const marker = path.join(home, 'ran');
    fs.writeFileSync(path.join(dir, 'start.ps1'), `Set-Content -Path '${marker}' -Value 'ran'\nexit 0\n`);
    fs.writeFileSync(path.join(dir, 'stop.sh'), 'exit 0\n');
    const svc = await startService({ home, config: 'syslog: false\ngroups:\n  P:\n    start: start.ps1\n    stop: stop.sh\n' });
    const r = await run('arms', ['group', 'start', 'P'], svc.env);
    const g = ((await call(svc.pipe, 'status')) as { groups: Array<{ name: string; state: string; lastError: { step: string; message: string } | null }> }).groups[0];
    if (hasPwsh) {
      expect(r.code, r.stderr).toBe(0);
      expect(g.state).toBe('online');
      expect(fs.readFileSync(marker, 'utf8').trim()).toBe('ran');
    } else {
      expect(r.code).toBe(1);
      expect(r.stderr.trim()).toBe('arms: group P: start script start.ps1 could not be started: pwsh not found (PowerShell runs .ps1 scripts)');
      expect(g).toMatchObject({ state: 'error', lastError: { step: 'start', message: 'start script start.ps1 could not be started: pwsh not found (PowerShell runs .ps1 scripts)' } });
      expect(fs.existsSync(marker)).toBe(false);
      expect(readLog(home).some((x) => x.level === 50 && x.msg === 'start script start.ps1 (START) could not be started: pwsh not found (PowerShell runs .ps1 scripts)')).toBe(true);
    }
    await svc.stop();
  });
});
