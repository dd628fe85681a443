// Raw frames on the real pipe: whatever a client sends, it gets an answer it can read, and the
// service (and other connections, and the same connection) go on working.
import * as net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call } from '../src/client/client';
import { lineSplitter } from '../src/protocol/framing';
import { MAX_FRAME } from '../src/protocol/messages';
import { fromArmlog, run, Service, startService, stopAll } from './helpers';

afterAll(stopAll);

/** A raw connection: write bytes, read answers as parsed JSON lines. */
async function raw(pipe: string) {
  const sock = net.connect(pipe);
  await new Promise<void>((resolve, reject) => {
    sock.once('connect', resolve);
    sock.once('error', reject);
  });
  const answers: any[] = [];
  let waiters: Array<() => void> = [];
  sock.on('data', lineSplitter(MAX_FRAME * 4, {
    line: (l) => {
      answers.push(JSON.parse(l));
      for (const w of waiters) w();
      waiters = [];
    },
    oversized: () => {
      throw new Error('answer too large');
    },
  }));
  return {
    send: (data: string | Buffer) => sock.write(data),
    async next(): Promise<any> {
      const deadline = Date.now() + 10_000;
      while (answers.length === 0) {
        if (Date.now() > deadline) throw new Error('no answer');
        await new Promise<void>((r) => {
          waiters.push(r);
          setTimeout(r, 200);
        });
      }
      return answers.shift();
    },
    close: () => sock.destroy(),
  };
}

