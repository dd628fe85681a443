// XCOPY source [destination] [/S /E /I /Y /Q /F /H /R /K /C]: files (wildcards), with /S the
// folders under the source (/E the empty ones too). Each file copied is listed (/Q: not), then
// "N File(s) copied". Exit 0 copied, 1 nothing to copy, 4 a source that is not there.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeFd } from '../io';
import { hostPath, isDir, resolveCase } from '../paths';
import type { ProgramRun } from '.';

export function xcopy({ sh, args, io }: ProgramRun): number {
  const names = args.filter((a) => !a.startsWith('/'));
  const flags = new Set(args.filter((a) => a.startsWith('/')).map((a) => a.toUpperCase()));
  const recurse = flags.has('/S') || flags.has('/E');
  const empty = flags.has('/E');
  const quiet = flags.has('/Q');
  if (names.length === 0) {
    writeFd(io.err, 'Invalid number of parameters\n0 File(s) copied\n');
    return 4;
  }
  const src = resolveCase(sh.cwd, hostPath(names[0]));
  const wildcard = /[*?]/.test(path.basename(src));
  const srcDir = wildcard || !isDir(src) ? path.dirname(src) : src;
  const glob = wildcard ? path.basename(src) : isDir(src) ? '*' : path.basename(src);
  if (!fs.existsSync(srcDir) || (!wildcard && !fs.existsSync(src))) {
    writeFd(io.err, `File not found - ${path.basename(names[0])}\n0 File(s) copied\n`);
    return 4;
  }
  const dest = resolveCase(sh.cwd, hostPath(names[1] ?? '.'));
  const re = new RegExp('^' + glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.') + '$', 'i');
  let copied = 0;
  const walk = (from: string, to: string) => {
    for (const e of fs.readdirSync(from, { withFileTypes: true })) {
      const f = path.join(from, e.name);
      if (e.isDirectory()) {
        if (!recurse) continue;
        if (empty) fs.mkdirSync(path.join(to, e.name), { recursive: true });
        walk(f, path.join(to, e.name));
      } else if (re.test(e.name)) {
        fs.mkdirSync(to, { recursive: true });
        fs.copyFileSync(f, path.join(to, e.name));
        if (!quiet) writeFd(io.out, `${flags.has('/F') ? `${f} -> ${path.join(to, e.name)}` : path.relative(sh.cwd, f) || f}\n`);
        copied++;
      }
    }
  };
  walk(srcDir, dest);
  writeFd(io.out, `${copied} File(s) copied\n`);
  return copied > 0 ? 0 : 1;
}
