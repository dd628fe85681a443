// Paths the interpreter opens itself (IF EXIST, CD, CALL x.bat, redirections): written the Windows
// way in legacy scripts, they are read the way a Windows file system would: `\` separates, `NUL`
// is the null device, and a name that does not exist as written is looked up without regard to
// case (SUB.BAT finds sub.bat), one component at a time.
import * as fs from 'node:fs';
import * as path from 'node:path';

export function hostPath(p: string): string {
  return p.replace(/\\/g, '/');
}

/** NUL, NUL:, and (as cmd has it) any path whose last component is NUL or NUL.ext */
export function isNul(p: string): boolean {
  return /^nul(:|\.[^/\\]*)?$/i.test(path.basename(hostPath(p)));
}

const DEVICES = /^(con|prn|aux|com[1-9]|lpt[1-9])(:|\.[^.]*)?$/i;

/** CON, PRN, AUX, COMn, LPTn: Windows devices with no meaning here. */
export function isDevice(p: string): boolean {
  return DEVICES.test(path.basename(hostPath(p)));
}

/** The absolute path of `p` from `cwd`: as written when it exists, else its case-insensitive match, else as written. */
export function resolveCase(cwd: string, p: string): string {
  const abs = path.resolve(cwd, hostPath(p));
  if (fs.existsSync(abs)) return abs;
  const parts = abs.split('/').filter(Boolean);
  let cur = '/';
  for (let i = 0; i < parts.length; i++) {
    const exact = path.join(cur, parts[i]);
    if (fs.existsSync(exact)) {
      cur = exact;
      continue;
    }
    const found = caseMatch(cur, parts[i]);
    if (!found) return abs;
    cur = path.join(cur, found);
  }
  return cur;
}

function caseMatch(dir: string, name: string): string | undefined {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return undefined;
  }
  const lower = name.toLowerCase();
  return names.find((n) => n.toLowerCase() === lower);
}

/** IF EXIST: a file or folder; `*` and `?` in the last component; `dir\NUL` for "dir is a folder". */
export function exists(cwd: string, spec: string): boolean {
  const p = hostPath(spec);
  if (isNul(p)) {
    const dir = path.dirname(p);
    if (dir === '.' && !p.includes('/')) return true;
    return isDir(resolveCase(cwd, dir));
  }
  const base = path.basename(p);
  if (/[*?]/.test(base)) {
    const dir = resolveCase(cwd, path.dirname(p));
    const re = new RegExp('^' + base.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.') + '$', 'i');
    try {
      return fs.readdirSync(dir).some((n) => re.test(n));
    } catch {
      return false;
    }
  }
  return fs.existsSync(resolveCase(cwd, p));
}

export function isDir(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}
