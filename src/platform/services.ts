// Services for ARMLOAD /S: a systemd unit on Linux, the Service Control Manager on Windows, or the
// commands the config's `services:` map gives a legacy service name (start, stop, status).
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { spawnCommandLine } from './command-line';

export type ServiceDef =
  | { kind: 'unit'; unit: string }
  | { kind: 'windows'; name: string }
  | { kind: 'commands'; start: string; stop?: string; status?: string };

/** The default for a name the config does not map: the OS's own service of that name. */
export function nativeService(name: string): ServiceDef {
  return process.platform === 'win32' ? { kind: 'windows', name } : { kind: 'unit', unit: name };
}

export interface ServiceManager {
  /** null when started (running, or with noWait: asked to start), else why not */
  start(noWait: boolean): Promise<string | null>;
  running(): Promise<boolean>;
  /** true when it stopped */
  stop(timeoutMs: number): Promise<boolean>;
}

interface Ran {
  code: number | null;
  output: string;
}

/** Runs a program (file and args) or a config command line (`line`, through the shell as written). */
function runTo(file: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs: number; logFile?: string; line?: string }): Promise<Ran> {
  return new Promise((resolve) => {
    let output = '';
    const out = opts.logFile ? fs.openSync(opts.logFile, 'a', 0o640) : null;
    const spawnOpts = { cwd: opts.cwd, env: opts.env, stdio: ['ignore', out ?? 'pipe', out ?? 'pipe'] as ['ignore', 'pipe' | number, 'pipe' | number], windowsHide: true };
    const child = opts.line !== undefined ? spawnCommandLine(opts.line, spawnOpts) : spawn(file, args, spawnOpts);
    if (out !== null) fs.closeSync(out);
    const keep = (d: Buffer) => {
      if (output.length < 2000) output += d.toString();
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs);
    child.once('error', (e) => {
      clearTimeout(timer);
      resolve({ code: null, output: e.message });
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output: output.trim() });
    });
  });
}

const COMMAND_TIMEOUT_MS = 120_000;

export function serviceManager(def: ServiceDef, opts: { cwd: string; env: NodeJS.ProcessEnv; logFile: string }): ServiceManager {
  const firstLine = (r: Ran) => r.output.split('\n')[0] || `exit code ${r.code}`;
  switch (def.kind) {
    case 'unit':
      return {
        async start(noWait) {
          const r = await runTo('systemctl', ['start', ...(noWait ? ['--no-block'] : []), def.unit], { timeoutMs: COMMAND_TIMEOUT_MS });
          return r.code === 0 ? null : `systemctl start ${def.unit}: ${firstLine(r)}`;
        },
        async running() {
          return (await runTo('systemctl', ['is-active', '--quiet', def.unit], { timeoutMs: 30_000 })).code === 0;
        },
        async stop(timeoutMs) {
          return (await runTo('systemctl', ['stop', def.unit], { timeoutMs: Math.max(timeoutMs, 10_000) })).code === 0;
        },
      };
    case 'windows': {
      const sc = 'sc.exe';
      return {
        async start() {
          const r = await runTo(sc, ['start', def.name], { timeoutMs: COMMAND_TIMEOUT_MS });
          // 1056: already running.
          return r.code === 0 || r.code === 1056 ? null : `sc start ${def.name}: ${firstLine(r)}`;
        },
        async running() {
          return /STATE\s+:\s+\d+\s+RUNNING/.test((await runTo(sc, ['query', def.name], { timeoutMs: 30_000 })).output);
        },
        async stop(timeoutMs) {
          const r = await runTo(sc, ['stop', def.name], { timeoutMs: Math.max(timeoutMs, 10_000) });
          return r.code === 0 || r.code === 1062; // 1062: not started
        },
      };
    }
    case 'commands': {
      const sh = (line: string, timeoutMs: number) => runTo(line, [], { cwd: opts.cwd, env: opts.env, timeoutMs, logFile: opts.logFile, line });
      return {
        async start() {
          const r = await sh(def.start, COMMAND_TIMEOUT_MS);
          return r.code === 0 ? null : `"${def.start}" exited with code ${r.code}`;
        },
        async running() {
          return def.status ? (await sh(def.status, 30_000)).code === 0 : false;
        },
        async stop(timeoutMs) {
          return def.stop ? (await sh(def.stop, Math.max(timeoutMs, 10_000))).code === 0 : true;
        },
      };
    }
  }
}
