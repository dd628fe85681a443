// armsd as a systemd service (Linux): the unit `arms service install` writes, where it goes, and
// whether it is enabled. Works without a running systemd too (a container, an image being built):
// the unit is written and enabled by its link in the target's .wants folder, as systemctl does.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export interface UnitOptions {
  /** node, and bin/armsd.js */
  node: string;
  armsd: string;
  home: string;
  server: string;
  user: boolean;
  /** WatchdogSec in seconds (0: none); needs the sd_notify helper */
  watchdogS: number;
  /** the helper is built: Type=notify (else Type=exec, no watchdog) */
  notify: boolean;
  /** seconds systemd waits for armsd to stop every group */
  stopTimeoutS: number;
}

/** One ExecStart= word: quoted, with systemd's specifiers (%) and variables ($) kept literal. */
function word(s: string): string {
  const escaped = s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/%/g, '%%').replace(/\$/g, '$$$$');
  return /^[A-Za-z0-9_./:@+=-]+$/.test(s) ? escaped : `"${escaped}"`;
}

export function unitText(o: UnitOptions): string {
  const lines = [
    '# Written by "arms service install"; "arms service uninstall" removes it.',
    '[Unit]',
    `Description=ARMS control service (armsd) of server ${o.server}`,
    'After=network-online.target',
    'Wants=network-online.target',
    '',
    '[Service]',
    ...(o.notify
      ? [
          // READY=1 once the pipe answers; WATCHDOG=1 from armsd's event loop at half of WatchdogSec.
          'Type=notify',
          // The notifications come from armsd's helper process (Node has no Unix datagram sockets);
          // armsd keeps NOTIFY_SOCKET out of its scripts' and programs' environment.
          'NotifyAccess=all',
          ...(o.watchdogS > 0 ? [`WatchdogSec=${o.watchdogS}`] : []),
        ]
      : ['Type=exec']),
    `ExecStart=${[o.node, o.armsd, '--home', o.home, '--server', o.server].map(word).join(' ')}`,
    'ExecReload=/bin/kill -HUP $MAINPID',
    // Only armsd is signalled: the programs it watches survive a restart of armsd and are taken back.
    'KillMode=process',
    'Restart=on-failure',
    'RestartSec=2',
    // 2: a mistake in arms.yaml; 5: another armsd already runs on this home. Restarting will not help.
    'RestartPreventExitStatus=2 5',
    'TimeoutStartSec=60',
    // armsd stops every group (their stop scripts) before it exits.
    `TimeoutStopSec=${o.stopTimeoutS}`,
    'UMask=0027',
    '',
    '[Install]',
    `WantedBy=${o.user ? 'default.target' : 'multi-user.target'}`,
    '',
  ];
  return lines.join('\n');
}

export function unitDir(user: boolean, env: NodeJS.ProcessEnv = process.env): string {
  if (!user) return '/etc/systemd/system';
  return path.join(env.XDG_CONFIG_HOME || path.join(os.homedir(), '.config'), 'systemd', 'user');
}

/** systemd manages this machine (the system manager), or this user's session (--user) */
export function systemdRuns(user: boolean, env: NodeJS.ProcessEnv = process.env): boolean {
  if (!fs.existsSync('/run/systemd/system')) return false;
  return !user || (!!env.XDG_RUNTIME_DIR && fs.existsSync(path.join(env.XDG_RUNTIME_DIR, 'systemd')));
}

export function systemctl(user: boolean, args: string[]): { ok: boolean; out: string } {
  const r = spawnSync('systemctl', [...(user ? ['--user'] : []), ...args], { encoding: 'utf8', timeout: 120_000 });
  const out = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim() || (r.error ? r.error.message : '');
  return { ok: r.status === 0, out };
}

export interface UnitState {
  file: string;
  installed: boolean;
  enabled: boolean;
  /** "enabled", "disabled", ... as systemctl says, or what the files say without systemd */
  how: string;
}

/** The .wants link that enables the unit (what `systemctl enable` makes for WantedBy=). */
export function wantsLink(dir: string, unit: string, user: boolean): string {
  return path.join(dir, user ? 'default.target.wants' : 'multi-user.target.wants', `${unit}.service`);
}

export function unitState(dir: string, unit: string, user: boolean, useSystemctl: boolean): UnitState {
  const file = path.join(dir, `${unit}.service`);
  const installed = fs.existsSync(file);
  if (useSystemctl) {
    const r = systemctl(user, ['is-enabled', `${unit}.service`]);
    const how = r.out.split('\n')[0] || (installed ? 'unknown' : 'not installed');
    return { file, installed, enabled: r.ok && how === 'enabled', how };
  }
  let linked = false;
  try {
    linked = fs.readlinkSync(wantsLink(dir, unit, user)) === file;
  } catch {
    /* no link */
  }
  return { file, installed, enabled: installed && linked, how: !installed ? 'not installed' : linked ? 'enabled' : 'disabled' };
}
