// An operator message to everyone logged in: `wall` on POSIX, `msg *` on Windows, when there.
import { spawn } from 'node:child_process';

/** Resolves with null when delivered, or why not (the tool is missing, or failed). */
export function broadcast(text: string): Promise<string | null> {
  const oneLine = text.replace(/[\r\n]+/g, ' ');
  const [cmd, args] = process.platform === 'win32' ? ['msg', ['*', oneLine]] : ['wall', ['--nobanner', oneLine]];
  return new Promise((resolve) => {
    const child = spawn(cmd, args as string[], { stdio: 'ignore', windowsHide: true });
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('error', (e) => {
      clearTimeout(timer);
      resolve(`${cmd}: ${e.message}`);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve(code === 0 ? null : `${cmd} exited ${code}`);
    });
  });
}
