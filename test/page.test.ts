// The status page in a real headless Chromium (Debian's chromium, driven by playwright-core)
// against a real armsd: it loads without errors, follows the service live (server-sent events,
// no reload), and its buttons act. ARMS_SCREENSHOTS=docs also writes the README's screenshots.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BrowserContext, chromium, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call } from '../src/client/client';
import { ROOT, Service, startService, stopAll, tempDir, until } from './helpers';

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
// Without these, Chromium reaches for the network (updates, sync, field trials): tests talk to loopback only.
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-default-apps',
  '--disable-extensions',
  '--no-default-browser-check',
  '--metrics-recording-only',
];

let context: BrowserContext | null = null;
afterAll(async () => {
  await context?.close();
  await stopAll();
});

function writeGroup(home: string, name: string, start: string): void {
  const dir = path.join(home, 'groups', name);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'start.sh'), `#!/bin/sh\n${start}\n`, { mode: 0o755 });
  fs.writeFileSync(path.join(dir, 'stop.sh'), '#!/bin/sh\necho stopping\n', { mode: 0o755 });
}

describe('the status page in headless Chromium', () => {
  let svc: Service;
  let page: Page;
  let base: string;
  const problems: string[] = [];
  const state = async (name: string) => ((await call(svc.pipe, 'status')) as any).groups.find((g: any) => g.name === name).state as string;
  const appPid = async () => ((await call(svc.pipe, 'status')) as any).watches.find((w: any) => w.id === 'APP')?.pid as number | undefined;

  beforeAll(async () => {
    if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing (Debian: apt-get install chromium; .ci/run installs it)`);
    const home = tempDir();
    writeGroup(home, 'WEB', 'ARMLOAD APP /R 9 /H 1 sleep 1000');
    writeGroup(home, 'DB', 'ARMLOAD DBSRV /R 3 sleep 1000');
    fs.writeFileSync(
      path.join(home, 'arms.yaml'),
      'server: SERVERA\nsyslog: false\nhttp: { listen: "127.0.0.1:0" }\ngroups:\n  WEB: { start: start.sh, stop: stop.sh }\n  DB: { start: start.sh, stop: stop.sh }\n',
    );
    svc = await startService({ home });
    base = ((await call(svc.pipe, 'ping')) as { http: string }).http;
    context = await chromium.launchPersistentContext(tempDir('arms-chromium-'), {
      executablePath: CHROMIUM,
      headless: true,
      args: ARGS,
      viewport: { width: 1280, height: 900 },
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('requestfailed', (r) => {
      // The event stream is cut when the page closes; anything else failing is a problem.
      if (!r.url().endsWith('/api/v1/events')) problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`);
    });
  });

  it('asks for the token, then shows the groups, without errors', async () => {
    await page.goto(base);
    await page.locator('#signin').waitFor({ state: 'visible' });
    await page.fill('#token', 'wrong');
    await page.click('#signin button');
    await page.locator('#signin-error', { hasText: 'not the token' }).waitFor();
    // The one failed request so far: the wrong token's sign-in.
    expect(problems).toEqual([expect.stringMatching(/status of 401/)]);
    problems.length = 0;
    await page.fill('#token', fs.readFileSync(path.join(svc.home, 'http.token'), 'utf8').trim());
    await page.click('#signin button');
    await page.locator('#conn.live').waitFor();
    await expect(page.locator('[data-group="WEB"] .badge').first().textContent()).resolves.toBe('offline');
    expect(await page.locator('#title').textContent()).toBe('ARMS · SERVERA');
    expect(await page.locator('[data-server="SERVERA"]').count()).toBe(1);
    // Marks this document: a reload would lose it.
    await page.evaluate(() => ((window as any).sameDocument = true));
  });

  it('shows a group going online and a restart count rising, without a reload', async () => {
    await call(svc.pipe, 'group.start', { name: 'WEB', wait: true });
    await page.locator('[data-group="WEB"] .badge', { hasText: 'online' }).waitFor({ timeout: 10_000 });
    await page.locator('[data-watch="APP"] .restarts', { hasText: '0 of 9' }).waitFor({ timeout: 10_000 });
    for (const n of [1, 2]) {
      const before = await appPid();
      process.kill(before!, 'SIGKILL');
      await until(appPid, (p) => p !== undefined && p !== before);
      await page.locator('[data-watch="APP"] .restarts', { hasText: `${n} of 9` }).waitFor({ timeout: 10_000 });
    }
    expect(await page.evaluate(() => (window as any).sameDocument)).toBe(true);
  });

  it('stops a group with its button (a second tap confirms)', async () => {
    await call(svc.pipe, 'group.start', { name: 'DB', wait: true });
    const stop = page.locator('[data-group="DB"] button[data-action="stop"]');
    await page.locator('[data-group="DB"] .badge', { hasText: 'online' }).waitFor({ timeout: 10_000 });
    await stop.click();
    await expect(stop.textContent()).resolves.toBe('Tap to stop');
    // One tap does nothing yet.
    expect(await state('DB')).toBe('online');
    await stop.click();
    await page.locator('[data-group="DB"] .badge', { hasText: 'offline' }).waitFor({ timeout: 10_000 });
    expect(await state('DB')).toBe('offline');
    expect(await state('WEB')).toBe('online');
    expect(await page.evaluate(() => (window as any).sameDocument)).toBe(true);
  });

  it('suspends and resumes a monitor and a watch with their buttons, and shows them suspended', async () => {
    await call(svc.pipe, 'monitor.report', { monitor: 'RSP', group: 'WEB', resource: '127.0.0.1', kind: 'ip', ok: true, detail: 'reply in 0.21 ms', failures: 0 });
    const monitor = page.locator('[data-monitor="RSP"]').first();
    await monitor.locator('.badge', { hasText: 'ok' }).waitFor({ timeout: 10_000 });
    const suspend = monitor.locator('button[data-action="suspend"]');
    await suspend.click();
    await expect(suspend.textContent()).resolves.toBe('Tap to suspend');
    await suspend.click();
    await monitor.locator('.badge', { hasText: 'suspended' }).waitFor({ timeout: 10_000 });
    expect(((await call(svc.pipe, 'status')) as any).suspendedMonitors).toEqual(['RSP']);

    const app = page.locator('[data-watch="APP"]');
    await app.locator('button[data-action="suspend"]').click();
    await app.locator('button[data-action="suspend"]').click();
    await app.locator('.badge', { hasText: 'suspended' }).waitFor({ timeout: 10_000 });
    const w = async () => ((await call(svc.pipe, 'status')) as any).watches.find((x: any) => x.id === 'APP');
    expect((await w()).suspended).toBe(true);

    // A resume is one tap: it undoes nothing.
    await monitor.locator('button[data-action="resume"]').click();
    await monitor.locator('.badge', { hasText: 'ok' }).waitFor({ timeout: 10_000 });
    await app.locator('button[data-action="resume"]').click();
    await app.locator('button[data-action="suspend"]').waitFor({ timeout: 10_000 });
    expect(await app.locator('.badge', { hasText: 'suspended' }).count()).toBe(0);
    expect(((await call(svc.pipe, 'status')) as any).suspendedMonitors).toEqual([]);
    expect((await w()).suspended).toBe(false);
    expect(await page.evaluate(() => (window as any).sameDocument)).toBe(true);
  });

  it('reads on a phone: one column, nothing wider than the screen', async () => {
    // Something in each section, as an operator would see it (and for the screenshots).
    await call(svc.pipe, 'monitor.report', { monitor: 'RSP', group: 'WEB', resource: '127.0.0.1', kind: 'ip', ok: true, detail: 'reply in 0.21 ms', failures: 0 });
    await call(svc.pipe, 'monitor.report', { monitor: 'RSP', group: 'WEB', resource: '/srv/web-data', kind: 'disk', ok: true, detail: 'write, fsync, read back, delete in 3 ms', failures: 0 });
    await call(svc.pipe, 'log', { message: 'WWW process ended: restarted (2 of 9)', group: 'WEB', source: 'ARMLOG', alert: true, level: 'WARN' });
    await page.locator('#monitors tr', { hasText: '/srv/web-data' }).waitFor({ timeout: 10_000 });
    await page.locator('#alerts li', { hasText: 'restarted (2 of 9)' }).waitFor({ timeout: 10_000 });
    const shots = process.env.ARMS_SCREENSHOTS ? path.resolve(ROOT, process.env.ARMS_SCREENSHOTS) : null;
    // The last action's note would cover the screenshots.
    await page.evaluate(() => (document.getElementById('note')!.style.display = 'none'));
    await page.mouse.move(0, 0);
    if (shots) await page.screenshot({ path: path.join(shots, 'status-page-desktop.png'), fullPage: true });

    await page.setViewportSize({ width: 390, height: 844 });
    await page.locator('[data-watch="APP"] td[data-label="Restarts"]').waitFor();
    const layout = await page.evaluate(() => ({
      scroll: document.documentElement.scrollWidth,
      width: window.innerWidth,
      columns: getComputedStyle(document.getElementById('groups')!).gridTemplateColumns.split(' ').length,
      header: getComputedStyle(document.querySelector('#watches thead')!).display,
    }));
    expect(layout.scroll).toBeLessThanOrEqual(layout.width);
    expect(layout.columns).toBe(1);
    expect(layout.header).toBe('none'); // the table's rows become labelled blocks
    if (shots) await page.screenshot({ path: path.join(shots, 'status-page-phone.png'), fullPage: true });
    expect(problems).toEqual([]);
  });
});
