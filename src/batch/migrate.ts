// `arms migrate FILE.BAT`: what in a legacy batch script will not work on this OS, line by line,
// with what to do instead; and (migrate-sh.ts) the same script as a POSIX shell script. Works on the
// parser's tree (parse.ts), references left unexpanded, so every line is looked at, run or not.
import * as path from 'node:path';
import { Node, parseScript } from './parse';
import { REF_CLOSE, REF_OPEN } from './expand';
import { checkTree, splitCommand } from './rules';
import { loadScript, Problem, Script, ScriptUnreadable } from './source';
import { toShell } from './migrate-sh';
import { mappedProgram, unmappedWindowsProgram } from './programs';

export interface Finding {
  file: string;
  /** 1-based */
  line: number;
  /** what will not work */
  message: string;
  /** the suggested replacement */
  instead?: string;
}

export interface MigrateContext {
  /** the legacy service names the config's services: map gives a meaning here (any case) */
  services: readonly string[];
  /** where that config is (for the suggestions) */
  configFile?: string;
  platform?: NodeJS.Platform;
}

const shown = (s: string) => s.replace(/[\uE000\uE001]/g, '');

/** Variables Windows sets and this OS does not. */
const WINDOWS_VARS: Record<string, string> = {
  SYSTEMROOT: 'the program by name (PATH finds it) or its POSIX path (/usr/bin/...)',
  WINDIR: 'the program by name (PATH finds it) or its POSIX path (/usr/bin/...)',
  SYSTEMDRIVE: 'a POSIX path (/)',
  PROGRAMFILES: 'the install folder on this OS (/opt/..., /usr/local/...)',
  'PROGRAMFILES(X86)': 'the install folder on this OS (/opt/..., /usr/local/...)',
  PROGRAMDATA: '/var/lib/... or /etc/...',
  COMMONPROGRAMFILES: 'the install folder on this OS',
  APPDATA: '$HOME/.config (or XDG_CONFIG_HOME)',
  LOCALAPPDATA: '$HOME/.local/share (or XDG_DATA_HOME)',
  USERPROFILE: '%HOME%',
  HOMEDRIVE: '%HOME%',
  HOMEPATH: '%HOME%',
  COMSPEC: '/bin/sh',
  COMPUTERNAME: '%ARMS_SERVER% (or the hostname command)',
  USERDOMAIN: 'nothing (no Windows domain here)',
  TEMP: '/tmp (or %TMPDIR%): TEMP is not set here',
  TMP: '/tmp (or %TMPDIR%): TMP is not set here',
  PATHEXT: 'nothing: programs have no extension list here',
};

/** The text of a tree's commands, with the line each one starts on. */
export function commandsOf(node: Node, out: Array<{ text: string; line: number; targets: string[]; condition?: boolean }> = []): typeof out {
  switch (node.kind) {
    case 'command':
      out.push({ text: node.text, line: node.line, targets: node.redirects.filter((r) => r.mode !== 'dup').map((r) => r.target) });
      break;
    case 'chain':
      commandsOf(node.left, out);
      commandsOf(node.right, out);
      break;
    case 'block':
      node.body.forEach((n) => commandsOf(n, out));
      for (const r of node.redirects) if (r.mode !== 'dup') out.push({ text: '', line: node.line, targets: [r.target] });
      break;
    case 'if': {
      const c = node.cond;
      const words = c.kind === 'compare' ? [c.left, c.right] : c.kind === 'exist' ? [c.path] : [];
      out.push({ text: words.join(' '), line: node.line, targets: [], condition: true });
      commandsOf(node.then, out);
      if (node.else) commandsOf(node.else, out);
      break;
    }
    case 'pipe':
      commandsOf(node.left, out);
      commandsOf(node.right, out);
      break;
    case 'for':
      out.push({ text: node.set, line: node.line, targets: [], condition: true });
      commandsOf(node.body, out);
      break;
    default:
      break;
  }
  return out;
}

