// The HTTP API, /metrics and their refusals, against a real armsd with real group scripts and
// watched programs, over loopback on a port the system picks (listen: 127.0.0.1:0).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call } from '../src/client/client';
import { envFor, readLog, ROOT, run, Service, sleep, startService, stopAll, tempDir, until } from './helpers';
import { parsePrometheusText } from './prometheus-text';

afterAll(stopAll);

interface Reply {
  status: number;
  body: any;
  headers: Headers;
}

function client(base: string, token: string) {
  return async (p: string, opts: { method?: string; auth?: boolean | string; body?: unknown; raw?: string; headers?: Record<string, string> } = {}): Promise<Reply> => {
    const headers: Record<string, string> = { ...opts.headers };
    if (opts.auth !== false) headers.authorization = `Bearer ${typeof opts.auth === 'string' ? opts.auth : token}`;
    let body: string | undefined = opts.raw;
    if (opts.body !== undefined) {
      body = JSON.stringify(opts.body);
      headers['content-type'] ??= 'application/json';
    }
    const r = await fetch(new URL(p, base), { method: opts.method ?? (body !== undefined ? 'POST' : 'GET'), headers, body });
    const text = await r.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      /* not JSON */
    }
    return { status: r.status, body: parsed, headers: r.headers };
  };
}

function writeGroup(home: string, name: string, start: string): void {
  const dir = path.join(home, 'groups', name);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'start.sh'), `#!/bin/sh\n${start}\n`, { mode: 0o755 });
  fs.writeFileSync(path.join(dir, 'stop.sh'), '#!/bin/sh\necho stopping\n', { mode: 0o755 });
}

async function httpUrl(svc: Service): Promise<string> {
  const info = (await call(svc.pipe, 'ping')) as { http?: string };
  if (!info.http) throw new Error(`no HTTP address in ping: ${svc.output()}`);
  return info.http;
}

/** A raw request, for bodies fetch will not send (a lying Content-Length, an endless chunked body). */
function rawRequest(base: string, opts: { path: string; headers: Record<string, string>; chunks: Buffer[] }): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const u = new URL(opts.path, base);
    const req = http.request({ host: u.hostname, port: u.port, path: u.pathname, method: 'POST', headers: opts.headers }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject);
    (async () => {
      for (const c of opts.chunks) {
        if (req.destroyed) return;
        req.write(c);
        await sleep(1);
      }
      req.end();
    })().catch(() => undefined);
  });
}

