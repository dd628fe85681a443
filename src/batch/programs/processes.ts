// The processes TASKLIST shows and TASKKILL stops, read from /proc (Linux): the image name is the
// program's file name (`node`, `nginx`); a Windows name's `.exe` is not part of it here.
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface Proc {
  pid: number;
  ppid: number;
  name: string;
  /** resident memory, KB */
  rssKb: number;
}

export function processes(): Proc[] {
  const out: Proc[] = [];
  let entries: string[] = [];
  try {
    entries = fs.readdirSync('/proc').filter((e) => /^\d+$/.test(e));
  } catch {
    return out;
  }
  for (const e of entries) {
    try {
      const stat = fs.readFileSync(`/proc/${e}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const comm = stat.slice(stat.indexOf('(') + 1, close);
      const fields = stat.slice(close + 2).split(' ');
      if (fields[0] === 'Z') continue;
      let name = comm;
      try {
        const argv0 = fs.readFileSync(`/proc/${e}/cmdline`, 'utf8').split('\0')[0];
        // comm is cut at 15 characters: the program's file name is whole
        if (argv0 && path.basename(argv0).startsWith(comm)) name = path.basename(argv0);
      } catch {
        /* gone */
      }
      out.push({ pid: Number(e), ppid: Number(fields[1]), name, rssKb: Number(fields[21]) * 4 });
    } catch {
      /* it ended while we looked */
    }
  }
  return out;
}

/** An image name as written in a script (`app.exe`, `APP*`) matched against one here, without regard to case. */
export function imageMatches(pattern: string, name: string): boolean {
  const p = pattern.toLowerCase().replace(/\.exe$/, '');
  const n = name.toLowerCase().replace(/\.exe$/, '');
  if (!p.includes('*')) return p === n;
  return new RegExp('^' + p.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*') + '$').test(n);
}
