// The differential suite: every case of test/batch/cmd-cases/ run by the interpreter (its real entry
// point, as the service runs a script), compared with what cmd.exe gives. `npm run test:windows`
// runs the same cases under Wine's cmd.exe (test/windows/cmd-cases.test.ts).
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../helpers';
import { Case, loadCases } from './cmd-cases';
import { BATCH_MAIN, batEnv } from './run-bat';

const cases = loadCases();

function run(c: Case): Promise<{ code: number | null; stdout: string; stderr: string; dir: string }> {
  const dir = tempDir('arms-case-');
  for (const [name, content] of Object.entries(c.files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), content);
  }
  const file = path.join(dir, 'T.BAT');
  fs.writeFileSync(file, c.script);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BATCH_MAIN, file, ...c.args], { cwd: dir, env: batEnv({ PROMPT: '$P$G' }), stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.stdin.end(c.stdin ?? '');
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, dir });
    });
  });
}

describe('the differential suite: the interpreter gives what cmd.exe gives', () => {
  it('has at least 200 cases', () => {
    expect(cases.length).toBeGreaterThanOrEqual(200);
  });
  for (const c of cases) {
    it.concurrent(`${c.file}:${c.line} ${c.name}`, async () => {
      const r = await run(c);
      // Files are written with CRLF, as on Windows: TYPE passes their CRs on; lines are compared by their text.
      const fix = (s: string) => s.split(r.dir).join('{DIR}').replace(/\r\n/g, '\n');
      expect({ stdout: fix(r.stdout), exit: r.code, ...(c.stderr !== undefined ? { stderr: fix(r.stderr).replace(/\n+$/, '\n') } : {}) }).toEqual({
        stdout: c.stdout,
        exit: c.exit,
        ...(c.stderr !== undefined ? { stderr: c.stderr } : {}),
      });
    });
  }
});
