// The pipe operations on watches: ARMLOAD and ARMKILL.
import * as fs from 'node:fs';
import { bool, int, oneOf, ProtocolError, str } from '../../protocol/messages';
import { FinalAction, Pacing } from '../restart-policy';
import { WatchError, WatchRequest, Watches } from '../watches';
import { ReadyConfig, waitReady } from '../start-order';
import { Ops } from './index';

const HOUR_MS = 3_600_000;

export function watchOps(watches: Watches, opts: { timeScale: number; commit(): Promise<void>; pacing(id: string): Pacing; ready?(group: string | null, id: string): ReadyConfig | undefined }): Ops {
  const asProtocol = (e: unknown) => (e instanceof WatchError ? new ProtocolError(e.code, e.message) : e);

  return {
    async 'watch.start'(args) {
      const id = str(args, 'id', { max: 300 })!;
      const restarts = int(args, 'restarts', { optional: true, min: 1, max: 999 });
      const hours = int(args, 'hours', { optional: true, min: 1, max: 24 });
      const monitorOnly = bool(args, 'monitorOnly');
      const wait = bool(args, 'wait');
      const final = oneOf(args, 'final', ['failover', 'shutdown', 'none'] as const, 'none');
      if (hours !== undefined && restarts === undefined) throw new ProtocolError('usage', '/H needs /R (a restart count to reset)');
      if (monitorOnly && restarts !== undefined) throw new ProtocolError('usage', '/M and /R exclude each other (monitor without restarts, or restart)');
      if (wait && (restarts !== undefined || monitorOnly || final !== 'none')) throw new ProtocolError('usage', '/W waits for the program to end: it cannot be combined with /R, /M, /FOV or /SHUT');
      const req: WatchRequest = {
        id,
        group: str(args, 'group', { optional: true, max: 255 }) ?? null,
        file: str(args, 'file', { max: 4096 })!,
        args: strings(args, 'args'),
        cwd: str(args, 'cwd', { max: 4096 })!,
        env: env(args),
        wait,
        policy: {
          restarts: restarts ?? 0,
          windowMs: hours === undefined ? null : (hours * HOUR_MS) / opts.timeScale,
          monitorOnly,
          final: final === 'none' ? null : (final as FinalAction),
        },
        scriptRestart: bool(args, 'scriptRestart'),
        graceMs: (int(args, 'graceS', { optional: true, min: 0, max: 86_400 }) ?? 0) * 1000,
        user: lookupUser(str(args, 'user', { optional: true, max: 64 })),
        service: bool(args, 'service') ? { noWait: bool(args, 'noWait') } : undefined,
        intervalMs: (int(args, 'intervalS', { optional: true, min: 1, max: 86_400 }) ?? 5) * 1000,
        pacing: opts.pacing(id),
      };
      if (req.service && req.user) throw new ProtocolError('usage', '/U applies to programs; a service runs as its manager says');
      if (!fs.existsSync(req.cwd)) throw new ProtocolError('usage', `the working folder ${req.cwd} does not exist`);
      try {
        const { pid } = await watches.start(req);
        if (!wait) {
          // ARMLOAD returns once the watch is on disk: a service that crashes after that takes it back.
          try {
            await opts.commit();
          } catch (e) {
            // Refused rather than half kept: a program the state does not know would run unwatched after a crash.
            await watches.kill(id, 10_000, null).catch(() => undefined);
            throw new ProtocolError('failed', `watch ${id} not started: the service could not save it (${(e as Error).message})`);
          }
          // ready: the script's next ARMLOAD starts once this program answers.
          const ready = opts.ready?.(req.group, id);
          if (ready) {
            const notReady = await waitReady(ready, () => {
              const w = watches.find(id);
              return w !== undefined && w.state === 'running' && w.pid === pid;
            });
            if (notReady) throw new ProtocolError('failed', `watch ${id} started${pid === null ? '' : ` (pid ${pid})`} but ${notReady}; it stays watched`);
          }
          return { id, pid };
        }
        const end = await watches.waitEnd(id);
        return { id, pid, exitCode: end.code, signal: end.signal };
      } catch (e) {
        throw asProtocol(e);
      }
    },

    /** Windows: stores an account's password for /U, sealed for the service's own account. */
    async 'account.set'(args) {
      const user = str(args, 'user', { max: 400 })!;
      const password = str(args, 'password', { max: 256 })!;
      if (process.platform !== 'win32') throw new ProtocolError('usage', 'stored accounts are for Windows; on POSIX /U needs the service to run as root');
      const accounts = require('../../platform/win-accounts') as typeof import('../../platform/win-accounts');
      if (!accounts.ACCOUNT_PATTERN.test(user)) throw new ProtocolError('usage', `"${user}" is not an account name (name, DOMAIN\\name or name@domain)`);
      if (password.length === 0) throw new ProtocolError('usage', 'an empty password is not stored');
      const problem = accounts.storeCredentials(user, password);
      if (problem) throw new ProtocolError('failed', `could not store the credentials of ${user}: ${problem}`);
      return { user, stored: accounts.credentialsFile(user) };
    },

    async 'watch.kill'(args) {
      const id = str(args, 'id', { max: 300 })!;
      const timeoutS = int(args, 'timeoutS', { optional: true, min: 0, max: 86_400 }) ?? 10;
      try {
        return { id, result: await watches.kill(id, timeoutS * 1000, str(args, 'group', { optional: true, max: 255 }) ?? null) };
      } catch (e) {
        throw asProtocol(e);
      }
    },
  };
}

function strings(args: Record<string, unknown>, name: string): string[] {
  const v = args[name] ?? [];
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new ProtocolError('usage', `"${name}" must be a list of strings`);
  return v as string[];
}

function env(args: Record<string, unknown>): NodeJS.ProcessEnv {
  const v = args.env;
  if (typeof v !== 'object' || v === null || Array.isArray(v) || !Object.values(v).every((x) => typeof x === 'string')) {
    throw new ProtocolError('usage', '"env" must be an object of strings');
  }
  return { ...(v as Record<string, string>) };
}

/** /U: the account to run as. Needs a POSIX service running as root. */
function lookupUser(name: string | undefined): WatchRequest['user'] {
  if (name === undefined) return undefined;
  if (process.platform === 'win32') {
    const accounts = require('../../platform/win-accounts') as typeof import('../../platform/win-accounts');
    if (!accounts.ACCOUNT_PATTERN.test(name)) throw new ProtocolError('usage', `/U ${name}: not an account name (name, DOMAIN\\name or name@domain)`);
    if (!accounts.hasCredentials(name)) throw new ProtocolError('cannot_start', `/U ${name}: no stored credentials for this account; store them once with "arms account set ${name}"`);
    return { name, uid: -1, gid: -1, credentials: accounts.credentialsFile(name) };
  }
  if (process.getuid?.() !== 0) throw new ProtocolError('cannot_start', `/U ${name} needs the service to run as root (it runs as uid ${process.getuid?.()})`);
  const line = fs
    .readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.split(':')[0] === name);
  if (!line) throw new ProtocolError('cannot_start', `/U ${name}: no such account`);
  const [, , uid, gid] = line.split(':');
  return { name, uid: Number(uid), gid: Number(gid) };
}
