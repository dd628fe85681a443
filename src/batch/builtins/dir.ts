// DIR [/B] [/S] [/A[:attrs]] [/O...] [path...]: /B the names alone (with /S their full paths);
// without /B a listing in cmd's layout (date, time, <DIR> or size, name; the totals). /A:D
// folders only, /A:-D files only. "File Not Found" and ERRORLEVEL 1 when nothing matches.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { IO, writeFd } from '../io';
import type { Interpreter } from '../exec';
import { isDir } from '../paths';
import { builtinArgs, local } from './args';

const pad = (n: number) => String(n).padStart(2, '0');

export function dir(sh: Interpreter, rest: string, io: IO): boolean {
  const a = builtinArgs(rest);
  const bare = a.switches.includes('B');
  const sub = a.switches.includes('S');
  const attr = a.switches.find((s) => s.startsWith('A'));
  const attrs = attr ? attr.replace(/^A:?/, '') : null;
  const wantDirs = attrs === null ? null : attrs.includes('-D') ? false : attrs.includes('D') ? true : null;
  const specs = a.names.length ? a.names : ['.'];
  let out = '';
  let total = 0;
  const list = (folder: string, glob: string) => {
    let entries: fs.Dirent[] = [];
    try {
      entries = fs.readdirSync(folder, { withFileTypes: true }).sort((x, y) => (x.name.toLowerCase() < y.name.toLowerCase() ? -1 : 1));
    } catch {
      return;
    }
    const re = new RegExp('^' + (glob === '*.*' ? '*' : glob).replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.') + '$', 'i');
    const shown = entries.filter((e) => re.test(e.name) && (wantDirs === null || e.isDirectory() === wantDirs));
    if (shown.length > 0) {
      if (!bare) out += `\n Directory of ${folder}\n\n`;
      let bytes = 0;
      for (const e of shown) {
        const f = path.join(folder, e.name);
        if (bare) out += (sub ? f : e.name) + '\n';
        else {
          const st = fs.statSync(f, { throwIfNoEntry: false });
          const d = st?.mtime ?? new Date(0);
          const when = `${d.getFullYear()}/${pad(d.getMonth() + 1)}/${pad(d.getDate())}  ${pad(d.getHours())}:${pad(d.getMinutes())}`;
          const size = e.isDirectory() ? '<DIR>         ' : (st?.size ?? 0).toLocaleString('en-US').padStart(14);
          if (!e.isDirectory()) bytes += st?.size ?? 0;
          out += `${when}    ${size} ${e.name}\n`;
        }
      }
      if (!bare) out += `${String(shown.filter((e) => !e.isDirectory()).length).padStart(16)} File(s) ${bytes.toLocaleString('en-US').padStart(14)} bytes\n`;
      total += shown.length;
    }
    if (sub) for (const e of entries) if (e.isDirectory()) list(path.join(folder, e.name), glob);
  };
  for (const spec of specs) {
    const p = local(sh.cwd, spec);
    if (isDir(p)) list(p, '*');
    else list(path.dirname(p), path.basename(p));
  }
  writeFd(io.out, out);
  if (total === 0) {
    writeFd(io.err, 'File Not Found\n');
    sh.errorlevel = 1;
    return false;
  }
  return true;
}
