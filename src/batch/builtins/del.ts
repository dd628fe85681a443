// DEL / ERASE [/P] [/F] [/S] [/Q] [/A[:attr]] names...: files (wildcards; a folder stands for the
// files in it). As in cmd, a name with nothing to delete says "Could Not Find ..." and leaves
// ERRORLEVEL alone; `*` or `*.*` without /Q asks "Are you sure (Y/N)?" on the script's input
// (nothing there: nothing deleted). /S goes into the folders below and lists what it deletes.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { IO, writeFd } from '../io';
import type { Interpreter } from '../exec';
import { isDir } from '../paths';
import { builtinArgs, has, local } from './args';
import { readLine } from './read-line';

export function del(sh: Interpreter, rest: string, io: IO): boolean {
  const a = builtinArgs(rest);
  if (a.names.length === 0) {
    writeFd(io.err, 'The syntax of the command is incorrect.\n');
    sh.errorlevel = 1;
    return false;
  }
  const quiet = has(a, 'Q');
  const sub = has(a, 'S');
  const force = has(a, 'F');
  for (const name of a.names) {
    const p = local(sh.cwd, name);
    let dir = path.dirname(p);
    let glob = path.basename(p);
    if (isDir(p)) {
      dir = p;
      glob = '*';
    }
    if ((glob === '*' || glob === '*.*') && !quiet) {
      writeFd(io.out, `${path.join(dir, '*')}, Are you sure (Y/N)? `);
      const answer = readLine(io.in);
      writeFd(io.out, '\n');
      if (!/^y/i.test(answer ?? '')) continue;
    }
    const re = new RegExp('^' + (glob === '*.*' ? '*' : glob).replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.') + '$', 'i');
    let found = 0;
    const walk = (d: string) => {
      let entries: fs.Dirent[] = [];
      try {
        entries = fs.readdirSync(d, { withFileTypes: true });
      } catch {
        return;
      }
      for (const e of entries) {
        const f = path.join(d, e.name);
        if (e.isDirectory()) continue;
        if (!re.test(e.name)) continue;
        found++;
        try {
          if (!force && !(fs.statSync(f).mode & 0o200)) {
            writeFd(io.err, `${f}\nAccess is denied.\n`);
            continue;
          }
          fs.rmSync(f);
          if (sub) writeFd(io.out, `Deleted file - ${f}\n`);
        } catch {
          writeFd(io.err, `${f}\nAccess is denied.\n`);
        }
      }
      if (sub) for (const e of entries) if (e.isDirectory()) walk(path.join(d, e.name));
    };
    walk(dir);
    if (found === 0) writeFd(io.err, `Could Not Find ${p}\n`);
  }
  return true;
}
