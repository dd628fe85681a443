// Address checks: parsing, TCP connect to an open and a closed loopback port, ping of loopback.
import { spawnSync } from 'node:child_process';
import * as net from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { parseAddress, ping, pingArgs, tcpConnect } from '../../src/monitors/address';

const hasPing = spawnSync('ping', ['-V']).error === undefined;
if (!hasPing) console.warn('ping tests skipped: no ping program (Debian: apt-get install iputils-ping)');

const servers: net.Server[] = [];
afterAll(() => servers.forEach((s) => s.close()));

async function openPort(): Promise<number> {
  const s = net.createServer((c) => c.destroy());
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return (s.address() as net.AddressInfo).port;
}
async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

describe('addresses', () => {
  it('host:port is a TCP connect, anything else a ping', () => {
    expect(parseAddress('192.168.0.1')).toEqual({ kind: 'ping', host: '192.168.0.1' });
    expect(parseAddress('db.example')).toEqual({ kind: 'ping', host: 'db.example' });
    expect(parseAddress('fe80::1')).toEqual({ kind: 'ping', host: 'fe80::1' });
    expect(parseAddress('[::1]')).toEqual({ kind: 'ping', host: '::1' });
    expect(parseAddress('db:5432')).toEqual({ kind: 'tcp', host: 'db', port: 5432 });
    expect(parseAddress('[::1]:80')).toEqual({ kind: 'tcp', host: '::1', port: 80 });
    expect(parseAddress(' 127.0.0.1:8080 ')).toEqual({ kind: 'tcp', host: '127.0.0.1', port: 8080 });
    for (const bad of ['', ' ', 'a b', 'host:0', 'host:70000', 'a:b:c', 'host:']) expect(parseAddress(bad), bad).toBeNull();
  });

  it('ping arguments: one echo request, the wait bounded by the timeout', () => {
    expect(pingArgs('10.0.0.1', 2500, 'linux')).toEqual(['-n', '-c', '1', '-W', '3', '10.0.0.1']);
    expect(pingArgs('10.0.0.1', 300, 'linux')).toEqual(['-n', '-c', '1', '-W', '1', '10.0.0.1']);
    expect(pingArgs('10.0.0.1', 2500, 'win32')).toEqual(['-n', '1', '-w', '2500', '10.0.0.1']);
    expect(pingArgs('10.0.0.1', 2500, 'darwin')).toEqual(['-n', '-c', '1', '-t', '3', '10.0.0.1']);
  });

  it('TCP: an open loopback port passes, a closed one fails (connection refused)', async () => {
    const open = await openPort();
    const o = await tcpConnect('127.0.0.1', open, 2000);
    expect(o.ok).toBe(true);
    expect(o.detail).toMatch(/^connected in \d+ ms$/);
    const closed = await closedPort();
    expect(await tcpConnect('127.0.0.1', closed, 2000)).toEqual({ ok: false, detail: `cannot connect to 127.0.0.1 port ${closed}: connection refused (ECONNREFUSED)` });
  });

  it.skipIf(!hasPing)('ping of 127.0.0.1 passes', async () => {
    const o = await ping('127.0.0.1', 2000);
    expect(o.ok).toBe(true);
    expect(o.detail).toMatch(/^reply in [\d.]+ ms$/);
  });
});
