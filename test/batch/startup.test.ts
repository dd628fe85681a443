// The interpreter starts for every group script (and every helper it STARTs): it loads only its own
// modules, nothing from node_modules.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, tempDir } from '../helpers';
import { bat, BATCH_MAIN } from './run-bat';

describe('interpreter start-up', () => {
  it('loads its own modules only', () => {
    const dir = tempDir();
    const list = path.join(dir, 'modules.txt');
    fs.writeFileSync(path.join(dir, 'T.BAT'), bat('@echo off\r\nset /a X=1+1\r\nif %X% EQU 2 echo two'));
    const r = spawnSync(process.execPath, ['-r', path.join(ROOT, 'test', 'fixtures', 'list-modules.cjs'), BATCH_MAIN, path.join(dir, 'T.BAT')], {
      env: { ...process.env, LIST_MODULES_TO: list },
      encoding: 'utf8',
      timeout: 15_000,
    });
    expect(r.stdout).toBe('two\n');
    const mods = fs.readFileSync(list, 'utf8').split('\n').filter(Boolean);
    expect(mods.filter((m) => m.includes(`${path.sep}node_modules${path.sep}`))).toEqual([]);
    expect(mods.every((m) => m.includes(`${path.sep}dist${path.sep}batch${path.sep}`) || m.endsWith('list-modules.cjs'))).toBe(true);
  });
});
