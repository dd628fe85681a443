// Golden tests of the environment block a group script sees, for every row of scripts.md §1.
// Rows the service produces by itself are run through the service; the others through
// `arms run`, which builds the block with the same code (and is checked against the service here).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMMANDS, run, Service, startService, stopAll, tempDir } from './helpers';

afterAll(stopAll);

const DUMP = `#!/bin/sh
# Writes the block this script was given, one NAME=value a line, sorted.
{
  env | grep -E '^(ARMS|CLP)_' | grep -v '^ARMS_HOME=' | sort
  echo "PATH[0]=$(echo "$PATH" | cut -d: -f1)"
  echo "cwd=$(pwd)"
} > "$DUMP_TO/$(basename "$0" .sh)-$ARMS_EVENT-\${CLP_FACTOR:-none}.env"
`;

function dumps(dir: string): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  for (const f of fs.readdirSync(dir)) {
    out[f.replace(/\.env$/, '')] = Object.fromEntries(
      fs
        .readFileSync(path.join(dir, f), 'utf8')
        .trim()
        .split('\n')
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
    fs.rmSync(path.join(dir, f));
  }
  return out;
}

describe('the environment block of group scripts', () => {
  let svc: Service;
  let dumpDir: string;
  let groupDir: string;
  let otherDir: string;

  beforeAll(async () => {
    const home = tempDir();
    dumpDir = tempDir('arms-dump-');
    for (const g of ['IIS', 'BACKUP']) {
      const dir = path.join(home, 'groups', g);
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(path.join(dir, 'start.sh'), DUMP);
      fs.writeFileSync(path.join(dir, 'stop.sh'), DUMP);
    }
    fs.mkdirSync(path.join(home, 'data'));
    groupDir = path.join(home, 'groups', 'IIS');
    otherDir = path.join(home, 'groups', 'BACKUP');
    svc = await startService({
      home,
      env: { DUMP_TO: dumpDir },
      config: `server: SERVERB
syslog: false
groups:
  IIS:
    policy: [SERVERB, SERVERA]
    start: start.sh
    stop: stop.sh
    disks: [{ path: ${path.join(home, 'data')} }]
  BACKUP:
    policy: [SERVERA, SERVERB]
    start: start.sh
    stop: stop.sh
    disks: [{ path: ${path.join(home, 'missing-disk')} }]
`,
    });
  });

  const block = (over: Record<string, string>, dir = groupDir, group = 'IIS') => ({
    ARMS_EVENT: 'START',
    CLP_EVENT: 'START',
    ARMS_DISK: 'SUCCESS',
    CLP_DISK: 'SUCCESS',
    ARMS_SERVER: 'HOME',
    CLP_SERVER: 'HOME',
    ARMS_GROUPNAME: group,
    CLP_GROUPNAME: group,
    CLP_FACTOR: '',
    CLP_PRIORITY: '1',
    CLP_SERVER_PREV: '',
    CLP_SCRIPT_PATH: dir,
    ARMS_PIPE: svc.pipe,
    'PATH[0]': COMMANDS,
    cwd: dir,
    ...over,
  });

  it('group start, then group stop (GROUPSTOP, with the event it was started with)', async () => {
    expect((await run('arms', ['group', 'start', 'iis'], svc.env)).code).toBe(0);
    expect((await run('arms', ['group', 'stop', 'IIS'], svc.env)).code).toBe(0);
    expect(dumps(dumpDir)).toEqual({
      'start-START-none': block({}),
      'stop-START-GROUPSTOP': block({ CLP_FACTOR: 'GROUPSTOP' }),
    });
  });

  it('a server that is not first in the policy is OTHER with its priority; a failed disk is FAILURE in start and stop', async () => {
    expect((await run('arms', ['group', 'start', 'BACKUP'], svc.env)).code).toBe(0);
    expect((await run('arms', ['group', 'stop', 'BACKUP'], svc.env)).code).toBe(0);
    const other = { ARMS_SERVER: 'OTHER', CLP_SERVER: 'OTHER', CLP_PRIORITY: '2', ARMS_DISK: 'FAILURE', CLP_DISK: 'FAILURE' };
    expect(dumps(dumpDir)).toEqual({
      'start-START-none': block(other, otherDir, 'BACKUP'),
      'stop-START-GROUPSTOP': block({ ...other, CLP_FACTOR: 'GROUPSTOP' }, otherDir, 'BACKUP'),
    });
  });

  it('arms run gives exactly the block the service gives', async () => {
    expect((await run('arms', ['group', 'start', 'IIS'], svc.env)).code).toBe(0);
    const fromService = dumps(dumpDir);
    expect((await run('arms', ['run', path.join(groupDir, 'start.sh'), '--event', 'START'], { ...svc.env, DUMP_TO: dumpDir })).code).toBe(0);
    expect(dumps(dumpDir)).toEqual(fromService);
    expect((await run('arms', ['group', 'stop', 'IIS'], svc.env)).code).toBe(0);
    dumps(dumpDir);
  });

  const runRows: Array<[string, string[], string, Record<string, string>]> = [
    ['start by a failover', ['start.sh', '--event', 'FAILOVER'], 'start-FAILOVER-none', { ARMS_EVENT: 'FAILOVER', CLP_EVENT: 'FAILOVER' }],
    ['start after the service ended abnormally', ['start.sh', '--event', 'RECOVER'], 'start-RECOVER-none', { ARMS_EVENT: 'RECOVER', CLP_EVENT: 'RECOVER' }],
    ['stop after a failover start', ['stop.sh', '--event', 'FAILOVER'], 'stop-FAILOVER-GROUPSTOP', { ARMS_EVENT: 'FAILOVER', CLP_EVENT: 'FAILOVER', CLP_FACTOR: 'GROUPSTOP' }],
    ['stop for a move', ['stop.sh', '--event', 'START', '--factor', 'GROUPMOVE'], 'stop-START-GROUPMOVE', { CLP_FACTOR: 'GROUPMOVE' }],
    ['stop for a failover', ['stop.sh', '--event', 'FAILOVER', '--factor', 'GROUPFAILOVER'], 'stop-FAILOVER-GROUPFAILOVER', { ARMS_EVENT: 'FAILOVER', CLP_EVENT: 'FAILOVER', CLP_FACTOR: 'GROUPFAILOVER' }],
    ['stop for a group restart (/SCR)', ['stop.sh', '--event', 'START', '--factor', 'RESOURCERESTART'], 'stop-START-RESOURCERESTART', { CLP_FACTOR: 'RESOURCERESTART' }],
    ['stop for a server shutdown', ['stop.sh', '--event', 'FAILOVER', '--factor', 'SERVERSHUTDOWN'], 'stop-FAILOVER-SERVERSHUTDOWN', { ARMS_EVENT: 'FAILOVER', CLP_EVENT: 'FAILOVER', CLP_FACTOR: 'SERVERSHUTDOWN' }],
  ];
  for (const [row, args, name, over] of runRows) {
    it(`${row}`, async () => {
      const r = await run('arms', ['run', path.join(groupDir, args[0]), ...args.slice(1)], { ...svc.env, DUMP_TO: dumpDir });
      expect(r.code, r.stderr).toBe(0);
      expect(dumps(dumpDir)).toEqual({ [name]: block(over) });
    });
  }

  it('a RECOVER stop is refused: a stop script sees how its group was started', async () => {
    const r = await run('arms', ['run', path.join(groupDir, 'stop.sh'), '--event', 'RECOVER'], svc.env);
    expect(r.code).toBe(2);
  });

  it('the service stop runs every online group\'s stop script with SERVERSHUTDOWN (last: it stops the service)', async () => {
    expect((await run('arms', ['group', 'start', 'IIS'], svc.env)).code).toBe(0);
    dumps(dumpDir);
    await svc.stop();
    expect(dumps(dumpDir)).toEqual({ 'stop-START-SERVERSHUTDOWN': block({ CLP_FACTOR: 'SERVERSHUTDOWN' }) });
  });
});
