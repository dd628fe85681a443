// `arms check` for the groups' batch scripts: the start and stop scripts, and every other .bat or
// .cmd file in the group's folder (the helpers they CALL or START), each checked whole.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { check } from './parse';
import { Problem } from './source';

const BATCH = /\.(bat|cmd)$/i;

export function checkGroupScripts(groups: ReadonlyArray<{ dir: string; start: string; stop: string }>): Problem[] {
  const files = new Set<string>();
  for (const g of groups) {
    for (const f of [g.start, g.stop]) if (BATCH.test(f)) files.add(path.resolve(f));
    let names: string[] = [];
    try {
      names = fs.readdirSync(g.dir);
    } catch {
      /* a missing folder is the config check's to report */
    }
    for (const n of names) if (BATCH.test(n) && fs.statSync(path.join(g.dir, n), { throwIfNoEntry: false })?.isFile()) files.add(path.resolve(g.dir, n));
  }
  return [...files].sort().flatMap((f) => check(f));
}
