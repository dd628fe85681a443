// Alert routes against real receivers on loopback (an HTTP sink and an SMTP server the test starts,
// on ports the OS picks) and a real command: what each receives, the filters by level and group,
// retries with backoff, the rate limit, a hung webhook that holds nothing up, arms alert test.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { call } from '../../src/client/client';
import { readLog, run, Service, sleep, startService, stopAll, tempDir, until } from '../helpers';
import { httpSink, smtpSink } from './sinks';

afterAll(stopAll);

const armlog = (svc: Service, msg: string, level: string, group?: string) =>
  run('ARMLOG', [msg, '/ARM', '/L', level], group ? { ...svc.env, ARMS_GROUPNAME: group } : svc.env);

interface RouteStatus {
  route: string;
  sent: number;
  failed: number;
  suppressed: number;
  queued: number;
}
const routes = async (svc: Service) => ((await call(svc.pipe, 'status')) as { alerts: RouteStatus[] }).alerts;

describe('alert routes', () => {
  it('webhook, mail and command each get what their filter lets through, with the event in full', async () => {
    const hook = await httpSink();
    const smtp = await smtpSink();
    const home = tempDir();
    const out = path.join(home, 'cmd-out');
    const svc = await startService({
      home,
      config: `server: SRV1
syslog: false
alerts:
  HOOK: { webhook: "${hook.url}", headers: { X-Token: abc } }
  MAIL:
    mail: { server: "127.0.0.1:${smtp.port}", from: arms@srv1.test, to: [ops@example.test, dba@example.test] }
    level: ERR
    groups: [WEB]
  CMD: { command: 'printf "%s|%s|%s|%s|%s|%s\\n" "$ARMS_ALERT_LEVEL" "$ARMS_ALERT_GROUP" "$ARMS_ALERT_SOURCE" "$ARMS_ALERT_SERVER" "$ARMS_ALERT_EVENT" "$ARMS_ALERT_MESSAGE" >> ${out}' }
`,
    });
    expect((await armlog(svc, 'disk slow', 'WARN', 'DB')).code).toBe(0);
    expect((await armlog(svc, 'web down\n.a line with a dot', 'ERR', 'WEB')).code).toBe(0);
    await until(async () => [hook.posts.length, smtp.mails.length, fs.existsSync(out) ? fs.readFileSync(out, 'utf8').split('\n').length - 1 : 0], (n) => n[0] >= 2 && n[1] >= 1 && n[2] >= 2);
    expect(hook.posts.map((p) => p.body)).toEqual([
      expect.objectContaining({ level: 'WARN', group: 'DB', source: 'ARMLOG', event: 'ARMLOG', server: 'SRV1', message: 'disk slow', route: 'HOOK' }),
      expect.objectContaining({ level: 'ERR', group: 'WEB', message: 'web down\n.a line with a dot' }),
    ]);
    expect(hook.posts[0].headers).toMatchObject({ 'content-type': 'application/json', 'x-token': 'abc' });
    expect(smtp.mails).toHaveLength(1); // the WARN of DB is filtered out by level and group
    const mail = smtp.mails[0];
    expect(mail).toMatchObject({ from: 'arms@srv1.test', to: ['ops@example.test', 'dba@example.test'] });
    expect(mail.data).toMatch(/^Subject: \[ARMS ERR\] SRV1 WEB: web down .a line with a dot\r$/m);
    expect(mail.data).toContain('\r\n\r\nweb down\r\n.a line with a dot\r\n');
    expect(fs.readFileSync(out, 'utf8').split('\n').filter(Boolean)).toEqual(['WARN|DB|ARMLOG|SRV1|ARMLOG|disk slow', 'ERR|WEB|ARMLOG|SRV1|ARMLOG|web down', '.a line with a dot']);
    expect(await routes(svc)).toMatchObject([
      { route: 'HOOK', sent: 2, failed: 0 },
      { route: 'MAIL', sent: 1, failed: 0 },
      { route: 'CMD', sent: 2, failed: 0 },
    ]);
    await svc.stop();
    await hook.close();
    await smtp.close();
  });

  it('a failing webhook is retried with a growing wait; one that never recovers is counted as failed, in the cluster log only', async () => {
    const flaky = await httpSink({ failFirst: 2 });
    const svc = await startService({
      config: `syslog: false\nalerts:\n  HOOK: { webhook: "${flaky.url}", retries: 3, retryDelay: 100ms }\n  DEAD: { webhook: "http://127.0.0.1:9/none", retries: 1, retryDelay: 100ms }\n`,
    });
    await armlog(svc, 'something broke', 'ERR');
    await until(() => routes(svc), (r) => r[0].sent === 1 && r[1].failed === 1);
    expect(flaky.seen).toBe(3);
    expect(flaky.posts.map((p) => p.body.message)).toEqual(['something broke']);
    expect(await routes(svc)).toMatchObject([{ route: 'HOOK', sent: 1, failed: 0 }, { route: 'DEAD', sent: 0, failed: 1 }]);
    const notes = readLog(svc.home).filter((l) => l.src === 'alerts').map((l) => l.msg);
    expect(notes).toContain('alert route HOOK: delivery failed (try 1 of 4): POST ' + flaky.url + ': HTTP 500 Internal Server Error');
    expect(notes.filter((m) => m.startsWith('alert route DEAD: delivery failed'))).toHaveLength(2);
    // A route's trouble is no alert of its own (no loop).
    expect(readLog(svc.home, 'alert').filter((l) => l.src === 'alerts')).toEqual([]);
    await svc.stop();
    await flaky.close();
  });

  it('the rate limit holds alerts back and counts them; the next one sent says how many', async () => {
    const hook = await httpSink();
    const svc = await startService({ config: `syslog: false\nalerts:\n  HOOK: { webhook: "${hook.url}", rateLimit: { count: 2, per: 4s } }\n` });
    // Five alerts at once (through the pipe, as ARMLOG /ARM sends them): well within the window.
    for (let i = 1; i <= 5; i++) await call(svc.pipe, 'log', { message: `alert ${i}`, level: 'ERR', alert: true });
    await until(() => routes(svc), (r) => r[0].sent === 2);
    expect(await routes(svc)).toMatchObject([{ sent: 2, suppressed: 3 }]);
    await sleep(4100);
    await armlog(svc, 'alert 6', 'ERR');
    await until(() => routes(svc), (r) => r[0].sent === 3);
    expect(hook.posts.map((p) => [p.body.message, p.body.suppressed])).toEqual([
      ['alert 1', undefined],
      ['alert 2', undefined],
      ['alert 6', 3],
    ]);
    expect(readLog(svc.home).some((l) => l.msg === 'alert route HOOK: rate limit reached (2 per 4 s); alerts are held back and counted')).toBe(true);
    await svc.stop();
    await hook.close();
  });

  it('a webhook that never answers holds up no restart: the watch restarts while the POST hangs', async () => {
    const hung = await httpSink({ hang: true });
    const svc = await startService({ config: `syslog: false\nalerts:\n  HUNG: { webhook: "${hung.url}", timeout: 60s, retries: 0 }\n` });
    expect((await run('ARMLOAD', ['APP', '/R', '5', 'sleep', '600'], svc.env)).code).toBe(0);
    await armlog(svc, 'first', 'ERR');
    await until(async () => hung.seen, (n) => n === 1);
    for (let i = 1; i <= 3; i++) {
      const w = ((await call(svc.pipe, 'status')) as { watches: Array<{ pid: number; restartsUsed: number }> }).watches[0];
      process.kill(w.pid, 'SIGKILL');
      await until(async () => ((await call(svc.pipe, 'status')) as { watches: Array<{ pid: number | null; restartsUsed: number }> }).watches[0], (x) => x.restartsUsed === i && x.pid !== null);
    }
    expect(hung.seen).toBe(1); // still the first POST, unanswered
    expect(await routes(svc)).toMatchObject([{ route: 'HUNG', sent: 0, failed: 0 }]);
    expect((await run('ARMKILL', ['APP'], svc.env)).code).toBe(0);
    await svc.stop();
    await hung.close();
  });

  it('each kind of alert carries its own event name (a watch used up, a usage error), for routes and receivers to tell them apart', async () => {
    const home = tempDir();
    const out = path.join(home, 'events');
    const svc = await startService({ home, config: `syslog: false\nalerts:\n  CMD: { command: 'echo "$ARMS_ALERT_EVENT $ARMS_ALERT_SOURCE" >> ${out}' }\n` });
    expect((await run('ARMLOAD', ['DIES', '/R', '1', 'sh', '-c', 'sleep 0.2; exit 1'], svc.env)).code).toBe(0);
    expect((await run('ARMLOAD', ['USAGE', '/R', '5', 'sh', '-c', 'exit 2'], svc.env)).code).toBe(0);
    const lines = await until(async () => (fs.existsSync(out) ? fs.readFileSync(out, 'utf8').trim().split('\n').sort() : []), (l) => l.length >= 2, 10_000);
    expect(lines).toEqual(['watch-exhausted watch', 'watch-failed watch']);
    await svc.stop();
  });

  it('arms alert test: each route, past its filter; a failing route is exit 1; unknown route or none exit 4', async () => {
    const hook = await httpSink();
    const smtp = await smtpSink({ refuseRcpt: true });
    const svc = await startService({
      config: `syslog: false\nalerts:\n  HOOK: { webhook: "${hook.url}", level: ERR, groups: [NOPE] }\n  MAIL: { mail: { server: "127.0.0.1:${smtp.port}", from: a@b.test, to: c@d.test }, retries: 0 }\n`,
    });
    const r = await run('arms', ['alert', 'test'], svc.env);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(new RegExp(`^HOOK: delivered: HTTP 204 from ${hook.url.replace(/\./g, '\\.')}\nMAIL: FAILED: SMTP 127\\.0\\.0\\.1:${smtp.port}: RCPT TO:<c@d\\.test> refused: 550 5\\.1\\.1 no such user\n$`));
    expect(hook.posts[0].body).toMatchObject({ event: 'test', level: 'WARN', message: expect.stringMatching(/^test alert from armsd/) });
    expect(await run('arms', ['alert', 'test', 'hook'], svc.env)).toMatchObject({ code: 0 });
    expect(await run('arms', ['alert', 'test', 'NOPE'], svc.env)).toMatchObject({ code: 4, stderr: 'arms: no alert route "NOPE" (routes: HOOK, MAIL)\n' });
    expect((await run('arms', ['alert', 'send'], svc.env)).code).toBe(2);
    await svc.stop();
    const bare = await startService({ config: 'syslog: false\n' });
    expect(await run('arms', ['alert', 'test'], bare.env)).toMatchObject({ code: 4, stderr: 'arms: no alert routes are configured (alerts: in arms.yaml)\n' });
    await bare.stop();
    await hook.close();
    await smtp.close();
  });
});
