// The differential suite's cases (test/batch/cmd-cases/*.cases): small scripts, each with the output
// and exit code cmd.exe gives (recorded from cmd's documented behaviour, checked against Wine's cmd
// where Wine agrees). A case:
//
//   ### name of the case
//   --- file data.txt           (optional, any number: a file written next to the script first)
//   one,two
//   --- stdin                   (optional: the script's input)
//   --- args a "b c"            (optional: the script's arguments, as on a command line)
//   --- script                  (the batch file, written with CRLF line ends)
//   @echo off
//   ...
//   --- stdout                  (exactly; lines end with LF here)
//   --- stderr                  (optional: exactly)
//   --- exit 0
//
// `{DIR}` in stdout/stderr stands for the case's folder.
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface Case {
  file: string;
  line: number;
  name: string;
  files: Record<string, string>;
  stdin?: string;
  args: string[];
  script: string;
  stdout: string;
  stderr?: string;
  exit: number;
}

export const CASES_DIR = path.join(__dirname, 'cmd-cases');

export function loadCases(dir = CASES_DIR): Case[] {
  const out: Case[] = [];
  for (const f of fs.readdirSync(dir).filter((n) => n.endsWith('.cases')).sort()) {
    const lines = fs.readFileSync(path.join(dir, f), 'utf8').split('\n');
    let cur: Case | null = null;
    let section: { kind: string; arg: string; body: string[] } | null = null;
    const close = () => {
      if (!cur || !section) return;
      const body = section.body.join('\n');
      if (section.kind === 'file') cur.files[section.arg] = body.split('\n').join('\r\n') + '\r\n';
      else if (section.kind === 'stdin') cur.stdin = body + '\n';
      else if (section.kind === 'script') cur.script = section.body.join('\r\n') + '\r\n';
      else if (section.kind === 'stdout') cur.stdout = section.body.length ? body + '\n' : '';
      else if (section.kind === 'stderr') cur.stderr = section.body.length ? body + '\n' : '';
      section = null;
    };
    lines.forEach((raw, i) => {
      const l = raw.replace(/\r$/, '');
      if (l.startsWith('### ')) {
        close();
        if (cur) out.push(cur);
        cur = { file: f, line: i + 1, name: l.slice(4).trim(), files: {}, args: [], script: '', stdout: '', exit: 0 };
        return;
      }
      const m = /^--- (\w+)(?: (.*))?$/.exec(l);
      if (m && cur) {
        close();
        if (m[1] === 'exit') cur.exit = Number(m[2]);
        else if (m[1] === 'args') cur.args = (m[2] ?? '').match(/"[^"]*"|\S+/g) ?? [];
        else section = { kind: m[1], arg: m[2] ?? '', body: [] };
        return;
      }
      if (section) (section as { body: string[] }).body.push(l);
    });
    close();
    if (cur) out.push(cur);
  }
  // Trailing blank lines of a section are layout, not content.
  for (const c of out) {
    c.stdout = c.stdout.replace(/\n+$/, '\n').replace(/^\n$/, '');
    if (c.stderr !== undefined) c.stderr = c.stderr.replace(/\n+$/, '\n').replace(/^\n$/, '');
    c.script = c.script.replace(/(\r\n)+$/, '\r\n');
  }
  return out;
}
