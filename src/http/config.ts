// The http: section of arms.yaml. Read by config.ts (so `arms check` sees its mistakes) without
// loading the HTTP server itself: armsd loads src/http/server.ts only when this section is there.
import * as path from 'node:path';
import { isIP } from 'node:net';
import { Node } from 'yaml';
import type { Reader } from '../service/config-reader';

export interface HttpConfig {
  host: string;
  /** 0: any free port (tests); the port taken is logged and shown by `arms service status` */
  port: number;
  /** the token file (absolute); made 0600 at install or at the first start if missing */
  tokenFile: string;
  /** GET requests without the token (the page, the API's reads, /metrics); actions always need it */
  publicReads: boolean;
  /** files; required when the listen address is not loopback */
  tls: { cert: string; key: string } | null;
  /** the largest request body taken, in bytes */
  maxBody: number;
}

export const DEFAULT_HTTP_PORT = 29009;
export const TOKEN_FILE = 'http.token';

/** 127.0.0.0/8, ::1 and localhost: the addresses that only this machine reaches */
export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  if (isIP(host) === 6) return host === '::1' || /^::ffff:127\./i.test(host);
  return false;
}

/** "127.0.0.1:29009", "[::1]:29009", ":29009" (loopback), "29009" */
export function parseListen(text: string): { host: string; port: number } | null {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*))?:?(\d{1,5})$/.exec(text.trim());
  if (!m) return null;
  const host = m[1] ?? (m[2] || '127.0.0.1');
  const port = Number(m[3]);
  if (port > 65535) return null;
  if (m[1] !== undefined && isIP(m[1]) !== 6) return null;
  if (m[2] && isIP(m[2]) === 0 && !/^[A-Za-z0-9.-]+$/.test(m[2])) return null;
  return { host, port };
}

export function readHttp(r: Reader, node: Node | null, home: string): HttpConfig | null {
  const c: HttpConfig = { host: '127.0.0.1', port: DEFAULT_HTTP_PORT, tokenFile: path.join(home, TOKEN_FILE), publicReads: false, tls: null, maxBody: 64 * 1024 };
  let listenNode: Node | null = null;
  let enabled = true;
  if (node && 'value' in node && (node as { value: unknown }).value === false) return null;
  const tls: { cert?: string; key?: string } = {};
  let tlsNode: Node | null = null;
  r.map(node, 'http', {
    enabled: (v) => (enabled = r.bool(v, 'http.enabled') ?? enabled),
    listen: (v) => {
      listenNode = v;
      const s = r.string(v, 'http.listen', 'an address and port such as 127.0.0.1:29009');
      if (s === undefined) return;
      const l = parseListen(s);
      if (!l) r.problem(v, `http.listen: expected an address and port such as 127.0.0.1:29009 or [::1]:29009, got "${s}"`);
      else Object.assign(c, l);
    },
    token: (v) => {
      const s = r.string(v, 'http.token', 'the token file, relative to the home');
      if (s !== undefined) c.tokenFile = path.resolve(home, s);
    },
    publicReads: (v) => (c.publicReads = r.bool(v, 'http.publicReads') ?? c.publicReads),
    maxBody: (v) => (c.maxBody = r.size(v, 'http.maxBody') ?? c.maxBody),
    tls: (v) => {
      tlsNode = v;
      r.map(v, 'http.tls', {
        cert: (n) => (tls.cert = r.string(n, 'http.tls.cert', 'the certificate file (PEM)')),
        key: (n) => (tls.key = r.string(n, 'http.tls.key', 'the private key file (PEM)')),
      });
    },
  });
  if (tlsNode !== null) {
    if (tls.cert && tls.key) c.tls = { cert: path.resolve(home, tls.cert), key: path.resolve(home, tls.key) };
    else r.problem(tlsNode, 'http.tls: both cert and key are required');
  }
  if (!c.tls && !isLoopback(c.host)) {
    r.problem(listenNode ?? node, `http.listen: ${c.host} is reachable from other machines: refused without http.tls (cert and key), since the token would cross the network in clear`);
  }
  return enabled ? c : null;
}
