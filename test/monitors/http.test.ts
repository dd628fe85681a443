// HTTP probe against a local server: 2xx/3xx pass, 500 fails, a hang fails at the timeout,
// the expected text is looked for in the body.
import * as http from 'node:http';
import * as net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpCheck, parseHttpUrl } from '../../src/monitors/http';

let server: http.Server;
let base: string;
const hanging: http.ServerResponse[] = [];
beforeAll(async () => {
  server = http.createServer((req, res) => {
    if (req.url === '/ok') res.end('hello world');
    else if (req.url === '/redirect') res.writeHead(302, { location: '/ok' }).end();
    else if (req.url === '/fail') res.writeHead(500).end('oops');
    else if (req.url === '/hang') hanging.push(res);
    else if (req.url === '/slowbody') {
      res.writeHead(200);
      res.write('first part ');
      hanging.push(res);
    } else res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
});
afterAll(() => {
  hanging.forEach((r) => r.destroy());
  server.close();
});

describe('HTTP probe', () => {
  it('200 and 302 pass; 500 and 404 fail with the status', async () => {
    expect(await httpCheck(`${base}/ok`).run(2000)).toMatchObject({ ok: true, detail: expect.stringMatching(/^HTTP 200 OK in \d+ ms$/) });
    expect(await httpCheck(`${base}/redirect`).run(2000)).toMatchObject({ ok: true, detail: expect.stringMatching(/^HTTP 302 Found/) });
    expect(await httpCheck(`${base}/fail`).run(2000)).toEqual({ ok: false, detail: 'HTTP 500 Internal Server Error (expected 2xx or 3xx)' });
    expect(await httpCheck(`${base}/nothing`).run(2000)).toEqual({ ok: false, detail: 'HTTP 404 Not Found (expected 2xx or 3xx)' });
  });

  it('the expected text must be in the body', async () => {
    const c = httpCheck(`${base}/ok`, 'world');
    expect(c.resource).toBe(`${base}/ok (expect "world")`);
    expect(await c.run(2000)).toMatchObject({ ok: true, detail: expect.stringMatching(/with the expected text/) });
    expect(await httpCheck(`${base}/ok`, 'galaxy').run(2000)).toEqual({ ok: false, detail: 'HTTP 200 OK, but the answer does not contain "galaxy"' });
  });

  it('a server that does not answer, or stops half way through the body, fails at the timeout', async () => {
    const start = Date.now();
    expect(await httpCheck(`${base}/hang`).run(400)).toEqual({ ok: false, detail: `no complete answer from ${base}/hang within 0.4 s` });
    expect(Date.now() - start).toBeLessThan(1500);
    expect(await httpCheck(`${base}/slowbody`, 'never').run(400)).toEqual({ ok: false, detail: `no complete answer from ${base}/slowbody within 0.4 s` });
  });

  it('connection refused fails; only http and https URLs are accepted', async () => {
    const s = net.createServer();
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    const port = (s.address() as net.AddressInfo).port;
    await new Promise((r) => s.close(r));
    expect(await httpCheck(`http://127.0.0.1:${port}/`).run(2000)).toEqual({ ok: false, detail: `request failed: connect ECONNREFUSED 127.0.0.1:${port}` });
    expect(parseHttpUrl('https://x/')).not.toBeNull();
    for (const bad of ['ftp://x/', 'x', '/path', '']) expect(parseHttpUrl(bad), bad).toBeNull();
  });
});
