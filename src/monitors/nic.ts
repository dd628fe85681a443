// NIC check: the link is up. Linux: /sys/class/net/NAME/operstate and carrier (sysfs is in memory:
// reading it never hangs). Windows: the adapter's connect state from `netsh interface show
// interface`. Elsewhere: the interface exists (the link state is not read).
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Check, Outcome } from './loop';

export function nicCheck(name: string, sysfs = '/sys/class/net'): Check {
  return {
    kind: 'nic',
    resource: name,
    run: async (timeoutMs) => {
      if (process.platform === 'linux') return linuxLink(name, sysfs);
      if (process.platform === 'win32') return windowsLink(name, timeoutMs);
      return os.networkInterfaces()[name]
        ? { ok: true, detail: 'present (the link state is not read on this OS)' }
        : { ok: false, detail: `no network interface named "${name}"` };
    },
  };
}

function read(file: string): string | null {
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch {
    return null; // carrier cannot be read while the interface is administratively down (EINVAL)
  }
}

export function linuxLink(name: string, sysfs = '/sys/class/net'): Outcome {
  if (name.includes('/') || name === '.' || name === '..') return { ok: false, detail: `"${name}" is not a network interface name` };
  const dir = path.join(sysfs, name);
  const operstate = read(path.join(dir, 'operstate'));
  if (operstate === null) return { ok: false, detail: `no network interface named "${name}" (${dir} does not exist)` };
  const carrier = read(path.join(dir, 'carrier'));
  // "unknown": drivers that do not report it (lo, tun, some virtual NICs): the carrier decides.
  const up = operstate === 'up' || (operstate === 'unknown' && carrier === '1');
  const state = `operstate ${operstate}, carrier ${carrier ?? 'unreadable'}`;
  return up ? { ok: true, detail: `link up (${state})` } : { ok: false, detail: `link down (${state})` };
}

function windowsLink(name: string, timeoutMs: number): Promise<Outcome> {
  return new Promise((resolve) => {
    execFile('netsh', ['interface', 'show', 'interface', `name=${name}`], { timeout: timeoutMs, windowsHide: true }, (err, stdout) => {
      const state = /Connect state:\s*(\S.*)/i.exec(stdout ?? '')?.[1]?.trim();
      const admin = /Administrative state:\s*(\S.*)/i.exec(stdout ?? '')?.[1]?.trim();
      if (!state) {
        resolve({ ok: false, detail: err && !stdout ? `cannot read the adapter state: ${err.message}` : `no network interface named "${name}"` });
        return;
      }
      const up = /^connected$/i.test(state);
      resolve({ ok: up, detail: `${up ? 'link up' : 'link down'} (connect state ${state}${admin ? `, administrative state ${admin}` : ''})` });
    });
  });
}
