// armsd's HTTP side (loaded only when arms.yaml has an http: section): the JSON API, /metrics and
// the status page with its event stream. Node's own http module: about twenty routes, an event
// stream that needs the raw response anyway, body limits kept by hand, and nothing more to install
// or keep patched on a production server (docs/http.md says more).
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { ProtocolError } from '../protocol/messages';
import type { GroupStatus } from '../service/groups';
import type { Logs } from '../service/log';
import type { MonitorResult } from '../service/monitors';
import type { Dispatcher, ServiceInfo } from '../service/ops/index';
import type { HttpConfig } from './config';
import { openLive, PipeStatus, Snapshot, tailLog } from './live';
import { openMetrics } from './metrics';
import { PAGE } from './page';
import { HTTP_STATUS, match } from './routes';
import { ensureToken } from './token';

export interface HttpService {
  url: string;
  changed(): void;
  close(): Promise<void>;
}

const COOKIE = 'arms_token';
const MAX_LOG_LINES = 1000;

class HttpError extends Error {
  constructor(
    public status: number,
    public code: string,
    message: string,
    public headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export async function startHttp(
  config: HttpConfig,
  svc: { dispatch: Dispatcher; logs: Logs; info: ServiceInfo; groups(): GroupStatus[]; monitors(): MonitorResult[] },
): Promise<HttpService | null> {
  const { logs, dispatch } = svc;
  const fail = (why: string) => {
    logs.alert('ERR', { src: 'http' }, `HTTP is off: ${why} (the service runs on without it)`);
    return null;
  };
  let token: string;
  let tls: { cert: Buffer; key: Buffer } | null = null;
  try {
    token = ensureToken(config.tokenFile);
    if (config.tls) tls = { cert: fs.readFileSync(config.tls.cert), key: fs.readFileSync(config.tls.key) };
  } catch (e) {
    return fail((e as Error).message);
  }
  const digest = (s: string) => createHash('sha256').update(s).digest();
  const tokenDigest = digest(token);
  const isToken = (s: string) => timingSafeEqual(digest(s), tokenDigest);

  const status = async () => (await dispatch({ v: 1, id: 'http', op: 'status', args: {} }, true)) as PipeStatus;
  let metrics: ReturnType<typeof openMetrics>;
  const live = openLive({ status, monitors: svc.monitors, info: svc.info, alertFile: logs.files.alert, onSnapshot: (s) => metrics.trackWatches(s.watches) });
  metrics = openMetrics({ status: live.snapshot, served: dispatch.served });
  // The first look: counters start from what is there now.
  metrics.trackGroups(svc.groups());
  void status().then((s) => metrics.trackWatches(s.watches));
  let groupsLook = false;
  const changed = () => {
    // After the change's own turn (the group's lastEvent is set just after its state): every step counted.
    if (!groupsLook) {
      groupsLook = true;
      queueMicrotask(() => {
        groupsLook = false;
        metrics.trackGroups(svc.groups());
      });
    }
    live.changed();
  };

  /** 'bearer', 'cookie', or null */
  const authOf = (req: http.IncomingMessage): 'bearer' | 'cookie' | null => {
    const h = req.headers.authorization;
    if (h) {
      const bearer = /^Bearer\s+(\S+)$/i.exec(h);
      return bearer && isToken(bearer[1]) ? 'bearer' : null;
    }
    const c = (req.headers.cookie ?? '').split(';').map((x) => x.trim()).find((x) => x.startsWith(`${COOKIE}=`));
    try {
      return c && isToken(decodeURIComponent(c.slice(COOKIE.length + 1))) ? 'cookie' : null;
    } catch {
      return null; // not valid URL encoding
    }
  };
  const unauthorized = () => new HttpError(401, 'unauthorized', 'this needs the token: "Authorization: Bearer <token>" (the token file is in the home, see docs/http.md)', { 'WWW-Authenticate': 'Bearer realm="arms"' });

  const readBody = (req: http.IncomingMessage): Promise<Record<string, unknown>> =>
    new Promise((resolve, reject) => {
      const declared = Number(req.headers['content-length'] ?? 0);
      if (declared > config.maxBody) return reject(new HttpError(413, 'too_large', `the body is ${declared} bytes: at most ${config.maxBody} are taken`));
      const chunks: Buffer[] = [];
      let size = 0;
      let over = false;
      req.on('data', (c: Buffer) => {
        if (over) return;
        size += c.length;
        if (size > config.maxBody) {
          over = true;
          reject(new HttpError(413, 'too_large', `the body is longer than ${config.maxBody} bytes`));
          return;
        }
        chunks.push(c);
      });
      req.on('error', reject);
      req.on('end', () => {
        if (over) return;
        const text = Buffer.concat(chunks).toString('utf8');
        if (!text.trim()) return resolve({});
        if (!/^application\/json\b/i.test(req.headers['content-type'] ?? '')) return reject(new HttpError(415, 'bad_request', 'the body must be JSON (Content-Type: application/json)'));
        let v: unknown;
        try {
          v = JSON.parse(text);
        } catch (e) {
          return reject(new HttpError(400, 'bad_request', `the body is not JSON: ${(e as Error).message}`));
        }
        if (typeof v !== 'object' || v === null || Array.isArray(v)) return reject(new HttpError(400, 'bad_request', 'the body must be a JSON object'));
        resolve(v as Record<string, unknown>);
      });
    });

  const json = (res: http.ServerResponse, code: number, body: unknown, headers: Record<string, string> = {}) => {
    const text = JSON.stringify(body);
    res.writeHead(code, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store', 'Content-Length': Buffer.byteLength(text), ...headers });
    res.end(text);
  };

  const read = async (op: string, params: Record<string, string>, query: URLSearchParams): Promise<unknown> => {
    if (op === 'read.log') {
      const lines = query.has('lines') ? Number(query.get('lines')) : 100;
      if (!Number.isInteger(lines) || lines < 1 || lines > MAX_LOG_LINES) throw new HttpError(400, 'usage', `lines: expected a whole number from 1 to ${MAX_LOG_LINES}`);
      const alert = query.get('alert');
      if (alert !== null && !['0', '1', 'true', 'false'].includes(alert)) throw new HttpError(400, 'usage', 'alert: expected 1 or 0');
      const group = query.get('group')?.toUpperCase();
      const file = alert === '1' || alert === 'true' ? logs.files.alert : logs.files.cluster;
      return { file: path.basename(file), lines: tailLog(file, lines, group ? (r) => typeof r.group === 'string' && r.group.toUpperCase() === group : undefined) };
    }
    const s: Snapshot = await live.snapshot();
    const find = <T>(list: T[], key: (x: T) => string, name: string, what: string) => {
      const found = list.find((x) => key(x).toUpperCase() === name.toUpperCase());
      if (!found) throw new HttpError(404, 'not_found', `unknown ${what} "${name}"`);
      return found;
    };
    switch (op) {
      case 'read.status':
        return s;
      case 'read.servers':
        return s.servers;
      case 'read.groups':
        return s.groups;
      case 'read.group':
        return find(s.groups, (g) => g.name, params.name, 'group');
      case 'read.watches':
        return s.watches;
      case 'read.watch':
        return find(s.watches, (w) => w.id, params.id, 'watch');
      case 'read.monitors':
        return s.monitors;
    }
    throw new Error(`no read called ${op}`);
  };

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<string> => {
    // Not new URL(req.url, base): a path beginning "//" would be read as a host.
    const raw = req.url ?? '/';
    const url = new URL(`http://x${raw.startsWith('/') ? raw : `/${raw}`}`);
    const method = req.method ?? 'GET';
    const segments = url.pathname.split('/').filter(Boolean).map((s) => {
      try {
        return decodeURIComponent(s);
      } catch {
        throw new HttpError(400, 'bad_request', `the path segment "${s}" is not valid URL encoding`);
      }
    });
    const reads = method === 'GET' || method === 'HEAD';
    const needAuth = (write: boolean) => {
      const auth = authOf(req);
      if (!auth && (write || !config.publicReads)) throw unauthorized();
      return auth;
    };

    if (segments.length === 0 || (segments.length === 1 && segments[0] === 'index.html')) {
      if (!reads) throw new HttpError(405, 'bad_request', 'the page is read with GET', { Allow: 'GET' });
      // The page holds no data (it asks the API), so it loads without the token and asks for it.
      const nonce = randomBytes(16).toString('base64');
      const body = PAGE.replace(/__NONCE__/g, nonce);
      res.writeHead(200, {
        'Content-Type': 'text/html; charset=utf-8',
        'Content-Length': Buffer.byteLength(body),
        'Cache-Control': 'no-store',
        'Content-Security-Policy': `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
        'X-Content-Type-Options': 'nosniff',
        'Referrer-Policy': 'no-referrer',
      });
      res.end(method === 'HEAD' ? undefined : body);
      return 'page';
    }
    if (url.pathname === '/healthz') {
      json(res, 200, { ok: true, server: svc.info.server });
      return 'healthz';
    }
    if (url.pathname === '/metrics') {
      if (!reads) throw new HttpError(405, 'bad_request', '/metrics is read with GET', { Allow: 'GET' });
      needAuth(false);
      const text = await metrics.text();
      res.writeHead(200, { 'Content-Type': metrics.registry.contentType, 'Cache-Control': 'no-store', 'Content-Length': Buffer.byteLength(text) });
      res.end(text);
      return 'metrics';
    }
    if (url.pathname === '/api/v1/session') {
      // The page's sign-in: the token given once becomes an HttpOnly, same-site cookie (the event
      // stream cannot send an Authorization header).
      if (reads) {
        // The page asks first, so that a normal load has no failed request.
        json(res, 200, { signedIn: authOf(req) !== null, publicReads: config.publicReads });
        return 'session';
      }
      if (method !== 'POST') throw new HttpError(405, 'bad_request', 'sign in with POST {"token": "..."}', { Allow: 'GET, POST' });
      const body = await readBody(req);
      if (typeof body.token !== 'string' || !isToken(body.token)) {
        logs.write('WARN', { src: 'http', remote: req.socket.remoteAddress }, 'HTTP sign-in with a wrong token');
        throw unauthorized();
      }
      json(res, 200, { ok: true }, { 'Set-Cookie': `${COOKIE}=${encodeURIComponent(body.token)}; HttpOnly; SameSite=Strict; Path=/${tls ? '; Secure' : ''}` });
      return 'session';
    }
    if (url.pathname === '/api/v1/events') {
      if (!reads) throw new HttpError(405, 'bad_request', 'the event stream is read with GET', { Allow: 'GET' });
      needAuth(false);
      if (!live.subscribe(res)) throw new HttpError(503, 'conflict', 'too many pages are open on this service');
      return 'events';
    }

    const m = match(method === 'HEAD' ? 'GET' : method, segments);
    if (!m) throw new HttpError(404, 'not_found', `nothing at ${url.pathname} (the API is under /api/v1/: docs/http.md)`);
    if ('allowed' in m) throw new HttpError(405, 'bad_request', `${url.pathname} takes ${m.allowed.join(', ')}`, { Allow: m.allowed.join(', ') });
    const { route, params } = m;
    const name = `/${route.path.join('/')}`;
    if (route.method === 'GET') {
      needAuth(false);
      json(res, 200, await read(route.op, params, url.searchParams));
      return name;
    }

    const auth = needAuth(true);
    if (auth === 'cookie') {
      // A cookie is sent by the browser on its own: only a same-origin JSON request may act with it.
      const origin = req.headers.origin;
      if (origin && origin !== 'null' && new URL(origin).host !== req.headers.host) throw new HttpError(403, 'forbidden', `a request from ${origin} may not act on this service`);
      if (!/^application\/json\b/i.test(req.headers['content-type'] ?? '')) throw new HttpError(415, 'bad_request', 'an action from the page is sent as JSON (Content-Type: application/json)');
    }
    const body = await readBody(req);
    const args = route.args!(params, body, `HTTP from ${req.socket.remoteAddress}`);
    const who = { src: 'http', remote: req.socket.remoteAddress, op: route.op };
    try {
      const result = await dispatch({ v: 1, id: 'http', op: route.op, args });
      const queued = typeof result === 'object' && result !== null && (result as { queued?: unknown }).queued === true;
      logs.write('INFO', who, `HTTP ${method} ${url.pathname}: ${queued ? 'queued' : 'done'}`);
      // Not every action announces itself (a monitor's suspension): open pages see it now.
      live.changed();
      json(res, queued ? 202 : 200, result);
    } catch (e) {
      if (!(e instanceof ProtocolError)) throw e;
      logs.write('WARN', who, `HTTP ${method} ${url.pathname}: ${e.code}: ${e.message}`);
      throw new HttpError(HTTP_STATUS[e.code], e.code, e.message);
    }
    return name;
  };

  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse) => {
    handle(req, res).then(
      (route) => metrics.http(route, req.method ?? '', res.statusCode),
      (e) => {
        const err =
          e instanceof HttpError
            ? e
            : (logs.write('ERR', { src: 'http' }, `internal error on ${req.method} ${req.url}: ${(e as Error).stack ?? e}`), new HttpError(500, 'internal', `internal error: ${(e as Error).message}`));
        metrics.http('error', req.method ?? '', err.status);
        if (res.headersSent) return void res.destroy();
        // A body not read (too large, or refused before it was read) is not waited for.
        const headers = { ...err.headers, ...(req.complete ? {} : { Connection: 'close' }) };
        json(res, err.status, { error: { code: err.code, message: err.message } }, headers);
      },
    );
  };

  const server = tls ? https.createServer({ ...tls }, onRequest) : http.createServer(onRequest);
  server.requestTimeout = 30_000;
  server.headersTimeout = 10_000;
  server.keepAliveTimeout = 5_000;
  server.maxConnections = 256;
  server.on('clientError', (_e, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    else socket.destroy();
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.port, config.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (e) {
    live.close();
    return fail(`cannot listen on ${config.host}:${config.port}: ${(e as Error).message}`);
  }
  const a = server.address() as AddressInfo;
  const url = `${tls ? 'https' : 'http'}://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}/`;
  svc.info.http = url;
  logs.write('INFO', { src: 'http', url }, `HTTP listening on ${url} (token in ${config.tokenFile}${config.publicReads ? '; reads without it' : ''})`);
  process.stdout.write(`armsd: HTTP on ${url}\n`);

  return {
    url,
    changed,
    async close() {
      live.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
