// TASKLIST [/FI "IMAGENAME eq name"] [/FI "PID eq n"] [/NH] [/FO TABLE|CSV|LIST]: the running
// processes. An image name asked for as `app.exe` matches the program `app` and is shown as asked,
// so `TASKLIST /FI "IMAGENAME eq app.exe" | FIND /I "app.exe"` works as on Windows. Exit 0.
import { writeFd } from '../io';
import type { ProgramRun } from '.';
import { imageMatches, processes } from './processes';

export function tasklist({ args, io }: ProgramRun): number {
  const filters: Array<{ key: string; op: string; value: string }> = [];
  let header = true;
  let format = 'TABLE';
  for (let i = 0; i < args.length; i++) {
    const u = args[i].toUpperCase();
    if (u === '/NH') header = false;
    else if (u === '/FO') format = (args[++i] ?? '').toUpperCase();
    else if (u === '/FI') {
      const m = /^\s*(\w+)\s+(eq|ne)\s+(.*?)\s*$/i.exec(args[++i] ?? '');
      if (!m) {
        writeFd(io.err, 'ERROR: The search filter cannot be recognized.\n');
        return 1;
      }
      filters.push({ key: m[1].toUpperCase(), op: m[2].toLowerCase(), value: m[3] });
    } else if (u === '/V' || u === '/SVC') continue;
    else {
      writeFd(io.err, `ERROR: Invalid argument/option - '${args[i]}'.\nType "TASKLIST /?" for usage.\n`);
      return 1;
    }
  }
  const shownName = filters.find((f) => f.key === 'IMAGENAME' && f.op === 'eq' && !f.value.includes('*'))?.value;
  const rows = processes()
    .filter((p) =>
      filters.every((f) => {
        const hit = f.key === 'IMAGENAME' ? imageMatches(f.value, p.name) : f.key === 'PID' ? String(p.pid) === f.value : true;
        return f.op === 'eq' ? hit : !hit;
      }),
    )
    .sort((a, b) => a.pid - b.pid)
    .map((p) => ({ name: shownName ?? p.name, pid: p.pid, mem: `${p.rssKb.toLocaleString('en-US')} K` }));
  if (rows.length === 0) {
    writeFd(io.out, 'INFO: No tasks are running which match the specified criteria.\n');
    return 0;
  }
  let out = '';
  if (format === 'CSV') {
    if (header) out += '"Image Name","PID","Session Name","Session#","Mem Usage"\n';
    for (const r of rows) out += `"${r.name}","${r.pid}","Services","0","${r.mem}"\n`;
  } else if (format === 'LIST') {
    for (const r of rows) out += `\nImage Name:   ${r.name}\nPID:          ${r.pid}\nSession Name: Services\nSession#:     0\nMem Usage:    ${r.mem}\n`;
  } else {
    if (header) out += `\nImage Name                     PID Session Name        Session#    Mem Usage\n========================= ======== ================ =========== ============\n`;
    for (const r of rows) out += `${r.name.slice(0, 25).padEnd(25)} ${String(r.pid).padStart(8)} ${'Services'.padEnd(16)} ${'0'.padStart(11)} ${r.mem.padStart(12)}\n`;
  }
  writeFd(io.out, out);
  return 0;
}
