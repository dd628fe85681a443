// NIC link state from sysfs: lo is up, a missing NIC fails clearly, down links fail (a fake sysfs).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { linuxLink, nicCheck } from '../../src/monitors/nic';
import { tempDir } from '../helpers';

function fakeNic(sysfs: string, name: string, operstate: string, carrier: string | null): void {
  fs.mkdirSync(path.join(sysfs, name), { recursive: true });
  fs.writeFileSync(path.join(sysfs, name, 'operstate'), `${operstate}\n`);
  if (carrier !== null) fs.writeFileSync(path.join(sysfs, name, 'carrier'), `${carrier}\n`);
}

describe.skipIf(process.platform !== 'linux')('NIC link state (Linux)', () => {
  it('lo passes (operstate unknown, carrier 1); a NIC that does not exist fails, naming it', async () => {
    expect(await nicCheck('lo').run(1000)).toEqual({ ok: true, detail: 'link up (operstate unknown, carrier 1)' });
    expect(await nicCheck('nosuchnic0').run(1000)).toEqual({ ok: false, detail: 'no network interface named "nosuchnic0" (/sys/class/net/nosuchnic0 does not exist)' });
    expect(linuxLink('../etc')).toMatchObject({ ok: false });
  });

  it('reads operstate and carrier: up passes; down, lowerlayerdown, no carrier fail', () => {
    const sysfs = tempDir();
    fakeNic(sysfs, 'eth0', 'up', '1');
    fakeNic(sysfs, 'eth1', 'down', null); // admin down: carrier cannot be read
    fakeNic(sysfs, 'veth2', 'lowerlayerdown', '0');
    fakeNic(sysfs, 'tun3', 'unknown', '0');
    expect(linuxLink('eth0', sysfs)).toEqual({ ok: true, detail: 'link up (operstate up, carrier 1)' });
    expect(linuxLink('eth1', sysfs)).toEqual({ ok: false, detail: 'link down (operstate down, carrier unreadable)' });
    expect(linuxLink('veth2', sysfs)).toEqual({ ok: false, detail: 'link down (operstate lowerlayerdown, carrier 0)' });
    expect(linuxLink('tun3', sysfs)).toEqual({ ok: false, detail: 'link down (operstate unknown, carrier 0)' });
  });
});
