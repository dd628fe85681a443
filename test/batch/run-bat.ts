// Runs batch files written inline in the tests (CRLF, as on Windows) through the real entry point
// of the interpreter, dist/batch/main.js, as the service runs it.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { COMMANDS, ROOT, tempDir } from '../helpers';

export const BATCH_MAIN = path.join(ROOT, 'dist', 'batch', 'main.js');

/** A script written indented in a template string: common indentation removed, CRLF line ends. */
export function bat(text: string): string {
  const lines = text.replace(/^\n/, '').replace(/\n[ \t]*$/, '').split('\n');
  const indent = Math.min(...lines.filter((l) => l.trim() !== '').map((l) => /^ */.exec(l)![0].length));
  return lines.map((l) => l.slice(indent)).join('\r\n') + '\r\n';
}

export interface BatResult {
  code: number | null;
  stdout: string;
  stderr: string;
  dir: string;
}

export interface BatOptions {
  /** arguments after the file */
  args?: string[];
  /** more files in the same folder (name → content, written as given) */
  files?: Record<string, string>;
  env?: NodeJS.ProcessEnv;
  /** the working folder (default: the script's folder) */
  cwd?: string;
  trace?: boolean;
  /** the script's file name (default T.BAT) */
  name?: string;
  dir?: string;
  timeoutMs?: number;
}

/** The environment of a test script: ours, with the commands folder first on PATH. */
export function batEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, PATH: `${COMMANDS}${path.delimiter}${process.env.PATH}` };
  for (const k of Object.keys(env)) if (/^(ARMS_|CLP_)/.test(k)) delete env[k];
  return { ...env, ...extra };
}

export function runFile(file: string, opts: BatOptions = {}): Promise<BatResult> {
  return new Promise((resolve, reject) => {
    const args = [BATCH_MAIN, ...(opts.trace ? ['--trace'] : []), file, ...(opts.args ?? [])];
    const child = spawn(process.execPath, args, { cwd: opts.cwd ?? path.dirname(file), env: batEnv(opts.env), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 20_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, dir: path.dirname(file) });
    });
  });
}

/** Writes `text` as T.BAT (and `files`) into a new folder and runs it. */
export function runBat(text: string, opts: BatOptions = {}): Promise<BatResult> {
  const dir = opts.dir ?? tempDir('arms-bat-');
  for (const [name, content] of Object.entries(opts.files ?? {})) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    // A file that starts with #! is a program: executable.
    fs.writeFileSync(path.join(dir, name), content, { mode: content.startsWith('#!') ? 0o755 : 0o644 });
  }
  const file = path.join(dir, opts.name ?? 'T.BAT');
  fs.writeFileSync(file, text);
  return runFile(file, opts);
}

/** Output lines without the trailing empty one. */
export function outLines(s: string): string[] {
  const lines = s.split('\n');
  if (lines.at(-1) === '') lines.pop();
  return lines;
}