describe('HTTP API against the real service', () => {
  let svc: Service;
  let base: string;
  let token: string;
  let api: ReturnType<typeof client>;
  const groupState = async (name: string) => ((await call(svc.pipe, 'status')) as any).groups.find((g: any) => g.name === name).state;
  const watch = async (id: string) => ((await call(svc.pipe, 'status')) as any).watches.find((w: any) => w.id === id);

  beforeAll(async () => {
    const home = tempDir();
    writeGroup(home, 'WEB', 'ARMLOAD APP /R 3 sleep 1000');
    writeGroup(home, 'DB', 'echo db up');
    fs.writeFileSync(path.join(home, 'arms.yaml'), 'syslog: false\nhttp: { listen: "127.0.0.1:0", maxBody: 4KB }\ngroups:\n  WEB: { start: start.sh, stop: stop.sh }\n  DB: { start: start.sh, stop: stop.sh }\n');
    svc = await startService({ home });
    base = await httpUrl(svc);
    token = fs.readFileSync(path.join(home, 'http.token'), 'utf8').trim();
    expect(fs.statSync(path.join(home, 'http.token')).mode & 0o777).toBe(0o600);
    api = client(base, token);
  });

  it('answers every read with the token, and none without it (401, WWW-Authenticate)', async () => {
    await call(svc.pipe, 'group.start', { name: 'WEB', wait: true });
    await call(svc.pipe, 'log', { message: 'for the tail', group: 'WEB', source: 'test', alert: true, level: 'WARN' });
    await call(svc.pipe, 'monitor.report', { monitor: 'RSP', group: 'WEB', resource: '127.0.0.1', kind: 'ip', ok: true, detail: 'reply in 0.25 ms', failures: 0 });
    const reads: Array<[string, (b: any) => void]> = [
      ['/api/v1/status', (b) => expect(b).toMatchObject({ server: expect.any(String), groups: expect.any(Array), watches: expect.any(Array), servers: [{ self: true, state: 'up' }], cluster: null })],
      // Alone (no cluster: section): this server, owning what is not offline here.
      ['/api/v1/servers', (b) => expect(b).toEqual([expect.objectContaining({ name: expect.any(String), self: true, state: 'up', groups: ['WEB'], pid: expect.any(Number), http: base })])],
      ['/api/v1/groups', (b) => expect(b.map((g: any) => [g.name, g.state])).toEqual([['WEB', 'online'], ['DB', 'offline']])],
      ['/api/v1/groups/web', (b) => expect(b).toMatchObject({ name: 'WEB', state: 'online', here: 'online', owner: expect.any(String) })],
      ['/api/v1/watches', (b) => expect(b).toEqual([expect.objectContaining({ id: 'APP', group: 'WEB', state: 'running' })])],
      ['/api/v1/watches/app', (b) => expect(b).toMatchObject({ id: 'APP', restartsAllowed: 3 })],
      ['/api/v1/monitors', (b) => expect(b).toEqual(expect.arrayContaining([expect.objectContaining({ monitor: 'RSP', kind: 'ip', resource: '127.0.0.1' })]))],
      ['/api/v1/log?lines=3', (b) => expect(b.lines).toHaveLength(3)],
      ['/api/v1/log?alert=1&group=web', (b) => expect(b.lines.map((l: any) => l.msg)).toContain('for the tail')],
    ];
    for (const [p, check] of reads) {
      const ok = await api(p);
      expect(ok.status, p).toBe(200);
      check(ok.body);
      const no = await api(p, { auth: false });
      expect(no.status, p).toBe(401);
      expect(no.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expect(no.body.error.code).toBe('unauthorized');
      expect((await api(p, { auth: 'x'.repeat(64) })).status, `${p} with a wrong token`).toBe(401);
    }
    expect((await api('/metrics', { auth: false })).status).toBe(401);
    expect((await api('/api/v1/events', { auth: false })).status).toBe(401);
    expect((await api('/api/v1/groups/NOPE')).status).toBe(404);
    expect((await api('/api/v1/watches/NOPE')).status).toBe(404);
    expect((await api('/api/v1/log?lines=0')).status).toBe(400);
    expect((await api('/api/v1/log?alert=maybe')).status).toBe(400);
    // For a load balancer: no token, nothing but the server's name.
    const health = await api('/healthz', { auth: false });
    expect(health.status).toBe(200);
    expect(health.body).toEqual({ ok: true, server: expect.any(String) });
    expect((await api('/api/v1/session', { auth: false })).body).toEqual({ signedIn: false, publicReads: false });
    expect((await api('/api/v1/session')).body).toEqual({ signedIn: true, publicReads: false });
    // The page holds no data: it loads without the token (and asks for it).
    const page = await fetch(base);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(await page.text()).toContain('<title>ARMS</title>');
  });

  it('refuses every action without the token (401) and changes nothing', async () => {
    const before = await watch('APP');
    const logBefore = readLog(svc.home).length;
    for (const [p, body] of [
      ['/api/v1/groups/DB/start', {}],
      ['/api/v1/groups/WEB/stop', {}],
      ['/api/v1/groups/WEB/restart', {}],
      ['/api/v1/groups/WEB/move', {}],
      ['/api/v1/watches/APP/kill', {}],
      ['/api/v1/watches/APP/suspend', {}],
      ['/api/v1/watches/APP/resume', {}],
      ['/api/v1/monitors/RSP/suspend', {}],
      ['/api/v1/monitors/RSP/resume', {}],
    ] as const) {
      for (const auth of [false, 'not-the-token-at-all'] as const) {
        const r = await api(p, { body, auth });
        expect(r.status, p).toBe(401);
      }
    }
    await sleep(300);
    expect(await groupState('DB')).toBe('offline');
    expect(await groupState('WEB')).toBe('online');
    expect(await watch('APP')).toEqual(before);
    expect(before.suspended).toBe(false);
    expect(((await call(svc.pipe, 'status')) as any).suspendedMonitors).toEqual([]);
    // Nothing was done, so nothing was logged but... nothing: no script ran, no watch ended.
    const since = readLog(svc.home).slice(logBefore);
    expect(since.filter((r) => r.src !== 'http')).toEqual([]);
  });

  it('suspends and resumes a monitor and a watch with the token, as arms monitor|watch suspend|resume do (arms status --json shows it)', async () => {
    const statusJson = async () => {
      const r = await run('arms', ['status', '--json'], svc.env);
      expect(r.code, r.stderr).toBe(0);
      return JSON.parse(r.stdout);
    };
    const rsp = (s: any) => s.monitors.find((m: any) => m.monitor === 'RSP');
    const app = (s: any) => s.watches.find((w: any) => w.id === 'APP');
    const pid = app(await statusJson()).pid;

    const off = await api('/api/v1/monitors/rsp/suspend', { body: {} });
    expect(off.status).toBe(200);
    expect(off.body).toMatchObject({ changed: ['RSP'], unchanged: [], suspended: ['RSP'] });
    let s = await statusJson();
    expect(s.suspendedMonitors).toEqual(['RSP']);
    expect(rsp(s).suspended).toBe(true);
    // Asked again: nothing to change, said so.
    expect((await api('/api/v1/monitors/RSP/suspend', { body: {} })).body).toMatchObject({ changed: [], unchanged: ['RSP'] });
    const wOff = await api('/api/v1/watches/app/suspend', { body: {} });
    expect(wOff.status).toBe(200);
    expect(wOff.body).toMatchObject({ id: 'APP', changed: true, suspended: true, state: 'running', pid });
    s = await statusJson();
    expect(app(s)).toMatchObject({ suspended: true, pid });
    // The API shows it too.
    expect((await api('/api/v1/watches/APP')).body.suspended).toBe(true);
    expect((await api('/api/v1/status')).body.suspendedMonitors).toEqual(['RSP']);

    // Unknown names: 404 with the pipe's message, and nothing changed.
    const noMonitor = await api('/api/v1/monitors/NOPE/suspend', { body: {} });
    expect(noMonitor.status).toBe(404);
    expect(noMonitor.body.error.message).toMatch(/no monitor "NOPE"/);
    expect((await api('/api/v1/monitors/NOPE/resume', { body: {} })).status).toBe(404);
    expect((await api('/api/v1/watches/NOPE/suspend', { body: {} })).status).toBe(404);
    expect((await api('/api/v1/watches/NOPE/resume', { body: {} })).status).toBe(404);
    expect((await api('/api/v1/monitors/RSP/suspend')).status).toBe(405);

    const on = await api('/api/v1/monitors/RSP/resume', { body: {} });
    expect(on.status).toBe(200);
    expect(on.body).toMatchObject({ changed: ['RSP'], suspended: [] });
    const wOn = await api('/api/v1/watches/APP/resume', { body: {} });
    expect(wOn.status).toBe(200);
    expect(wOn.body).toMatchObject({ id: 'APP', changed: true, suspended: false });
    s = await statusJson();
    expect(s.suspendedMonitors).toEqual([]);
    expect(rsp(s).suspended).toBe(false);
    expect(app(s)).toMatchObject({ suspended: false, pid, state: 'running' });
    // The service's log says who asked.
    expect(readLog(svc.home).map((r) => r.msg)).toEqual(expect.arrayContaining([expect.stringMatching(/^monitor RSP suspended \(maintenance, HTTP from 127\.0\.0\.1\)/)]));
  });

  it('acts with the token: group start (waiting, and queued: 202), stop, restart, move (422 on one server), watch kill', async () => {
    const started = await api('/api/v1/groups/db/start', { body: { wait: true } });
    expect(started.status).toBe(200);
    expect(started.body).toMatchObject({ group: 'DB', state: 'online' });

    const stop = await api('/api/v1/groups/DB/stop', { body: {} });
    expect(stop.status).toBe(202);
    expect(stop.body).toEqual({ group: 'DB', queued: true });
    expect(await until(() => groupState('DB'), (s) => s === 'offline')).toBe('offline');

    const pidBefore = (await watch('APP')).pid;
    const restart = await api('/api/v1/groups/WEB/restart', { body: { wait: true } });
    expect(restart.status).toBe(200);
    expect(restart.body.state).toBe('online');
    const after = await watch('APP');
    expect(after.pid).not.toBe(pidBefore); // the stop ended it, the start loaded it again

    const move = await api('/api/v1/groups/WEB/move', { body: {} });
    expect(move.status).toBe(422);
    expect(move.body.error.message).toMatch(/the only one/);

    const kill = await api('/api/v1/watches/app/kill', { body: {} });
    expect(kill.status).toBe(200);
    expect(kill.body).toEqual({ id: 'app', result: 'stopped' });
    expect(await watch('APP')).toBeUndefined();
    expect((await api('/api/v1/watches/APP/kill', { body: {} })).status).toBe(404);
    expect((await api('/api/v1/groups/NOPE/start', { body: {} })).status).toBe(404);
    expect((await api('/api/v1/groups/WEB/start', { body: { wait: 'yes' } })).status).toBe(400);

    // Each action is in the cluster log: who asked, from where, what came of it.
    const said = readLog(svc.home).filter((r) => r.src === 'http').map((r) => r.msg);
    expect(said).toEqual(expect.arrayContaining(['HTTP POST /api/v1/groups/DB/stop: queued', 'HTTP POST /api/v1/watches/app/kill: done']));
  });

  it('bad JSON, a body that is not an object, a wrong type, oversized bodies: 4xx, and the service unharmed', async () => {
    const p = '/api/v1/groups/DB/start';
    const cases: Array<[string, Reply]> = [
      ['bad JSON', await api(p, { raw: '{"wait": tru', headers: { 'content-type': 'application/json' } })],
      ['an array', await api(p, { raw: '[1,2]', headers: { 'content-type': 'application/json' } })],
      ['a string', await api(p, { raw: '"x"', headers: { 'content-type': 'application/json' } })],
      ['not JSON', await api(p, { raw: 'wait=true', headers: { 'content-type': 'application/x-www-form-urlencoded' } })],
      ['oversized', await api(p, { raw: JSON.stringify({ wait: false, pad: 'x'.repeat(5000) }), headers: { 'content-type': 'application/json' } })],
    ];
    expect(cases.map(([what, r]) => [what, r.status])).toEqual([
      ['bad JSON', 400],
      ['an array', 400],
      ['a string', 400],
      ['not JSON', 415],
      ['oversized', 413],
    ]);
    for (const [, r] of cases) expect(r.body.error.message).toEqual(expect.any(String));
    // A body far over the limit, sent in chunks without a length: cut at the limit, not read to its end.
    const endless = await rawRequest(base, {
      path: p,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
      chunks: Array.from({ length: 200 }, () => Buffer.alloc(16 * 1024, 0x20)),
    }).catch((e) => ({ status: 0, body: String(e) }));
    expect([413, 0]).toContain(endless.status); // 413, or the connection closed on the sender mid-body
    // A Content-Length over the limit is refused before any of the body is read.
    const lying = await rawRequest(base, { path: p, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'content-length': '100000000' }, chunks: [] });
    expect(lying.status).toBe(413);
    // Unknown paths and methods.
    expect((await api('/api/v1/nothing')).status).toBe(404);
    expect((await api('/api/v1/groups', { method: 'POST', body: {} })).status).toBe(405);
    expect((await api('/api/v1/groups/WEB/start', { method: 'GET' })).status).toBe(405);
    expect((await api('/api/v1/groups/%E0%A4%A/start', { body: {} })).status).toBe(400);
    // None of it started DB, and the service answers on both sides.
    expect(await groupState('DB')).toBe('offline');
    expect(await call(svc.pipe, 'ping')).toMatchObject({ pid: svc.proc.pid });
    expect((await api('/api/v1/status')).status).toBe(200);
    expect(svc.proc.exitCode).toBeNull();
  });

  it('signs the page in with a same-site cookie; a cookie acts only from this origin, as JSON', async () => {
    const wrong = await api('/api/v1/session', { auth: false, body: { token: 'nope' } });
    expect(wrong.status).toBe(401);
    const ok = await api('/api/v1/session', { auth: false, body: { token } });
    expect(ok.status).toBe(200);
    const cookie = ok.headers.get('set-cookie')!;
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    const jar = cookie.split(';')[0];
    expect((await api('/api/v1/status', { auth: false, headers: { cookie: jar } })).status).toBe(200);
    expect((await api('/api/v1/status', { auth: false, headers: { cookie: 'arms_token=%E0%A4%A' } })).status).toBe(401);
    // A form from elsewhere cannot send JSON; a script from elsewhere carries its Origin.
    expect((await api('/api/v1/groups/DB/start', { auth: false, raw: '', headers: { cookie: jar } })).status).toBe(415);
    expect((await api('/api/v1/groups/DB/start', { auth: false, body: {}, headers: { cookie: jar, origin: 'http://evil.example' } })).status).toBe(403);
    expect(await groupState('DB')).toBe('offline');
    const act = await api('/api/v1/groups/DB/start', { auth: false, body: { wait: true }, headers: { cookie: jar, origin: base.replace(/\/$/, '') } });
    expect(act.status).toBe(200);
  });

  it('/metrics: the Prometheus text format, with the groups, watches, monitors, scripts, failovers, requests, memory and event loop', async () => {
    // Something for each family: a monitor report, a failover, restarts of a watch.
    await call(svc.pipe, 'monitor.report', { monitor: 'RSP', group: 'WEB', resource: '/srv', kind: 'disk', ok: false, detail: 'EROFS', failures: 2 });
    // A resource name with the characters the format escapes.
    const odd = 'C:\\data "main"\nsecond line';
    await call(svc.pipe, 'monitor.report', { monitor: 'RSP', group: 'WEB', resource: odd, kind: 'disk', ok: false, detail: 'x', failures: 1 });
    await call(svc.pipe, 'group.failover', { name: 'DB', wait: true, force: true });
    const app = await watch('APP').then(async (w) => w ?? (await call(svc.pipe, 'group.restart', { name: 'WEB', wait: true }), watch('APP')));
    process.kill(app.pid, 'SIGKILL');
    await until(() => watch('APP'), (w) => w.restartsUsed === 1 && w.state === 'running');
    await sleep(300); // the change reaches the counters within 100 ms

    const r = await fetch(new URL('/metrics', base), { headers: { authorization: `Bearer ${token}` } });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const families = parsePrometheusText(await r.text());
    const value = (name: string, labels: Record<string, string> = {}) =>
      families
        .get(name.replace(/_(bucket|sum|count)$/, ''))
        ?.samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;

    expect(value('arms_group_state', { group: 'WEB', state: 'online' })).toBe(1);
    expect(value('arms_group_state', { group: 'WEB', state: 'offline' })).toBe(0);
    expect(value('arms_group_failovers_recent', { group: 'DB' })).toBe(1);
    expect(value('arms_failovers_total', { group: 'DB' })).toBe(1);
    expect(value('arms_watch_restarts_used', { watch: 'APP' })).toBe(1);
    expect(value('arms_watch_restarts_allowed', { watch: 'APP' })).toBe(3);
    expect(value('arms_watch_restarts_total', { watch: 'APP' })).toBe(1);
    expect(value('arms_watch_running', { watch: 'APP' })).toBe(1);
    expect(value('arms_monitor_up', { monitor: 'RSP', resource: '127.0.0.1' })).toBe(1);
    expect(value('arms_monitor_up', { monitor: 'RSP', resource: '/srv' })).toBe(0);
    expect(value('arms_monitor_failures', { resource: '/srv' })).toBe(2);
    expect(value('arms_monitor_failures', { resource: odd })).toBe(1);
    expect(value('arms_monitor_latency_seconds', { resource: '127.0.0.1' })).toBeCloseTo(0.00025, 8);
    expect(families.get('arms_group_script_seconds')!.type).toBe('histogram');
    // DB started by the HTTP test (1), from the page's cookie (2), by the failover (3); stopped by HTTP and the failover.
    expect(value('arms_group_script_seconds_count', { group: 'DB', action: 'start', result: 'ok' })).toBe(3);
    expect(value('arms_group_script_seconds_count', { group: 'DB', action: 'stop', result: 'ok' })).toBe(2);
    expect(value('arms_operations_total', { op: 'monitor.report', answer: 'ok' })).toBe(3); // one in the first test, two above
    expect(value('arms_http_requests_total', { route: '/api/v1/groups/:name/start', method: 'POST', code: '200' })).toBeGreaterThanOrEqual(1);
    expect(value('process_resident_memory_bytes')).toBeGreaterThan(10 * 1024 * 1024);
    expect(families.get('nodejs_eventloop_lag_seconds')?.type).toBe('gauge');
    expect(value('arms_eventloop_delay_seconds')).toBeGreaterThanOrEqual(0); // the stall monitor's, once it has measured
    expect(families.get('nodejs_eventloop_lag_p99_seconds')).toBeDefined();
  });

  it('is off by default: no address, no port, and armsd loads none of it', async () => {
    const dir = tempDir();
    const list = path.join(dir, 'modules.txt');
    const plain = await startService({ config: 'syslog: false\n', env: { NODE_OPTIONS: `-r ${path.join(ROOT, 'test', 'fixtures', 'list-modules.cjs')}`, LIST_MODULES_TO: list } });
    expect(((await call(plain.pipe, 'ping')) as { http?: string }).http).toBeUndefined();
    await plain.stop();
    const mods = fs.readFileSync(list, 'utf8').split('\n');
    expect(mods.filter((m) => /node_modules[\\/]prom-client|[\\/]dist[\\/]http[\\/](server|metrics|live|page)\.js$/.test(m))).toEqual([]);
    expect(fs.existsSync(path.join(plain.home, 'http.token'))).toBe(false);
  });
});

