// arms account set USER: stores an account's password for ARMLOAD /U on Windows. The password is
// read from stdin (its first line) and sent to this home's service, which seals it with DPAPI for
// its own account: only the service can use it, and it never lands on disk in the clear.
import { call, CommandError } from '../../client/client';
import { clientPipe } from '../../platform/home';

function readLine(): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    if (process.stdin.isTTY) process.stderr.write('password: ');
    process.stdin.setEncoding('utf8');
    process.stdin.on('data', (d: string) => {
      text += d;
      if (text.includes('\n')) {
        process.stdin.pause();
        resolve(text.slice(0, text.indexOf('\n')).replace(/\r$/, ''));
      }
    });
    process.stdin.on('end', () => resolve(text.replace(/\r?\n$/, '')));
  });
}

export async function accountSet(user: string): Promise<number> {
  if (process.platform !== 'win32') throw new CommandError('stored accounts are for Windows; on POSIX ARMLOAD /U needs the service to run as root', 2);
  const password = await readLine();
  if (password === '') throw new CommandError('no password given on stdin', 2);
  const r = (await call(clientPipe(), 'account.set', { user, password })) as { user: string; stored: string };
  console.log(`stored the credentials of ${r.user} for ARMLOAD /U (sealed for the service's account in ${r.stored})`);
  return 0;
}
