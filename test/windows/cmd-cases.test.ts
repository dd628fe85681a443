// The differential suite under Wine's cmd.exe: every case of test/batch/cmd-cases/ run by
// `winenode cmd /c`, compared with what the case records (cmd's documented behaviour). Wine's cmd
// differs from Windows in places: the cases where it does are listed, with why, in
// test/batch/cmd-cases/wine-differences.txt; any other difference fails, and a listed case that
// Wine now gets right fails too (the list must be kept true). ARMS_CASES=for.cases limits the run.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Case, CASES_DIR, loadCases } from '../batch/cmd-cases';
import { winenode } from './wine';

const only = process.env.ARMS_CASES;
const cases = loadCases().filter((c) => !only || only.split(',').includes(c.file));
const known = new Set(
  fs
    .readFileSync(path.join(CASES_DIR, 'wine-differences.txt'), 'utf8')
    .split('\n')
    .map((l) => l.replace(/#.*/, '').trim())
    .filter(Boolean),
);

async function underWine(c: Case): Promise<{ stdout: string; exit: number | null }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'arms-wcase-'));
  for (const [name, content] of Object.entries(c.files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), content);
  }
  fs.writeFileSync(path.join(dir, 'T.BAT'), c.script);
  const cwd = process.cwd();
  process.chdir(dir);
  try {
    const r = await winenode(['cmd', '/c', 'T.BAT', ...c.args], {}, 120_000);
    const stdout = r.stdout.replace(/\r\n/g, '\n').replace(/\\/g, '/');
    return { stdout: stdout.replace(/[A-Z]:\/tmp\/arms-wcase-\w+/gi, '{DIR}').split(dir).join('{DIR}'), exit: r.code };
  } finally {
    process.chdir(cwd);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe("the differential suite under Wine's cmd.exe", () => {
  for (const c of cases) {
    const id = `${c.file}:${c.name}`;
    it(id, async () => {
      const r = await underWine(c);
      const same = r.stdout === c.stdout && r.exit === c.exit;
      if (known.has(id)) expect(same, `${id} is listed in wine-differences.txt but Wine now agrees`).toBe(false);
      else expect(r).toEqual({ stdout: c.stdout, exit: c.exit });
    });
  }
});