describe('the pipe protocol', () => {
  let svc: Service;
  beforeAll(async () => {
    svc = await startService({ config: 'syslog: false\n' });
  });

  const good = (id: number, message: string) => JSON.stringify({ v: 1, id, op: 'log', args: { message, source: 'ARMLOG' } }) + '\n';

  it('answers a well-formed request with its id', async () => {
    const c = await raw(svc.pipe);
    c.send(JSON.stringify({ v: 1, id: 'abc', op: 'ping' }) + '\n');
    expect(await c.next()).toMatchObject({ v: 1, id: 'abc', ok: true, result: { pid: svc.proc.pid } });
    c.close();
  });

  const badFrames: Array<[string, string | Buffer, object]> = [
    ['garbage', 'this is not json\n', { id: null, ok: false, error: { code: 'bad_request' } }],
    ['binary garbage', Buffer.from([0xff, 0xfe, 0x00, 0x01, 0x0a]), { id: null, ok: false, error: { code: 'bad_request' } }],
    ['truncated JSON', '{"v":1,"id":4,"op":"lo\n', { id: null, ok: false, error: { code: 'bad_request' } }],
    ['an array', '[1,2,3]\n', { id: null, ok: false, error: { code: 'bad_request' } }],
    ['wrong version', '{"v":99,"id":5,"op":"ping"}\n', { id: 5, ok: false, error: { code: 'version' } }],
    ['no version', '{"id":6,"op":"ping"}\n', { id: 6, ok: false, error: { code: 'version' } }],
    ['no id', '{"v":1,"op":"ping"}\n', { id: null, ok: false, error: { code: 'bad_request' } }],
    ['a negative id', '{"v":1,"id":-3,"op":"ping"}\n', { id: null, ok: false, error: { code: 'bad_request' } }],
    ['no op', '{"v":1,"id":7}\n', { id: 7, ok: false, error: { code: 'bad_request' } }],
    ['unknown op', '{"v":1,"id":8,"op":"selfdestruct"}\n', { id: 8, ok: false, error: { code: 'unknown_op' } }],
    ['op from the prototype', '{"v":1,"id":9,"op":"constructor"}\n', { id: 9, ok: false, error: { code: 'unknown_op' } }],
    ['args not an object', '{"v":1,"id":10,"op":"log","args":"hi"}\n', { id: 10, ok: false, error: { code: 'bad_request' } }],
    ['message not a string', '{"v":1,"id":11,"op":"log","args":{"message":42}}\n', { id: 11, ok: false, error: { code: 'usage' } }],
    ['message missing', '{"v":1,"id":12,"op":"log","args":{}}\n', { id: 12, ok: false, error: { code: 'usage' } }],
    ['bad level', '{"v":1,"id":13,"op":"log","args":{"message":"m","level":"LOUD"}}\n', { id: 13, ok: false, error: { code: 'usage' } }],
    ['bad pid', '{"v":1,"id":14,"op":"log","args":{"message":"m","pid":"me"}}\n', { id: 14, ok: false, error: { code: 'usage' } }],
  ];

  for (const [name, frame, expected] of badFrames) {
    it(`${name}: an error answer, and the same connection goes on`, async () => {
      const c = await raw(svc.pipe);
      c.send(frame);
      const answer = await c.next();
      expect(answer).toMatchObject({ v: 1, ...expected });
      expect(answer.error.message).toMatch(/^[^\n]+$/);
      c.send(good(100, `after ${name}`));
      expect(await c.next()).toMatchObject({ id: 100, ok: true });
      c.close();
      expect(fromArmlog(svc.home).some((r) => r.msg === `after ${name}`)).toBe(true);
    });
  }

  it('an oversized frame is answered with too_large and dropped; the connection goes on', async () => {
    const c = await raw(svc.pipe);
    const huge = JSON.stringify({ v: 1, id: 1, op: 'log', args: { message: 'h'.repeat(MAX_FRAME + 10) } }) + '\n';
    // Sent in pieces, as a real client's large write would arrive.
    for (let i = 0; i < huge.length; i += 65536) c.send(huge.slice(i, i + 65536));
    expect(await c.next()).toMatchObject({ id: null, ok: false, error: { code: 'too_large' } });
    c.send(good(2, 'after the oversized frame'));
    expect(await c.next()).toMatchObject({ id: 2, ok: true });
    c.close();
    expect(fromArmlog(svc.home).some((r) => r.msg.startsWith('hhhh'))).toBe(false);
  });

  it('several requests in one write, and one request split across writes, are all answered', async () => {
    const c = await raw(svc.pipe);
    c.send(good(1, 'batch a') + good(2, 'batch b') + good(3, 'batch c'));
    const frame = good(4, 'split ✓ across writes');
    const bytes = Buffer.from(frame);
    const cut = bytes.indexOf(Buffer.from('✓')) + 1; // in the middle of a UTF-8 character
    c.send(bytes.subarray(0, cut));
    await new Promise((r) => setTimeout(r, 50));
    c.send(bytes.subarray(cut));
    const ids = [await c.next(), await c.next(), await c.next(), await c.next()].map((a) => a.id).sort();
    expect(ids).toEqual([1, 2, 3, 4]);
    c.close();
    expect(fromArmlog(svc.home).some((r) => r.msg === 'split ✓ across writes')).toBe(true);
  });

  it('a connection spewing garbage does not disturb well-formed requests on another one', async () => {
    const bad = await raw(svc.pipe);
    let spewing = true;
    const spew = (async () => {
      while (spewing) {
        bad.send('{{{{ garbage ' + 'q'.repeat(5000) + '\n' + Buffer.from([0xc3, 0x28]).toString('latin1'));
        await new Promise((r) => setImmediate(r));
      }
    })();
    for (let i = 0; i < 20; i++) await call(svc.pipe, 'log', { message: `calm ${i}`, source: 'ARMLOG' }, 5000);
    spewing = false;
    await spew;
    bad.close();
    expect(fromArmlog(svc.home).filter((r) => r.msg.startsWith('calm '))).toHaveLength(20);
    expect((await run('armlog', ['service still fine'], svc.env)).code).toBe(0);
  });

  it('a client that disconnects before its answer does not hurt the service', async () => {
    for (let i = 0; i < 20; i++) {
      const c = await raw(svc.pipe);
      c.send(good(1, `hang-up ${i}`));
      c.close();
    }
    expect((await run('armlog', ['after the hang-ups'], svc.env)).code).toBe(0);
  });
});

describe('the line splitter', () => {
  it('splits on newlines, drops CR, keeps UTF-8 split across chunks, and flags long lines once', () => {
    const lines: string[] = [];
    let oversized = 0;
    const feed = lineSplitter(10, { line: (l) => lines.push(l), oversized: () => oversized++ });
    const euro = Buffer.from('€'); // 3 bytes
    feed(Buffer.concat([Buffer.from('ab\r\ncd'), euro.subarray(0, 1)]));
    feed(Buffer.concat([euro.subarray(1), Buffer.from('\n')]));
    feed(Buffer.from('0123456789ABCDEF'));
    feed(Buffer.from('more of the long one\nok\n'));
    expect(lines).toEqual(['ab', 'cd€', 'ok']);
    expect(oversized).toBe(1);
  });
});
