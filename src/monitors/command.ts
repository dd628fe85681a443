// Custom probe: a command line through the shell (/bin/sh -c; Windows: cmd /d /s /c); exit code 0
// is healthy. It runs in a process group of its own, so that at the timeout the command and
// everything it started are killed.
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { Check, Outcome, seconds, took } from './loop';

const running = new Set<ChildProcess>();

export function commandCheck(command: string): Check {
  return { kind: 'cmd', resource: command, run: (ms) => runCommand(command, ms) };
}

/** Kills every probe command still running, with what it started (ARMRSP is stopping). */
export function killRunningCommands(): void {
  for (const child of running) killTree(child);
  running.clear();
}

function killTree(child: ChildProcess): void {
  if (child.pid === undefined) return;
  try {
    if (process.platform === 'win32') {
      spawnSync('taskkill', ['/PID', String(child.pid), '/T', '/F'], { stdio: 'ignore', windowsHide: true });
    } else {
      process.kill(-child.pid, 'SIGKILL');
    }
  } catch {
    // already gone
  }
}

function lastLine(text: string): string {
  const line = text.trim().split(/\r?\n/).pop()?.trim() ?? '';
  return line.length > 300 ? `${line.slice(0, 300)}…` : line;
}

export function runCommand(command: string, timeoutMs: number): Promise<Outcome> {
  const start = Date.now();
  return new Promise<Outcome>((resolve) => {
    let out = '';
    let err = '';
    let done = false;
    const child =
      process.platform === 'win32'
        ? spawn(process.env.ComSpec || 'cmd.exe', ['/d', '/s', '/c', `"${command}"`], { stdio: ['ignore', 'pipe', 'pipe'], windowsVerbatimArguments: true, windowsHide: true })
        : spawn('/bin/sh', ['-c', command], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    running.add(child);
    const finish = (o: Outcome) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      running.delete(child);
      child.stdout?.destroy();
      child.stderr?.destroy();
      resolve(o);
    };
    const timer = setTimeout(() => {
      killTree(child);
      finish({ ok: false, detail: `still running after ${seconds(timeoutMs)}: killed` });
    }, timeoutMs);
    child.stdout!.on('data', (d) => (out = (out + d).slice(-8192)));
    child.stderr!.on('data', (d) => (err = (err + d).slice(-8192)));
    child.on('error', (e) => finish({ ok: false, detail: `cannot run it: ${e.message}` }));
    child.on('exit', (code, signal) => {
      // Its output may still be on its way; a program it left running may hold the pipes open.
      const settle = () => {
        if (code === 0) {
          finish({ ok: true, detail: `exit code 0 in ${took(start)}` });
          return;
        }
        const said = lastLine(err) || lastLine(out);
        finish({ ok: false, detail: `${signal ? `killed by ${signal}` : `exit code ${code}`}${said ? `: ${said}` : ''}` });
      };
      const t = setTimeout(settle, 100);
      child.once('close', () => {
        clearTimeout(t);
        settle();
      });
    });
  });
}
