// arms log: the cluster log (or the alert log) for people, read straight from the home's files,
// so it works whether or not the service runs.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CommandError } from '../../client/client';
import { resolveHome } from '../../platform/home';

export interface LogOptions {
  follow: boolean;
  alert: boolean;
  group?: string;
  json: boolean;
  lines: number;
}

interface Record {
  time?: string;
  level?: number;
  server?: string;
  group?: string;
  src?: string;
  pid?: number;
  msg?: string;
  [k: string]: unknown;
}

const LEVEL_NAME: { [n: number]: string } = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERR', 60: 'FATAL' };
const SHOWN_ELSEWHERE = new Set(['time', 'level', 'server', 'group', 'src', 'pid', 'ppid', 'msg', 'alert']);

/** Control characters in a message are shown escaped: one record is always one line on screen. */
export function escapeControls(s: string): string {
  return s.replace(/[\x00-\x1f\x7f\u2028\u2029]/g, (c) => {
    if (c === '\n') return '\\n';
    if (c === '\r') return '\\r';
    if (c === '\t') return '\\t';
    return `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`;
  });
}

function localTime(iso: string | undefined): string {
  const d = iso ? new Date(iso) : new Date(NaN);
  if (Number.isNaN(d.getTime())) return String(iso ?? '-');
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

export function render(line: string): string {
  let r: Record;
  try {
    r = JSON.parse(line);
  } catch {
    return `(unreadable) ${escapeControls(line)}`;
  }
  const level = (LEVEL_NAME[r.level ?? 30] ?? String(r.level)).padEnd(4);
  const group = r.group ? ` [${escapeControls(r.group)}]` : '';
  const who = [r.src, r.pid !== undefined ? `pid ${r.pid}` : ''].filter(Boolean).join(' ');
  const extra = Object.keys(r)
    .filter((k) => !SHOWN_ELSEWHERE.has(k))
    .map((k) => `${k}=${escapeControls(typeof r[k] === 'string' ? (r[k] as string) : JSON.stringify(r[k]))}`)
    .join(' ');
  return `${localTime(r.time)} ${level} ${r.server ?? '-'}${group} ${who}: ${escapeControls(String(r.msg ?? ''))}${extra ? `  (${extra})` : ''}`;
}

function matches(line: string, group: string | undefined): boolean {
  if (!group) return true;
  try {
    const g = (JSON.parse(line) as Record).group;
    return typeof g === 'string' && g.toUpperCase() === group.toUpperCase();
  } catch {
    return false;
  }
}

function readLines(file: string): string[] {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.length > 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new CommandError(`cannot read ${file}: ${(e as Error).message}`, 1);
  }
}

export async function showLog(opts: LogOptions): Promise<number> {
  const home = resolveHome();
  const file = path.join(home.log, opts.alert ? 'alert.log' : 'cluster.log');
  if (!fs.existsSync(home.log)) throw new CommandError(`no logs in ${home.log} (has the service ever run on this home?)`, 4);
  const print = (line: string) => {
    if (matches(line, opts.group)) process.stdout.write((opts.json ? line : render(line)) + '\n');
  };

  // The newest lines that match, reaching into rotated files when the current one is short.
  let shown: string[] = [];
  for (let i = 0; i <= 100; i++) {
    const f = i === 0 ? file : `${file}.${i}`;
    if (i > 0 && !fs.existsSync(f)) break;
    shown = readLines(f).filter((l) => matches(l, opts.group)).concat(shown);
    if (opts.lines > 0 && shown.length >= opts.lines) break;
  }
  if (opts.lines > 0) shown = shown.slice(-opts.lines);
  for (const l of shown) process.stdout.write((opts.json ? l : render(l)) + '\n');
  if (!opts.follow) return 0;
  await follow(file, print);
  return 0;
}

/** Prints what is appended to `file`, across rotations, until interrupted. */
async function follow(file: string, print: (line: string) => void): Promise<never> {
  let fd: number | null = null;
  let ino = -1;
  let offset = 0;
  let partial = '';
  const open = (atEnd: boolean) => {
    try {
      fd = fs.openSync(file, 'r');
      const st = fs.fstatSync(fd);
      ino = st.ino;
      offset = atEnd ? st.size : 0;
    } catch {
      fd = null;
    }
  };
  const drain = () => {
    if (fd === null) return;
    const buf = Buffer.alloc(64 * 1024);
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, offset);
      if (n <= 0) break;
      offset += n;
      const text = partial + buf.subarray(0, n).toString('utf8');
      const lines = text.split('\n');
      partial = lines.pop()!;
      for (const l of lines) if (l) print(l);
    }
  };
  open(true);
  for (;;) {
    drain();
    let st: fs.Stats | null = null;
    try {
      st = fs.statSync(file);
    } catch {
      /* between a rotation's rename and the new file */
    }
    if (st && (fd === null || st.ino !== ino || st.size < offset)) {
      drain();
      if (fd !== null) fs.closeSync(fd);
      partial = '';
      open(false);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}