/** Words of a command's text as written (quotes kept, a reference stays in its word). */
export function words(text: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  let inRef = false;
  for (const c of text) {
    if (c === REF_OPEN) inRef = true;
    else if (c === REF_CLOSE) inRef = false;
    if (!quoted && !inRef && ' \t,;='.includes(c)) {
      if (cur) out.push(cur);
      cur = '';
      continue;
    }
    if (c === '"' && !inRef) quoted = !quoted;
    cur += c;
  }
  if (cur) out.push(cur);
  return out;
}

const unq = (w: string) => w.replace(/"/g, '');

/** ARMLOAD's target and whether it is a service (/S), from its words after the name. */
export function armloadTarget(args: string[]): { id: string; service: boolean; target: string | null } {
  const id = unq(args[0] ?? '');
  let service = false;
  let i = 1;
  for (; i < args.length; i++) {
    const w = unq(args[i]).toUpperCase();
    if (!w.startsWith('/')) break;
    if (w === '/S') service = true;
    if (['/U', '/R', '/H', '/WAIT', '/INT'].includes(w)) i++;
  }
  return { id, service, target: args[i] === undefined ? null : unq(args[i]) };
}

/** What will not work on this OS in one file: Windows-only commands, paths, variables, unmapped services. */
export function findWindowsOnly(script: Script, tree: Node[], ctx: MigrateContext): Finding[] {
  const found: Finding[] = [];
  const add = (line: number, message: string, instead?: string) => found.push({ file: script.file, line, message, ...(instead ? { instead } : {}) });
  const mapped = new Set(ctx.services.map((s) => s.toUpperCase()));
  const config = ctx.configFile ? path.basename(ctx.configFile) : 'arms.yaml';
  const seenVar = new Set<string>();
  for (const node of tree) {
    for (const cmd of commandsOf(node)) {
      const raw = cmd.text;
      // Windows variables, drive letters and backslash paths, anywhere on the line.
      for (const m of raw.matchAll(/\uE000%([^%:\uE001]+)(?::[^%\uE001]*)?%\uE001/g)) {
        const key = m[1].toUpperCase();
        if (WINDOWS_VARS[key] && !seenVar.has(`${cmd.line}:${key}`)) {
          seenVar.add(`${cmd.line}:${key}`);
          add(cmd.line, `%${m[1]}% is a Windows variable: not set here`, WINDOWS_VARS[key]);
        }
      }
      const plain = shown(raw);
      const targets = cmd.targets.map(shown);
      for (const t of [plain, ...targets]) {
        const drive = /(^|[\s"'=(,;])([A-Za-z]):[\\/]/.exec(t);
        if (drive) {
          add(cmd.line, `${drive[2].toUpperCase()}:\\ is a drive letter: there are no drives here`, 'a POSIX path (/srv/..., /opt/...), or a path relative to the script: %~dp0...');
          break;
        }
      }
      if (!/(^|[\s"'=(,;])[A-Za-z]:[\\/]/.test(plain) && /(^|[\s"'])\\\\[A-Za-z0-9._-]+\\/.test(plain)) add(cmd.line, 'a UNC path (\\\\server\\share) does not exist here', 'mount the share (cifs/nfs) from a disk\'s activate: command and use its mount point');
      if (raw === '' || cmd.condition) continue; // a condition's or a set's words are not a command
      const s = splitCommand(raw);
      if (s.builtin || s.name === '') {
        if (s.builtin === 'START' || s.builtin === 'CALL') {
          // The command START or CALL runs is looked at like any other.
          const rest = s.rest.replace(/^[ \t]+/, '');
          const inner = s.builtin === 'START' ? rest.replace(/^("[^"]*"[ \t]*)?((\/[A-Za-z]+|\/D[ \t]*\S+)[ \t]+)*/i, '') : rest;
          if (inner && !inner.startsWith(':')) programFindings(inner, cmd.line, add, mapped, config, ctx);
        }
        continue;
      }
      if (/^[A-Z]:$/i.test(s.name)) continue; // check() reports it
      programFindings(raw, cmd.line, add, mapped, config, ctx);
    }
  }
  return found;
}

function programFindings(text: string, line: number, add: (line: number, message: string, instead?: string) => void, mapped: Set<string>, config: string, ctx: MigrateContext): void {
  const [nameWord, ...args] = words(text);
  if (!nameWord) return;
  const name = shown(unq(nameWord));
  const base = name.replace(/^.*[\\/]/, '');
  const upper = base.toUpperCase().replace(/\.(EXE|COM)$/, '');
  const argsShown = args.map((a) => shown(unq(a)));
  // NET and SC run here (docs/batch.md): through the config's services: map, else as a systemd unit
  // of that name. A name the config does not map is reported: that unit is rarely what was meant.
  if (upper === 'NET' || upper === 'NET1' || upper === 'SC') {
    const verb = (argsShown[0] ?? '').toUpperCase();
    const svc = upper === 'SC' ? (argsShown.slice(1).find((a) => !a.startsWith('\\\\')) ?? '') : argsShown.slice(1).join(' ');
    const id = svc.replace(/[^A-Za-z0-9_]/g, '_').slice(0, 255) || 'SVC';
    const cmd = upper === 'SC' ? 'SC' : 'NET';
    if (['START', 'STOP', 'QUERY', 'QUERYEX'].includes(verb) && svc && !(cmd === 'NET' && verb.startsWith('QUERY'))) {
      if (svc.includes(REF_OPEN) || mapped.has(svc.toUpperCase())) return;
      const what = verb === 'START' ? 'starts' : verb === 'STOP' ? 'stops' : 'asks about';
      add(
        line,
        `${cmd} ${verb} ${svc} ${what} a Windows service that ${config} does not map (here it would be taken as a systemd unit ${svc})`,
        verb === 'START'
          ? `map it in ${config}: services: { ${svc}: <systemd unit> }; better, ARMLOAD ${id} /S ${svc.includes(' ') ? `"${svc}"` : svc} so that the service watches it`
          : `map it in ${config}: services: { ${svc}: <systemd unit> }${verb === 'STOP' ? ` (or ARMKILL ${id}, the watch ARMLOAD ${id} /S ${svc} started)` : ''}`,
      );
      return;
    }
    if (cmd === 'NET' && verb === 'SEND') add(line, 'NET SEND is Windows-only', 'ARMBCAST /MSG "..."');
    else if (cmd === 'NET' && verb === 'USE') add(line, 'NET USE maps a Windows share', 'mount the share (cifs/nfs) from a disk\'s activate: command in arms.yaml');
    else add(line, `${cmd} ${verb} is Windows-only (only START, STOP${cmd === 'SC' ? ' and QUERY' : ''} name map to services here)`, 'the Linux tool for the job (systemctl, mount, ip)');
    return;
  }
  if (upper === 'ARMLOAD') {
    const t = armloadTarget(args);
    if (t.service && t.target && !t.target.includes(REF_OPEN) && !mapped.has(t.target.toUpperCase())) {
      const onWin = (ctx.platform ?? process.platform) === 'win32';
      if (!onWin)
        add(
          line,
          `ARMLOAD /S ${t.target}: "${t.target}" is a Windows service name that ${config} does not map (here it would be taken as a systemd unit ${t.target})`,
          `map it in ${config}: services: { ${t.target}: <systemd unit> } (or { start: ..., stop: ..., status: ... }); ARMLOAD /S then uses it`,
        );
    }
    return;
  }
  if (mappedProgram(base)) return; // FIND, FINDSTR, PING, TIMEOUT, TASKKILL, TASKLIST, XCOPY, CMD run here
  const instead = unmappedWindowsProgram(base);
  if (instead !== null && !/^ARM/i.test(base)) {
    add(line, /\.(exe|com)$/i.test(base) && !unmappedWindowsProgram(upper) ? `${base} is a Windows program (.exe)` : `${base} is a Windows program`, /\.(exe|com)$/i.test(base) && !unmappedWindowsProgram(upper) ? 'the program built for this OS, by its name without .exe' : instead);
    return;
  }
  if (!name.includes(REF_OPEN) && /\\/.test(name) && !/^[A-Za-z]:/.test(name)) add(line, `${name}: a program path with \\ (a program's path is used as written here)`, name.replace(/\\/g, '/'));
}

/** The whole report for one file: Windows-only constructs, then the lines that cannot be parsed (check). */
export function migrateReport(file: string, ctx: MigrateContext): { script: Script | null; tree: Node[]; findings: Finding[] } {
  let script: Script;
  try {
    script = loadScript(file);
  } catch (e) {
    if (e instanceof ScriptUnreadable) return { script: null, tree: [], findings: [{ file, line: 0, message: e.message }] };
    throw e;
  }
  const parsed = parseScript(script);
  const dialect: Problem[] = [...parsed.problems];
  for (const node of parsed.lines) checkTree(node, script, dialect);
  const findings = [
    ...findWindowsOnly(script, parsed.lines, ctx),
    ...dialect.filter((p) => !p.warning).map((p) => ({ file: p.file, line: p.line, message: `${p.message} (cannot be parsed: the script would not run)` })),
  ];
  findings.sort((a, b) => a.line - b.line);
  return { script, tree: parsed.lines, findings };
}

export function formatFinding(f: Finding, relativeTo = process.cwd()): string {
  const rel = path.relative(relativeTo, f.file);
  const name = rel && !rel.startsWith('..') ? rel : f.file;
  return `${name}:${f.line}: ${f.message}${f.instead ? `\n    instead: ${f.instead}` : ''}`;
}

export interface MigrateOptions {
  to?: string;
  output?: string;
}

/**
 * `arms migrate FILE.BAT [--to sh] [-o OUT]`: the report (stdout; stderr when the shell script goes
 * to stdout), and the shell script. Exit 0 nothing to change, 1 something to change, 2 usage
 * (thrown by the caller's option handling, or here for --to other than sh).
 */
export function migrate(file: string, opts: MigrateOptions, ctx: MigrateContext): { code: number; report: string[]; sh: string | null; usage?: string } {
  if (opts.to !== undefined && opts.to.toLowerCase() !== 'sh') return { code: 2, report: [], sh: null, usage: `--to ${opts.to}: only sh (a POSIX shell script) is written` };
  if (opts.output !== undefined && opts.to === undefined) return { code: 2, report: [], sh: null, usage: '-o needs --to sh (the report itself goes to stdout)' };
  const { script, tree, findings } = migrateReport(file, ctx);
  const report: string[] = [];
  let sh: string | null = null;
  const all = [...findings];
  const notes: string[] = [];
  if (script && opts.to !== undefined) {
    const t = toShell(script, tree);
    sh = t.text;
    for (const u of t.untranslated) all.push({ file: script.file, line: u.line, message: `no faithful translation to sh: ${u.message}`, instead: 'edit the TODO left in the .sh' });
    for (const h of t.helpers) notes.push(`note: ${h} runs as ${h.replace(/\.(bat|cmd)$/i, '.sh')} in the .sh: arms migrate ${h} --to sh -o ${h.replace(/\.(bat|cmd)$/i, '.sh')}`);
    all.sort((a, b) => a.line - b.line);
  }
  const seen = new Set<string>();
  for (const f of all) {
    const line = formatFinding(f);
    if (seen.has(line)) continue;
    seen.add(line);
    report.push(...line.split('\n'));
  }
  report.push(...notes);
  const name = path.basename(file);
  const os = (ctx.platform ?? process.platform) === 'win32' ? 'Windows' : (ctx.platform ?? process.platform) === 'darwin' ? 'macOS' : 'Linux';
  report.push(seen.size === 0 ? `${name}: nothing to change for ${os}` : `${name}: ${seen.size} thing(s) to change for ${os}`);
  return { code: seen.size === 0 ? 0 : 1, report, sh };
}
