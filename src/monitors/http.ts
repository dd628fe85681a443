// HTTP(S) probe: a GET that must answer 2xx or 3xx (redirects are not followed) within the timeout,
// and, with an expected text, whose body (its first MiB) contains it. A new connection each time.
import type { IncomingMessage } from 'node:http';
import { StringDecoder } from 'node:string_decoder';
import { Check, Outcome, seconds, took } from './loop';

/** The most of a body read when looking for the expected text. */
const MAX_BODY = 1024 * 1024;

export function parseHttpUrl(text: string): URL | null {
  try {
    const u = new URL(text);
    return u.protocol === 'http:' || u.protocol === 'https:' ? u : null;
  } catch {
    return null;
  }
}

export function httpCheck(url: string, expect?: string): Check {
  return {
    kind: 'http',
    resource: expect === undefined ? url : `${url} (expect "${expect}")`,
    run: (timeoutMs) => probe(url, expect, timeoutMs),
  };
}

function probe(url: string, expect: string | undefined, timeoutMs: number): Promise<Outcome> {
  const start = Date.now();
  // Loaded here: only a monitor with /HTTP pays for them (https brings tls).
  const mod = (url.startsWith('https:') ? require('node:https') : require('node:http')) as typeof import('node:http');
  return new Promise<Outcome>((resolve) => {
    let done = false;
    const finish = (o: Outcome) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      req.destroy();
      resolve(o);
    };
    const req = mod.request(url, { method: 'GET', agent: false, headers: { 'user-agent': 'ARMRSP', connection: 'close' } });
    const timer = setTimeout(() => finish({ ok: false, detail: `no complete answer from ${url} within ${seconds(timeoutMs)}` }), timeoutMs);
    req.on('error', (e: NodeJS.ErrnoException) => finish({ ok: false, detail: `request failed: ${e.message}` }));
    req.on('response', (res: IncomingMessage) => {
      const status = res.statusCode ?? 0;
      const line = `HTTP ${status}${res.statusMessage ? ` ${res.statusMessage}` : ''}`;
      if (status < 200 || status >= 400) {
        finish({ ok: false, detail: `${line} (expected 2xx or 3xx)` });
        return;
      }
      if (expect === undefined) {
        finish({ ok: true, detail: `${line} in ${took(start)}` });
        return;
      }
      const decoder = new StringDecoder('utf8');
      let body = '';
      let size = 0;
      const look = (): boolean => {
        if (body.includes(expect)) {
          finish({ ok: true, detail: `${line} with the expected text in ${took(start)}` });
          return true;
        }
        return false;
      };
      res.on('data', (d: Buffer) => {
        if (size >= MAX_BODY) return;
        body += decoder.write(d);
        size += d.length;
        if (look()) return;
        if (size >= MAX_BODY) finish({ ok: false, detail: `${line}, but its first MiB does not contain "${expect}"` });
      });
      res.on('end', () => {
        if (!look()) finish({ ok: false, detail: `${line}, but the answer does not contain "${expect}"` });
      });
      res.on('error', (e) => finish({ ok: false, detail: `${line}, then the answer broke off: ${e.message}` }));
    });
    req.end();
  });
}