describe('HTTP settings', () => {
  it('refuses a listen address other than loopback without TLS (arms check and armsd), and takes one with it', async () => {
    const home = tempDir();
    fs.writeFileSync(path.join(home, 'arms.yaml'), 'syslog: false\nhttp:\n  listen: 0.0.0.0:29009\n');
    const env = envFor(home);
    const check = await run('arms', ['check'], env);
    expect(check.code).toBe(1);
    expect(check.stdout).toMatch(/arms\.yaml:3: http\.listen: 0\.0\.0\.0 is reachable from other machines: refused without http\.tls/);
    const armsd = await run('armsd', [], env);
    expect(armsd.code).toBe(2);
    fs.writeFileSync(path.join(home, 'arms.yaml'), 'http:\n  listen: 0.0.0.0:29009\n  tls: { cert: c.pem, key: k.pem }\n');
    expect((await run('arms', ['check'], env)).code).toBe(0);
    for (const [bad, said] of [
      ['listen: "127.0.0.1:99999"', /http\.listen: expected an address and port/],
      ['listen: "[::1]:0"\n  tls: { cert: c.pem }', /http\.tls: both cert and key are required/],
      ['publicReads: yes please', /http\.publicReads: expected true or false/],
      ['port: 80', /http: unknown setting "port"/],
    ] as const) {
      fs.writeFileSync(path.join(home, 'arms.yaml'), `http:\n  ${bad}\n`);
      const r = await run('arms', ['check'], env);
      expect(r.code, bad).toBe(1);
      expect(r.stdout, bad).toMatch(said);
    }
  });

  it('serves HTTPS with tls: cert and key (a certificate made here by openssl), the cookie then Secure', async () => {
    const home = tempDir();
    const made = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', path.join(home, 'key.pem'), '-out', path.join(home, 'cert.pem'), '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1'], { encoding: 'utf8' });
    if (made.error) throw new Error(`openssl is needed (Debian: apt-get install openssl): ${made.error.message}`);
    expect(made.status, made.stderr).toBe(0);
    const svc = await startService({ home, config: 'syslog: false\nhttp: { listen: "127.0.0.1:0", tls: { cert: cert.pem, key: key.pem } }\n' });
    const base = await httpUrl(svc);
    expect(base).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/$/);
    const token = fs.readFileSync(path.join(home, 'http.token'), 'utf8').trim();
    const ca = fs.readFileSync(path.join(home, 'cert.pem'));
    const request = (p: string, method: string, headers: Record<string, string>, body?: string) =>
      new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }>((resolve, reject) => {
        const req = https.request(new URL(p, base), { method, headers, ca }, (res) => {
          let text = '';
          res.on('data', (d) => (text += d));
          res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: text }));
        });
        req.on('error', reject);
        req.end(body);
      });
    const st = await request('/api/v1/status', 'GET', { authorization: `Bearer ${token}` });
    expect(st.status).toBe(200);
    expect(JSON.parse(st.body).servers[0].http).toBe(base);
    expect((await request('/api/v1/status', 'GET', {})).status).toBe(401);
    const session = await request('/api/v1/session', 'POST', { 'content-type': 'application/json' }, JSON.stringify({ token }));
    expect(String(session.headers['set-cookie'])).toMatch(/; Secure/);
    // Plain HTTP on the TLS port gets no answer from the API.
    const plain = await fetch(base.replace('https:', 'http:') + 'api/v1/status', { headers: { authorization: `Bearer ${token}` } }).then(
      (r) => r.status,
      () => 'refused',
    );
    expect(plain).not.toBe(200);
    await svc.stop();
  });

  it('publicReads: reads without the token, actions still with it', async () => {
    const svc = await startService({ config: 'syslog: false\nhttp: { listen: "[::1]:0", publicReads: true }\n' });
    const base = await httpUrl(svc);
    expect(base).toMatch(/^http:\/\/\[::1\]:\d+\/$/);
    const api = client(base, '');
    expect((await api('/api/v1/status', { auth: false })).status).toBe(200);
    expect((await api('/metrics', { auth: false })).status).toBe(200);
    expect((await api('/api/v1/groups/X/start', { auth: false, body: {} })).status).toBe(401);
    await svc.stop();
  });

  it('a token file others may read keeps HTTP off, with an alert; the service runs on', async () => {
    const home = tempDir();
    fs.writeFileSync(path.join(home, 'http.token'), 'a-token-that-is-long-enough\n', { mode: 0o644 });
    fs.chmodSync(path.join(home, 'http.token'), 0o644);
    const svc = await startService({ home, config: 'syslog: false\nhttp: { listen: "127.0.0.1:0" }\n' });
    expect(((await call(svc.pipe, 'ping')) as { http?: string }).http).toBeUndefined();
    const alert = await until(
      async () => readLog(home, 'alert').find((r) => r.src === 'http'),
      (r) => r !== undefined,
    );
    expect(alert!.msg).toMatch(/HTTP is off: the token file .* may be read by others \(mode 644\): chmod 600 it/);
    await svc.stop();
  });

  it('a port already taken keeps HTTP off, with an alert; the service runs on', async () => {
    const blocker = http.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as { port: number }).port;
    try {
      const svc = await startService({ config: `syslog: false\nhttp: { listen: "127.0.0.1:${port}" }\n` });
      const alert = await until(
        async () => readLog(svc.home, 'alert').find((r) => r.src === 'http'),
        (r) => r !== undefined,
      );
      expect(alert!.msg).toMatch(new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}: .*EADDRINUSE`));
      expect(await call(svc.pipe, 'ping')).toMatchObject({ pid: svc.proc.pid });
      await svc.stop();
    } finally {
      blocker.close();
    }
  });
});

describe('the Prometheus text reader used above', () => {
  it('rejects what is not the format (so the /metrics test can fail)', () => {
    expect(() => parsePrometheusText('# TYPE a counter\na 1\n')).not.toThrow();
    for (const bad of [
      'a 1\n', // no TYPE
      '# TYPE a counter\na{b="c} 1\n',
      '# TYPE a counter\na -1\n',
      '# TYPE a gauge\na one\n',
      '# TYPE a gauge\na 1', // no final newline
      '# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_count 1\n',
      '# TYPE h histogram\nh_bucket{le="1"} 1\nh_count 1\n',
    ]) {
      expect(() => parsePrometheusText(bad), bad).toThrow();
    }
  });
});
