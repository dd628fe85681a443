// Answers larger than a request may be: `status` of 10,000 watches is ~4 MB, past the 1 MiB a
// request line may have. The client takes them whole, without a ceiling (issue 12: a status grows
// with the installation).
import * as net from 'node:net';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { call } from '../src/client/client';
import { MAX_FRAME } from '../src/protocol/messages';
import { tempDir } from './helpers';

describe('the client', () => {
  it('takes an answer of several MiB, as status sends for thousands of watches', async () => {
    const sock = path.join(tempDir(), 's.sock');
    const big = 'w'.repeat(4 * MAX_FRAME);
    const server = net.createServer((s) => s.on('error', () => undefined).once('data', () => s.end(JSON.stringify({ v: 1, id: 1, ok: true, result: big }) + '\n')));
    await new Promise<void>((r) => server.listen(sock, r));
    try {
      expect(await call(sock, 'status')).toBe(big);
    } finally {
      server.close();
    }
  });
});
