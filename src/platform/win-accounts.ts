// Windows: the accounts ARMLOAD /U may run a program as. An administrator stores an account's
// password once (`arms account set USER`); the service seals it with DPAPI under its own account
// (the native host's `protect`), so only the service can read it back, and a watched program is
// then started as that account by the host (`run-as`: LogonUser, CreateProcessAsUser).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { resolveHome } from './home';
import { HOST } from './win-process';

/** DOMAIN\name, name@domain or name: what LogonUser accepts, and nothing a file name could misuse. */
export const ACCOUNT_PATTERN = /^[A-Za-z0-9._-]{1,104}(?:\\[A-Za-z0-9._ -]{1,104}|@[A-Za-z0-9.-]{1,255})?$/;

/** Where the sealed password of `user` is kept (one file per account, in the home's state). */
export function credentialsFile(user: string): string {
  const safe = user.toLowerCase().replace(/[\\@]/g, '+');
  return path.join(resolveHome().state, 'accounts', `${safe}.dpapi`);
}

export function hasCredentials(user: string): boolean {
  return fs.existsSync(credentialsFile(user));
}

/** Seals `password` for the account running this service; null when stored, else why not. */
export function storeCredentials(user: string, password: string): string | null {
  const file = credentialsFile(user);
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const r = spawnSync(HOST, ['protect', file], { input: `${password}\n`, encoding: 'utf8', windowsHide: true, timeout: 30_000 });
  if (r.status === 0) return null;
  return (r.stderr || r.error?.message || `exit code ${r.status}`).trim().replace(/^arms-host: /, '');
}
