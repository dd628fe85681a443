// A group's disk resources: activated in order before its start script (which learns the result
// as ARMS_DISK), deactivated in reverse order after its stop script.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { shellCommand } from '../platform/script-command';
import { DiskConfig } from './group-config';
import { DiskResult } from './script-env';
import { describeResult, LineSink, runScript, succeeded } from './scripts';

export interface DiskRunContext {
  env: NodeJS.ProcessEnv;
  cwd: string;
  timeoutMs: number;
  onLine: LineSink;
}

const PROBE_TIMEOUT_MS = 10_000;

/** null when the disk is usable (its path is a folder that takes a write), else why not. */
export async function probeDisk(disk: DiskConfig): Promise<string | null> {
  const probe = path.join(disk.path, `.arms-probe-${process.pid}-${Date.now()}`);
  const attempt = (async () => {
    const st = await fs.promises.stat(disk.path).catch(() => null);
    if (!st) return `${disk.path} does not exist`;
    if (!st.isDirectory()) return `${disk.path} is not a folder`;
    try {
      const fh = await fs.promises.open(probe, 'w', 0o600);
      try {
        await fh.writeFile('arms probe\n');
        await fh.sync();
      } finally {
        await fh.close();
      }
      await fs.promises.rm(probe, { force: true });
      return null;
    } catch (e) {
      return `${disk.path} does not take a write: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`;
    }
  })();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<string>((r) => (timer = setTimeout(() => r(`${disk.path} did not answer a probe write within ${PROBE_TIMEOUT_MS / 1000} s`), PROBE_TIMEOUT_MS)));
  try {
    return await Promise.race([attempt, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Activates each disk in order (stopping at the first failure) and probes them: SUCCESS only when all are usable. */
export async function activateDisks(disks: DiskConfig[], ctx: DiskRunContext): Promise<{ result: DiskResult; problems: string[] }> {
  for (const disk of disks) {
    if (disk.activate) {
      const r = await runScript(shellCommand(disk.activate), { ...ctx });
      if (!succeeded(r)) return { result: 'FAILURE', problems: [`activating ${disk.path} ("${disk.activate}") ${describeResult(r, ctx.timeoutMs / 1000)}`] };
    }
    const problem = await probeDisk(disk);
    if (problem) return { result: 'FAILURE', problems: [problem] };
  }
  return { result: 'SUCCESS', problems: [] };
}

/** Probes without activating anything (for `arms run`). */
export async function probeDisks(disks: DiskConfig[]): Promise<DiskResult> {
  for (const disk of disks) if (await probeDisk(disk)) return 'FAILURE';
  return 'SUCCESS';
}

/** Deactivates in reverse order; every failure is returned, none stops the others. */
export async function deactivateDisks(disks: DiskConfig[], ctx: DiskRunContext): Promise<string[]> {
  const problems: string[] = [];
  for (const disk of [...disks].reverse()) {
    if (!disk.deactivate) continue;
    const r = await runScript(shellCommand(disk.deactivate), { ...ctx });
    if (!succeeded(r)) problems.push(`deactivating ${disk.path} ("${disk.deactivate}") ${describeResult(r, ctx.timeoutMs / 1000)}`);
  }
  return problems;
}
