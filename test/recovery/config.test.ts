// arms check on the settings of monitoring and recovery (monitors:, alerts:, after:, ready:): every
// bad value is one line with file:line; a good config is valid; armsd refuses a bad one.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/service/config';
import { envFor, run, stopAll, tempDir } from '../helpers';

afterAll(stopAll);

function home(yaml: string): { home: string; file: string } {
  const h = tempDir();
  for (const g of ['WEB', 'DB']) {
    fs.mkdirSync(path.join(h, 'groups', g), { recursive: true });
    for (const s of ['start.sh', 'stop.sh']) fs.writeFileSync(path.join(h, 'groups', g, s), 'exit 0\n');
  }
  const file = path.join(h, 'arms.yaml');
  fs.writeFileSync(file, yaml);
  return { home: h, file };
}

describe('arms check: monitoring and recovery settings', () => {
  it('every bad value of monitors:, alerts:, after: and ready: with its line', async () => {
    const { home: h, file } = home(
      [
        'server: S', // 1
        'groups:', // 2
        '  WEB: { start: start.sh, stop: stop.sh, after: [DB, NOPE] }', // 3
        '  DB: { start: start.sh, stop: stop.sh, after: [WEB] }', // 4
        '  RDY:', // 5
        '    dir: groups/WEB', // 6
        '    start: start.sh', // 7
        '    stop: stop.sh', // 8
        '    ready:', // 9
        '      APP: { tcp: "nohost", timeout: 5s }', // 10
        '      "bad id": { cmd: "true" }', // 11
        'monitors:', // 12
        '  M1: { http: "ftp://x", interval: soon }', // 13
        '  M2: { tcp: "127.0.0.1:1", cmd: "true" }', // 14
        '  M3:', // 15
        '    process: { min: 3, max: 2 }', // 16
        '  M4:', // 17
        '    usage: { watch: APP, cpu: lots }', // 18
        '  M5:', // 19
        '    cmd: "true"', // 20
        '    recovery: { target: galaxy, restarts: -1, finalAction: explode, wait: x }', // 21
        '  M6: { cmd: "true", group: GONE }', // 22
        '  M7: { cmd: "true", recovery: { target: server, restarts: 2 } }', // 23
        '  M8: { cmd: "true", recovery: { finalAction: failover } }', // 24
        'alerts:', // 25
        '  A1: { webhook: "mailto:x" }', // 26
        '  A2: { command: "x", webhook: "http://127.0.0.1:1/" }', // 27
        '  A3: { mail: { server: "h:99999", from: nobody, to: [] } }', // 28
        '  A4: { command: "x", level: INFO, rateLimit: { count: 0 }, colour: red }', // 29
        '  A5: { command: "x", headers: { X: y } }', // 30
        '  A6: {}', // 31
      ].join('\n') + '\n',
    );
    const r = await run('arms', ['check'], envFor(h));
    expect(r.code).toBe(1);
    expect(r.stdout.trim().split('\n')).toEqual([
      `${file}:3: groups.WEB.after: no group "NOPE" in groups:`,
      `${file}:3: groups.WEB.after: a cycle (WEB → DB → WEB): no group of it could ever start`,
      `${file}:10: groups.RDY.ready.APP.tcp: expected host:port ([v6]:port for IPv6), got "nohost"`,
      `${file}:11: groups.RDY.ready: "bad id" is not a watch ID (1-255 letters, digits or "_")`,
      `${file}:13: monitors.M1.interval: expected a duration such as 300s, 5m, 1h (a bare number is seconds)`,
      `${file}:13: monitors.M1.http: expected an http:// or https:// URL, got "ftp://x"`,
      `${file}:14: monitors.M2: one check per monitor (http, tcp, cmd, process, usage); found tcp and cmd`,
      `${file}:16: monitors.M3.process: "name" or "commandLine" is required`,
      `${file}:16: monitors.M3.process: min (3) is more than max (2)`,
      `${file}:18: monitors.M4.usage.cpu: expected a percentage of one CPU such as 90% (200% = two CPUs busy)`,
      `${file}:18: monitors.M4.usage: at least one threshold: cpu, memory, threads or files`,
      `${file}:21: monitors.M5.recovery.target: expected group, server, or watch:ID, got "galaxy"`,
      `${file}:21: monitors.M5.recovery.restarts: expected a whole number from 0 to 1000`,
      `${file}:21: monitors.M5.recovery.finalAction: expected one of none, stop-group, failover, shutdown, reboot, got "explode"`,
      `${file}:21: monitors.M5.recovery.wait: expected a duration such as 300s, 5m, 1h (a bare number is seconds)`,
      `${file}:22: monitors.M6.group: no group "GONE" in groups:`,
      `${file}:23: monitors.M7.recovery: the server cannot be re-activated: restarts must be 0 with target: server`,
      `${file}:24: monitors.M8: a recovery that acts on a group (target: group, finalAction: failover) needs "group:" on a monitor the service runs`,
      `${file}:26: alerts.A1.webhook: expected an http:// or https:// URL, got "mailto:x"`,
      `${file}:26: alerts.A1: one of command:, webhook:, mail: is required`,
      `${file}:27: alerts.A2: one target per route (command and webhook given): make two routes`,
      `${file}:28: alerts.A3.mail.server: expected host or host:port, got "h:99999"`,
      `${file}:28: alerts.A3.mail.from: expected a mail address (name@host), got "nobody"`,
      `${file}:28: alerts.A3.mail.to: at least one address`,
      `${file}:29: alerts.A4.level: expected WARN (every alert) or ERR, got "INFO"`,
      `${file}:29: alerts.A4.rateLimit.count: expected a whole number from 1 to 1000000`,
      `${file}:29: alerts.A4: unknown setting "colour" (expected one of: command, webhook, headers, mail, level, groups, rateLimit, timeout, retries, retryDelay)`,
      `${file}:30: alerts.A5.headers: applies to a webhook: route only`,
      `${file}:31: alerts.A6: one of command:, webhook:, mail: is required`,
    ]);
    // armsd refuses it too, with the same lines
    const d = await run('armsd', [], envFor(h));
    expect(d.code).toBe(2);
    expect(d.stderr).toContain(`${file}:23: monitors.M7.recovery`);
  });

  it('timing settings on a monitor without a check (ARMRSP\'s, the stall monitor) are refused, not ignored', async () => {
    const { home: h, file } = home(['server: S', 'monitors:', '  RSP: { interval: 5s, failures: 2 }', '  armsd-os: { timeout: 1s, recovery: { finalAction: none, target: server } }'].join('\n') + '\n');
    const r = await run('arms', ['check'], envFor(h));
    expect(r.code).toBe(1);
    expect(r.stdout.trim().split('\n')).toEqual([
      `${file}:3: monitors.RSP: interval, failures: only for a check the service runs (http, tcp, cmd, process, usage); this monitor has none: its results come from ARMRSP (its schedule: ARMRSP's /INT, /TIMEOUT and /N)`,
      `${file}:4: monitors.armsd-os: timeout: only for a check the service runs (http, tcp, cmd, process, usage); this monitor has none: its results come from the stall monitor (its schedule: osMonitor:)`,
    ]);
  });

  it('a good config is valid, and its defaults are those of docs/config.md', async () => {
    const { home: h, file } = home(
      `server: S
groups:
  WEB: { start: start.sh, stop: stop.sh, after: [DB], ready: { APP: { http: "http://127.0.0.1:8080/health", expect: ok } } }
  DB: { start: start.sh, stop: stop.sh }
monitors:
  WEBCHECK: { group: WEB, http: "http://127.0.0.1:8080/", recovery: { target: "watch:APP", restarts: 2, finalAction: failover, script: recover.sh } }
  RSP: { recovery: { finalAction: stop-group } }
  PROCS: { process: { name: nginx, min: 2 } }
alerts:
  OPS: { mail: { server: 127.0.0.1, from: arms@s.test, to: ops@s.test } }
`,
    );
    expect(await run('arms', ['check'], envFor(h))).toMatchObject({ code: 0 });
    const c = parseConfig(fs.readFileSync(file, 'utf8'), file);
    expect(c.groups[0]).toMatchObject({ after: ['DB'], ready: { APP: { check: { kind: 'http', url: 'http://127.0.0.1:8080/health', expect: 'ok' }, timeout: 60, interval: 1 } } });
    expect(c.monitors).toEqual([
      expect.objectContaining({ name: 'WEBCHECK', group: 'WEB', interval: 10, timeout: 10, failures: 3, recovery: { target: { kind: 'watch', id: 'APP' }, restarts: 2, finalAction: 'failover', wait: 0, script: path.join(h, 'recover.sh'), scriptTimeout: 60, resetAfter: 3600 } }),
      expect.objectContaining({ name: 'RSP', check: null, recovery: expect.objectContaining({ target: { kind: 'group' }, restarts: 0, finalAction: 'stop-group' }) }),
      expect.objectContaining({ name: 'PROCS', check: { kind: 'process', name: 'nginx', min: 2, max: 1_000_000 }, recovery: null }),
    ]);
    expect(c.alerts).toEqual([
      { name: 'OPS', target: { kind: 'mail', host: '127.0.0.1', port: 25, from: 'arms@s.test', to: ['ops@s.test'], helo: null }, level: 'WARN', groups: null, rateLimit: { count: 60, per: 3600 }, timeout: 10, retries: 3, retryDelay: 1, line: 10 },
    ]);
  });
});
