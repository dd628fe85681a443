// The HTTP token: a file in the home, 0600, made by `arms service install` or at the first start
// with HTTP on. Light (node:fs and node:crypto only): the arms command makes it too.
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';

/** Makes the token file when missing; refuses one that others may read, as ssh refuses a key. Returns the token. */
export function ensureToken(file: string): string {
  try {
    fs.writeFileSync(file, randomBytes(32).toString('hex') + '\n', { mode: 0o600, flag: 'wx' });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new Error(`cannot make the token file ${file}: ${(e as Error).message}`);
  }
  const st = fs.statSync(file);
  if (process.platform !== 'win32' && (st.mode & 0o077) !== 0) {
    throw new Error(`the token file ${file} may be read by others (mode ${(st.mode & 0o777).toString(8)}): chmod 600 it`);
  }
  const token = fs.readFileSync(file, 'utf8').trim();
  if (token.length < 16) throw new Error(`the token file ${file} holds no token of at least 16 characters`);
  return token;
}
