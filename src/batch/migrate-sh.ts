// `arms migrate FILE.BAT --to sh`: the batch file as a POSIX shell script a person can read and keep.
// The labels' control flow is kept: each label is a shell function; GOTO names the function to run
// next and returns to a small loop (run_from), so a GOTO loop does not grow the stack; CALL :label is
// run_from of that label with its arguments; ERRORLEVEL is $_el, set after every program; IF forms
// are `[ ]` tests; SET makes (exported) variables, names in upper case (cmd's names ignore case);
// START is `&`; ARM* commands are called by name (the service puts them on PATH); %~dp0 is the
// script's folder. What has no faithful translation is left as a `# TODO` comment and reported.
import * as path from 'node:path';
import { REF_CLOSE, REF_OPEN } from './expand';
import type { Condition, Node, Redirect } from './parse';
import { labelArg, parseStart, splitCommand } from './rules';
import { FOptions, parseOptions } from './for-options';
import { findLabel, labelOf, Script } from './source';

export interface Untranslated {
  line: number;
  message: string;
}

class Untranslatable extends Error {}

const SH_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const SAFE_WORD = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** A piece of a command's text: literal characters or a percent reference (`%X%`, `%1`, `%~dp0`). */
interface Piece {
  text: string;
  ref: boolean;
  /** inside cmd quotes */
  quoted: boolean;
}

function pieces(text: string, quotesAreText = false): Piece[] {
  const out: Piece[] = [];
  let quoted = false;
  let i = 0;
  const push = (p: Piece) => {
    const last = out[out.length - 1];
    if (last && !last.ref && !p.ref && last.quoted === p.quoted) last.text += p.text;
    else out.push(p);
  };
  while (i < text.length) {
    const c = text[i];
    if (c === REF_OPEN) {
      const end = text.indexOf(REF_CLOSE, i);
      const stop = end === -1 ? text.length : end;
      out.push({ text: text.slice(i + 1, stop), ref: true, quoted });
      i = stop + 1;
      continue;
    }
    if (c === '"' && !quotesAreText) {
      quoted = !quoted;
      i++;
      continue;
    }
    push({ text: c, ref: false, quoted });
    i++;
  }
  return out;
}

/** The loop variables (`%i`, `%~nxi`) of a FOR in a text, as references ref() translates. */
export function markRefs(text: string, letters: string): string {
  if (!letters || !text.includes('%')) return text;
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === REF_OPEN) {
      const end = text.indexOf(REF_CLOSE, i);
      const stop = end === -1 ? text.length : end;
      out += text.slice(i, stop + 1);
      i = stop;
      continue;
    }
    if (c === '%') {
      const m = /^%(~[fdpnxsatz]*)?([A-Za-z])/.exec(text.slice(i));
      if (m && letters.includes(m[2])) {
        out += `${REF_OPEN}%%${m[1] ?? ''}${m[2]}${REF_CLOSE}`;
        i += m[0].length - 1;
        continue;
      }
    }
    out += c;
  }
  return out;
}

/** A node with the references of loop variables (and of delayed expansion: !VAR!) marked in its texts. */
export function markNode(n: Node, letters: string, delayed: boolean): Node {
  const t = (x: string) => {
    let y = markRefs(x, letters);
    if (delayed) y = y.replace(/!([A-Za-z_][A-Za-z0-9_]*(?::[^!]*)?)!/g, `${REF_OPEN}%$1%${REF_CLOSE}`);
    return y;
  };
  const r = (rs: Redirect[]) => rs.map((x) => ({ ...x, target: t(x.target) }));
  switch (n.kind) {
    case 'command':
      return { ...n, text: t(n.text), redirects: r(n.redirects) };
    case 'block':
      return { ...n, body: n.body.map((b) => markNode(b, letters, delayed)), redirects: r(n.redirects) };
    case 'chain':
    case 'pipe':
      return { ...n, left: markNode(n.left, letters, delayed), right: markNode(n.right, letters, delayed) };
    case 'if': {
      const c = n.cond;
      const cond: Condition =
        c.kind === 'compare' ? { ...c, left: t(c.left), right: t(c.right) } : c.kind === 'exist' ? { ...c, path: t(c.path) } : c.kind === 'defined' ? c : { ...c, n: t(c.n) };
      return { ...n, cond, then: markNode(n.then, letters, delayed), else: n.else ? markNode(n.else, letters, delayed) : null };
    }
    case 'for':
      return { ...n, set: t(n.set), body: markNode(n.body, letters, delayed) };
    default:
      return n;
  }
}

const dq = (s: string) => s.replace(/[\\$`"]/g, (c) => '\\' + c);
const sq = (s: string) => (s === '' ? "''" : SAFE_WORD.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

export class ShTranslator {
  readonly untranslated: Untranslated[] = [];
  /** batch files this one runs (CALL, START, by name): each becomes NAME.sh, to migrate as well */
  readonly helpers = new Set<string>();
  /** the functions of the labels, by the 0-based index of the label's line */
  private fnAt = new Map<number, string>();
  private usesDp0 = false;
  private usesSelf = false;
  private usesLower = false;
  private usesInt = false;
  private hasEndlocal = false;
  private sets = new Set<string>();
  private line = 0;

  constructor(
    private script: Script,
    private tree: Node[],
  ) {}


  private todo(message: string): never {
    throw new Untranslatable(message);
  }

  /** `$NAME` for a reference; `next` is the character after it (braces when it would join the name). */
  private ref(r: string, next = ''): string {
    const brace = (name: string) => (/^[A-Za-z0-9_]/.test(next) ? `\${${name}}` : `$${name}`);
    if (r === '%*') return '$*';
    const fv = /^%%(~([a-z]*))?([A-Za-z])$/i.exec(r);
    if (fv) {
      const v = `_f_${fv[3]}`;
      const mods = (fv[2] ?? '').toLowerCase();
      switch (mods) {
        case '':
          return brace(v);
        case 'nx':
          return `$(basename "$${v}")`;
        case 'n':
          return `$(basename "$${v}" | sed 's/\\.[^.]*$//')`;
        case 'x':
          return `$(basename "$${v}" | sed -n 's/^.*\\(\\.[^.]*\\)$/\\1/p')`;
        case 'dp':
        case 'p':
          return `$(cd "$(dirname "$${v}")" && pwd)/`;
        case 'f':
        case 'dpnx':
          return `$(cd "$(dirname "$${v}")" && pwd)/$(basename "$${v}")`;
        case 'z':
          return `$(wc -c < "$${v}" | tr -d ' ')`;
        default:
          this.todo(`%~${fv[2]}${fv[3]}: this modifier of a FOR variable has no translation`);
      }
    }
    let m = /^%([0-9])$/.exec(r);
    if (m) return m[1] === '0' ? brace('0') : brace(m[1]);
    m = /^%~([a-z]*)([0-9])$/i.exec(r);
    if (m) {
      const mods = m[1].toLowerCase();
      if (m[2] !== '0') {
        if (mods === '') return brace(m[2]);
        this.todo(`%~${m[1]}${m[2]}: argument modifiers other than %~dp0, %~f0, %~nx0 and %~n0 have no translation`);
      }
      if (mods === 'dp' || mods === 'pd' || mods === 'dps' || mods === 'sdp') {
        this.usesDp0 = true;
        return brace('_dp0');
      }
      if (mods === 'f' || mods === 'dpnx' || mods === 'fs') {
        this.usesSelf = true;
        return brace('_self');
      }
      if (mods === 'nx') return '$(basename "$0")';
      if (mods === 'n') return '$(basename "$0" | sed \'s/\\.[^.]*$//\')';
      if (mods === '') return brace('0');
      this.todo(`%~${m[1]}0 has no translation`);
    }
    m = /^%(.*)%$/.exec(r);
    if (!m) this.todo(`${r} has no translation`);
    const name = m[1];
    if (name.includes(':')) this.todo(`%${name}%: substrings and replacements (%VAR:~n,m%, %VAR:a=b%) have no translation: use \${VAR#...}, cut or sed`);
    const upper = name.toUpperCase();
    if (this.sets.has(upper) || !['ERRORLEVEL', 'CD', 'RANDOM', 'DATE', 'TIME', 'CMDEXTVERSION'].includes(upper)) {
      if (!SH_NAME.test(name)) this.todo(`%${name}%: not a shell variable name`);
      return brace(upper);
    }
    switch (upper) {
      case 'ERRORLEVEL':
        return brace('_el');
      case 'CD':
        return brace('PWD');
      case 'RANDOM':
        return "$(awk 'BEGIN { srand(); print int(rand() * 32768) }')";
      case 'DATE':
        return '$(date +%Y/%m/%d)';
      case 'TIME':
        return '$(date +%H:%M:%S.00)';
      default:
        return '2';
    }
  }

  /** Text whose quotes are characters (SET's value, ECHO's text, IF's operands), as one sh word. */
  private literal(text: string): string {
    const ps = pieces(text, true);
    if (ps.length === 0) return '""';
    if (ps.length === 1 && !ps[0].ref && SAFE_WORD.test(ps[0].text)) return ps[0].text;
    let out = '"';
    ps.forEach((p, i) => {
      const next = ps[i + 1];
      out += p.ref ? this.ref(p.text, next && !next.ref ? next.text[0] : '') : dq(p.text);
    });
    return out + '"';
  }

  /** A program's argument (cmd's quotes group and are removed, as Windows programs split their line). */
  private arg(word: string, pathLike = false): string {
    const ps = pieces(word).map((p) => (pathLike && !p.ref ? { ...p, text: p.text.replace(/\\/g, '/') } : p));
    if (ps.length === 0) return '""';
    const splits = ps.some((p) => p.ref && !p.quoted && /^%[^~*0-9]/.test(p.text));
    if (!splits) {
      if (ps.length === 1 && !ps[0].ref && !ps[0].quoted && SAFE_WORD.test(ps[0].text)) return ps[0].text;
      let out = '"';
      ps.forEach((p, i) => {
        const next = ps[i + 1];
        out += p.ref ? this.ref(p.text, next && !next.ref ? next.text[0] : '') : dq(p.text);
      });
      return out + '"';
    }
    // An unquoted %VAR% splits into words, as in cmd (the value is expanded before the line is split).
    return ps
      .map((p, i) => {
        const next = ps[i + 1];
        if (p.ref) {
          const r = this.ref(p.text, next && !next.ref && !next.quoted ? next.text[0] : '');
          return p.quoted ? `"${r}"` : r;
        }
        return p.quoted ? `"${dq(p.text)}"` : sq(p.text);
      })
      .join('');
  }

  private words(text: string): string[] {
    const out: string[] = [];
    let cur = '';
    let quoted = false;
    let inRef = false;
    for (const c of text) {
      if (c === REF_OPEN) inRef = true;
      else if (c === REF_CLOSE) inRef = false;
      if (!quoted && !inRef && ' \t'.includes(c)) {
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

  private redirects(rs: Redirect[]): string {
    return rs
      .map((r) => {
        if (r.mode === 'dup') return ` ${r.fd}>&${r.target}`;
        const op = r.mode === 'read' ? '<' : r.mode === 'append' ? '>>' : '>';
        const fd = r.fd === (r.mode === 'read' ? 0 : 1) ? '' : String(r.fd);
        const target = /^nul$/i.test(r.target.replace(/[\uE000\uE001]/g, '')) ? '/dev/null' : this.arg(r.target, true);
        return ` ${fd}${op}${target}`;
      })
      .join('');
  }

  private fnFor(label: string, fromLine: number): string | null {
    const at = findLabel(this.script, label, fromLine);
    return at === -1 ? null : (this.fnAt.get(at) ?? null);
  }

  private programName(word: string): { name: string; batch: boolean } {
    const plain = word.replace(/"/g, '');
    if (/\.(bat|cmd)$/i.test(plain) && !plain.includes(REF_OPEN)) this.helpers.add(plain);
    if (/\.(bat|cmd)$/i.test(plain) && !plain.includes(REF_OPEN)) return { name: `sh ${this.arg(plain.replace(/\.(bat|cmd)$/i, '.sh'), true)}`, batch: true };
    return { name: this.arg(word, true), batch: false };
  }

  /** A program with its arguments: `name args... redirections`. */
  private program(text: string, redirects: Redirect[]): { line: string; batch: boolean } {
    const [first, ...rest] = this.words(text);
    const p = this.programName(first);
    return { line: [p.name, ...rest.map((w) => this.arg(w))].join(' ') + this.redirects(redirects), batch: p.batch };
  }

  private condition(negate: boolean, ignoreCase: boolean, c: Condition): string {
    switch (c.kind) {
      case 'errorlevel': {
        const n = c.n.includes(REF_OPEN) ? this.literal(c.n) : String(Number(c.n));
        return negate ? `[ "$_el" -lt ${n} ]` : `[ "$_el" -ge ${n} ]`;
      }
      case 'exist': {
        const nul = /[\\/]nul$/i.exec(c.path);
        const p = this.arg(nul ? c.path.slice(0, nul.index) || '.' : c.path, true);
        return `[ ${negate ? '! ' : ''}-${nul ? 'd' : 'e'} ${p} ]`;
      }
      case 'defined': {
        if (!SH_NAME.test(c.name)) this.todo(`IF DEFINED ${c.name}: not a shell variable name`);
        return `[ -${negate ? 'z' : 'n'} "$${c.name.toUpperCase()}" ]`;
      }
      case 'compare': {
        let { left, right } = c;
        const wrapped = (s: string) => s.length >= 2 && s.startsWith('"') && s.endsWith('"');
        if (wrapped(left) && wrapped(right)) {
          left = left.slice(1, -1);
          right = right.slice(1, -1);
        }
        const num = (s: string) => /^[+-]?(0x[0-9a-f]+|\d+)$/i.test(s) || /^\uE000%[^%]+%\uE001$/.test(s);
        let l = this.literal(left);
        let r = this.literal(right);
        if (ignoreCase) {
          this.usesLower = true;
          const lower = (s: string, w: string) => (s.includes(REF_OPEN) ? `"$(lc ${w})"` : w.toLowerCase());
          l = lower(left, l);
          r = lower(right, r);
        }
        const sides = (s: string) => (s.startsWith('"') ? s : `"${s}"`);
        if (c.op === '==') return `[ ${sides(l)} ${negate ? '!=' : '='} ${r} ]`;
        if (num(left) && num(right)) {
          const ops = { EQU: 'eq', NEQ: 'ne', LSS: 'lt', LEQ: 'le', GTR: 'gt', GEQ: 'ge' } as const;
          const not = { EQU: 'ne', NEQ: 'eq', LSS: 'ge', LEQ: 'gt', GTR: 'le', GEQ: 'lt' } as const;
          return `[ ${sides(l)} -${negate ? not[c.op] : ops[c.op]} ${r} ]`;
        }
        if (c.op === 'EQU' || c.op === 'NEQ') return `[ ${sides(l)} ${(c.op === 'EQU') !== negate ? '=' : '!='} ${r} ]`;
        this.todo(`IF ... ${c.op} ... on text: no POSIX test orders text`);
      }
    }
  }

  /**
   * SET /A. Every value an expression reads (an argument, a variable) goes through `_int` first:
   * a number stays a number, anything else is 0 (as cmd reads a name that does not hold a number).
   * Never is a value given to $(( )) as text, where a shell would evaluate it as code
   * (`a[$(command)]` in bash).
   */
  /** The Windows programs the interpreter maps, as their sh counterparts; null for any other program. */
  private mappedProgram(name: string, rest: string, redirects: Redirect[]): string[] | null {
    const upper = name.replace(/"/g, '').toUpperCase().replace(/\.EXE$/, '');
    const ws = this.words(rest);
    const flag = (f: string) => ws.some((w) => w.toUpperCase() === f);
    const plain = ws.filter((w) => !w.startsWith('/') && !/^-[a-z]$/i.test(w));
    const r = this.redirects(redirects);
    switch (upper) {
      case 'TIMEOUT': {
        const t = ws[ws.findIndex((w) => /^\/t$/i.test(w)) + 1] ?? plain[0] ?? '0';
        return [`sleep ${this.arg(t)}; _el=$?`];
      }
      case 'PING': {
        const n = ws.findIndex((w) => /^[-/]n$/i.test(w));
        const count = n === -1 ? '4' : ws[n + 1];
        const target = ws.filter((w, i) => !/^[-/]/.test(w) && !(i > 0 && /^[-/][nwlit]$/i.test(ws[i - 1])))[0] ?? '';
        if (/^(127\.|localhost$|::1$)/i.test(target.replace(/"/g, '')) && /^\d+$/.test(count)) return [`sleep ${Math.max(0, Number(count) - 1)}; _el=0   # PING -n ${count} ${target}: a wait`];
        return [`ping -c ${this.arg(count)} ${this.arg(target)}${r}; _el=$?`];
      }
      case 'FIND': {
        const opts = ['-F', ...(flag('/I') ? ['-i'] : []), ...(flag('/V') ? ['-v'] : []), ...(flag('/C') ? ['-c'] : []), ...(flag('/N') ? ['-n'] : [])];
        const [needle, ...files] = plain;
        return [`grep ${opts.join(' ')} -e ${this.arg(needle ?? '')}${files.map((f) => ' ' + this.arg(f, true)).join('')}${r}; _el=$?`];
      }
      case 'FINDSTR': {
        if (flag('/B') || flag('/E')) this.todo('FINDSTR /B or /E: grep with ^ or $ in the pattern');
        const lit = ws.filter((w) => /^\/c:/i.test(w)).map((w) => w.slice(3));
        const [words, ...files] = plain;
        const pats = lit.length ? lit : (words ?? '').replace(/"/g, '').split(' ').filter(Boolean);
        const opts = [flag('/L') || lit.length ? '-F' : '-G', ...(flag('/I') ? ['-i'] : []), ...(flag('/V') ? ['-v'] : []), ...(flag('/N') ? ['-n'] : []), ...(flag('/X') ? ['-x'] : [])];
        const rest = lit.length ? plain : files;
        return [`grep ${opts.join(' ')}${pats.map((p) => ' -e ' + this.arg(p)).join('')}${rest.map((f) => ' ' + this.arg(f, true)).join('')}${r}; _el=$?`];
      }
      case 'TASKKILL': {
        const im = ws.findIndex((w) => /^\/im$/i.test(w));
        const pid = ws.findIndex((w) => /^\/pid$/i.test(w));
        const sig = flag('/F') ? '-KILL ' : '';
        if (im !== -1) return [`pkill ${sig}-x ${this.arg((ws[im + 1] ?? '').replace(/\.exe("?)$/i, '$1'))}${r}; _el=$?`];
        if (pid !== -1) return [`kill ${sig}${this.arg(ws[pid + 1] ?? '')}${r}; _el=$?`];
        return null;
      }
      case 'NET':
      case 'SC': {
        const verb = (plain[0] ?? '').toUpperCase();
        const svc = plain.slice(1).join(' ');
        if (verb === 'START' || verb === 'STOP') return [`systemctl ${verb.toLowerCase()} ${this.arg(svc)}${r}; _el=$?`];
        if (upper === 'SC' && verb.startsWith('QUERY')) return [`systemctl status ${this.arg(svc)}${r}; _el=$?`];
        return null;
      }
      case 'XCOPY': {
        const [src, dst] = plain;
        return [`cp -r ${this.arg(src ?? '', true)} ${this.arg(dst ?? '.', true)}${r}; _el=$?`];
      }
      default:
        return null;
    }
  }

  private setA(expr: string): string[] {
    let e = expr.trim();
    if (e.startsWith('"') && e.endsWith('"')) e = e.slice(1, -1);
    const out: string[] = [];
    let depth = 0;
    let start = 0;
    const parts: string[] = [];
    for (let i = 0; i < e.length; i++) {
      if (e[i] === '(') depth++;
      else if (e[i] === ')') depth--;
      else if (e[i] === ',' && depth === 0) {
        parts.push(e.slice(start, i));
        start = i + 1;
      }
    }
    parts.push(e.slice(start));
    for (const part of parts) {
      const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(\*|\/|%|\+|-|&|\^|\||<<|>>)?=(?!=)(.*)$/s.exec(part);
      if (!m) {
        if (part.trim() !== '') this.todo(`SET /A ${part.trim()}: an expression without an assignment, or one that assigns inside it`);
        continue;
      }
      const name = m[1].toUpperCase();
      this.sets.add(name);
      this.usesInt = true;
      let k = 0;
      const operand = (valueWord: string) => {
        const v = `_a${++k}`;
        out.push(`_int ${valueWord}; ${v}=$_n`);
        return v;
      };
      const rhs = m[3].replace(/\uE000[^\uE001]*\uE001|0[xX][0-9a-fA-F]+|[0-9]+|[A-Za-z_][A-Za-z0-9_]*/g, (t) => {
        if (t.startsWith(REF_OPEN)) return operand(`"${this.ref(t.slice(1, -1), ' ')}"`);
        if (/^[0-9]/.test(t)) return t;
        return operand(`"$${t.toUpperCase()}"`);
      });
      if (/[$`"'\\;]/.test(rhs.replace(/_a[0-9]+/g, ''))) this.todo(`SET /A ${part.trim()}: characters a shell would read as code`);
      const r = rhs.trim();
      const simple = /^[A-Za-z0-9_]+$/.test(r);
      out.push(m[2] ? `${name}=$((${operand(`"$${name}"`)} ${m[2]} ${simple ? r : `(${r})`}))` : `${name}=$((${r}))`);
    }
    return out;
  }

  private set(rest: string): string[] {
    let r = rest.replace(/^[ \t]+/, '');
    if (/^\/a(?=[ \t"]|$)/i.test(r)) return this.setA(r.slice(2));
    if (r.startsWith('"')) {
      const close = r.lastIndexOf('"');
      r = close > 0 ? r.slice(1, close) : r.slice(1);
    }
    const eq = r.indexOf('=');
    if (eq <= 0) this.todo('SET without = lists variables: use env (or set)');
    const name = r.slice(0, eq);
    if (!SH_NAME.test(name)) this.todo(`SET ${name}=...: "${name}" is not a shell variable name`);
    const value = r.slice(eq + 1);
    const upper = name.toUpperCase();
    this.sets.add(upper);
    if (value === '') return [`unset ${upper}`];
    return [`${upper}=${this.literal(value)}`];
  }

  private echo(rest: string): string[] {
    const t = rest.trim().toUpperCase();
    if (t === 'OFF') return [];
    if (t === 'ON') this.todo('ECHO ON: sh does not show the commands it runs (sh -x shows them, differently)');
    if (rest.trim() === '') return rest === '' ? ['echo "ECHO is off."'] : ['echo "ECHO is off."'];
    const text = rest.slice(1);
    const lit = this.literal(text);
    return text.includes('\\') ? [`printf '%s\\n' ${lit}`] : [`echo ${lit}`];
  }

  private command(text: string, redirects: Redirect[]): string[] {
    const s = splitCommand(text);
    if (s.name === '') return [];
    switch (s.builtin) {
      case 'ECHO':
        return this.echo(s.rest).map((l) => l + this.redirects(redirects));
      case 'SET':
        return this.set(s.rest);
      case 'GOTO': {
        const label = labelArg(s.rest);
        if (label === ':EOF') return ['return'];
        if (label.includes(REF_OPEN)) this.todo('GOTO to a label held in a variable: write a case "$X" in ... esac');
        const fn = this.fnFor(label, this.line);
        if (!fn) return [`echo "The system cannot find the batch label specified - ${dq(label)}" >&2`, '_el=1', 'return'];
        return [`goto ${fn}; return`];
      }
      case 'CALL': {
        const rest = s.rest.replace(/^[ \t,;=]+/, '');
        if (rest.startsWith(':')) {
          const [label, ...args] = this.words(rest);
          if (label.includes(REF_OPEN)) this.todo('CALL to a label held in a variable');
          const fn = this.fnFor(label.slice(1), 0);
          if (!fn) return [`echo "The system cannot find the batch label specified - ${dq(label.slice(1))}" >&2`, '_el=1'];
          return [[`run_from ${fn}`, ...args.map((a) => this.arg(a))].join(' ')];
        }
        const p = this.program(rest, redirects);
        return [`${p.line}; _el=$?`];
      }
      case 'EXIT': {
        const words = s.rest.trim().split(/[ \t]+/).filter(Boolean);
        const b = words[0]?.toUpperCase() === '/B';
        if (b) words.shift();
        let code: string | null = null;
        if (words[0] !== undefined) {
          if (words[0].includes(REF_OPEN)) code = this.literal(words[0]);
          else code = String(Number(words[0]));
        }
        if (b) return code === null ? ['return'] : [`_el=${code}; return`];
        if (code === null) return ['exit "$_el"'];
        const n = Number(code);
        return [`exit ${Number.isInteger(n) ? (n & 255) === 0 && n !== 0 ? 255 : n & 255 : code}`];
      }
      case 'START': {
        let spec;
        try {
          spec = parseStart(s.rest);
        } catch (e) {
          this.todo((e as Error).message);
        }
        const p = this.program(spec.command, redirects);
        const quiet = !spec.shared && !spec.wait && redirects.length === 0 ? ' >/dev/null 2>&1' : '';
        const body = spec.dir ? `(cd ${this.arg(spec.dir, true)} && ${p.line})` : p.line;
        return spec.wait ? [`${body}; _el=$?`] : [`${body}${quiet} &`];
      }
      case 'CD':
      case 'CHDIR': {
        const arg = s.rest.trim().replace(/^\/d[ \t]+/i, '');
        if (arg === '') return ['pwd'];
        return [`cd ${this.arg(arg, true)}; _el=$?`];
      }
      case 'SETLOCAL':
      case 'ENDLOCAL':
        // Without an ENDLOCAL the scope ends with the script, as the .sh's variables do.
        if (s.builtin === 'SETLOCAL' && !this.hasEndlocal) return [`# SETLOCAL${s.rest.trimEnd()}: the variables below end with the script${/delayed/i.test(s.rest) ? '; !VAR! is $VAR' : ''}`];
        this.todo(`${s.builtin}: sh has no SETLOCAL; run the part in a subshell ( ... ) or save and restore the variables`);
      // falls through (todo throws)
      case 'PUSHD':
      case 'POPD':
        this.todo(`${s.builtin}: POSIX sh has no directory stack: save "$PWD" in a variable and cd back`);
      // falls through
      case 'SHIFT':
        this.todo('SHIFT: shift the arguments by hand (a label function has its own $1..$9)');
      // falls through
      case 'TYPE':
        return [`cat ${this.words(s.rest).map((w) => this.arg(w, true)).join(' ')}${this.redirects(redirects)}; _el=$?`];
      case 'COPY':
      case 'MOVE':
      case 'REN':
      case 'RENAME': {
        const names = this.words(s.rest).filter((w) => !w.startsWith('/'));
        if (names.length !== 2) this.todo(`${s.builtin} with other than a source and a destination`);
        if (s.builtin === 'COPY' && names[0].includes('+')) return [`cat ${names[0].split('+').map((w) => this.arg(w, true)).join(' ')} > ${this.arg(names[1], true)}; _el=$?`];
        const tool = s.builtin === 'COPY' ? 'cp' : 'mv';
        const dest = s.builtin.startsWith('REN') && !names[0].includes('*') ? `"$(dirname ${this.arg(names[0], true)})"/${this.arg(names[1], true)}` : this.arg(names[1], true);
        if (names.some((w) => w.includes('*')) && s.builtin.startsWith('REN')) this.todo('REN with wildcards: a for loop over the files');
        return [`${tool} ${this.arg(names[0], true)} ${dest}${this.redirects(redirects)}; _el=$?`];
      }
      case 'DEL':
      case 'ERASE': {
        const ws = this.words(s.rest);
        const names = ws.filter((w) => !w.startsWith('/')).map((w) => this.arg(w, true));
        if (ws.some((w) => /^\/s$/i.test(w))) return names.map((n) => `find . -type f -name ${n} -exec rm -f {} +`);
        return [`rm -f ${names.join(' ')}`];
      }
      case 'MD':
      case 'MKDIR':
        return [`mkdir -p ${this.words(s.rest).map((w) => this.arg(w, true)).join(' ')}; _el=$?`];
      case 'RD':
      case 'RMDIR': {
        const ws = this.words(s.rest);
        const names = ws.filter((w) => !w.startsWith('/')).map((w) => this.arg(w, true));
        return [`${ws.some((w) => /^\/s$/i.test(w)) ? 'rm -rf' : 'rmdir'} ${names.join(' ')}; _el=$?`];
      }
      case 'DIR': {
        const ws = this.words(s.rest);
        if (!ws.some((w) => /^\/b$/i.test(w))) this.todo('DIR without /B: its listing has no sh equivalent; ls -l');
        const names = ws.filter((w) => !w.startsWith('/')).map((w) => this.arg(w, true));
        return [`ls -1d ${names.join(' ') || '*'}${this.redirects(redirects)}; _el=$?`];
      }
      case 'MKLINK': {
        const names = this.words(s.rest).filter((w) => !w.startsWith('/'));
        return [`ln -s ${this.arg(names[1] ?? '', true)} ${this.arg(names[0] ?? '', true)}; _el=$?`];
      }
      case 'PAUSE':
      case 'TITLE':
      case 'CLS':
      case 'COLOR':
      case 'PROMPT':
      case 'BREAK':
      case 'VERIFY':
      case 'KEYS':
      case 'CHCP':
        return [`: ${s.builtin} (no console)`];
      case 'VER':
        return [`uname -sr${this.redirects(redirects)}`];
      case 'DATE':
      case 'TIME':
        return [`date +${s.builtin === 'DATE' ? '%Y/%m/%d' : '%H:%M'}${this.redirects(redirects)}`];
      default: {
        if (/^[A-Z]:$/i.test(s.name)) this.todo(`${s.name}: no drive letters here`);
        const mapped = this.mappedProgram(s.name, s.rest, redirects);
        if (mapped) return mapped;
        const p = this.program(text, redirects);
        // A batch file run without CALL does not come back: its code ends this batch context.
        return p.batch ? [`${p.line}; _el=$?`, 'return'] : [`${p.line}; _el=$?`];
      }
    }
  }

  private node(n: Node, ind: string): string[] {
    const at = (lines: string[]) => lines.map((l) => ind + l);
    switch (n.kind) {
      case 'empty':
        return [];
      case 'rem': {
        const text = n.text.replace(/[\uE000\uE001]/g, '').replace(/^rem[ \t/]?/i, '').trimEnd();
        return at([text ? `# ${text}` : '#']);
      }
      case 'command':
        return at(this.command(n.text, n.redirects));
      case 'block': {
        const body = n.body.flatMap((b) => this.node(b, ind + '  '));
        if (n.redirects.length === 0) return n.body.flatMap((b) => this.node(b, ind));
        return [`${ind}{`, ...(body.length ? body : [`${ind}  :`]), `${ind}}${this.redirects(n.redirects)}`];
      }
      case 'chain': {
        const left = this.node(n.left, ind);
        if (n.op === '&') return [...left, ...this.node(n.right, ind)];
        const right = this.node(n.right, ind + '  ');
        return [...left, `${ind}if [ "$_el" -${n.op === '&&' ? 'eq' : 'ne'} 0 ]; then`, ...(right.length ? right : [`${ind}  :`]), `${ind}fi`];
      }
      case 'if': {
        const then = this.node(n.then, ind + '  ');
        const out = [`${ind}if ${this.condition(n.negate, n.ignoreCase, n.cond)}; then`, ...(then.length ? then : [`${ind}  :`])];
        if (n.else) {
          const other = this.node(n.else, ind + '  ');
          out.push(`${ind}else`, ...(other.length ? other : [`${ind}  :`]));
        }
        out.push(`${ind}fi`);
        return out;
      }
      case 'pipe':
        return this.pipe(n, ind);
      case 'for':
        return this.forLoop(n, ind);
    }
  }

  /** `a | b`: the sides as sh commands joined by a pipe; $_el is the right side's code, as in cmd. */
  private pipe(n: Extract<Node, { kind: 'pipe' }>, ind: string): string[] {
    const side = (x: Node): string[] => this.node(x, '').map((l) => l.replace(/; _el=\$\?$/, '')).filter((l) => l.trim() !== '');
    const left = side(n.left);
    const right = side(n.right);
    if (left.length === 1 && right.length === 1) return [`${ind}${left[0]} | ${right[0]}; _el=$?`];
    const block = (ls: string[]) => ['{', ...ls.map((l) => '  ' + l), '}'];
    const l = block(left);
    const rr = block(right);
    return [...l.slice(0, -1), `} | {`, ...rr.slice(1, -1), '}; _el=$?'].map((x) => ind + x);
  }

  /** FOR: a shell loop with the loop variable %i as $_f_i (in the body, %~nxi and friends too). */
  private forLoop(n: Extract<Node, { kind: 'for' }>, ind: string): string[] {
    const v = `_f_${n.variable}`;
    const letters = n.variant === 'F' ? Array.from({ length: 26 }, (_, k) => String.fromCharCode(n.variable.charCodeAt(0) + k)).join('') : n.variable;
    const withVar = (x: Node) => markNode(x, letters, false);
    const body = this.node(withVar(n.body), ind + '  ');
    const inner = body.length ? body : [`${ind}  :`];
    const set = n.set;
    if (set.includes(REF_OPEN) && n.variant !== '' && n.variant !== 'F') this.todo('FOR /L, /D or /R with a set held in variables');
    switch (n.variant) {
      case '': {
        const items = this.words(set).flatMap((w) => w.split(/[,;=]/)).filter(Boolean);
        const words = items.map((w) => (/[*?]/.test(w) && !w.includes('"') ? w.replace(/\\/g, '/') : this.arg(w.startsWith('"') ? w : w)));
        // A quoted item's value is without its quotes here (%i and %~i are both $_f_i).
        const kept = words;
        const globs = items.some((w) => /[*?]/.test(w));
        return [`${ind}for ${v} in ${kept.join(' ')}; do`, ...(globs ? [`${ind}  [ -e "$${v}" ] || continue   # a wildcard with no match gives no iteration`] : []), ...inner, `${ind}done`];
      }
      case 'D':
        return [`${ind}for ${v} in ${this.words(set).join(' ').replace(/\\/g, '/')}; do`, `${ind}  [ -d "$${v}" ] || continue`, ...inner, `${ind}done`];
      case 'R': {
        const root = this.arg(n.arg || '.', true);
        const names = this.words(set).map((w) => `-name ${sq(w.replace(/"/g, ''))}`).join(' -o ');
        return [`${ind}while IFS= read -r ${v}; do`, ...inner, `${ind}done <<_ARMS_EOF`, `$(find "$(cd ${root} && pwd)" -type f \\( ${names} \\) | sort)`, '_ARMS_EOF'];
      }
      case 'L': {
        const [a, st, e] = this.words(set.replace(/[,;=]/g, ' '));
        if (![a, st, e].every((x) => /^-?\d+$/.test(x ?? ''))) this.todo('FOR /L with other than numbers written in the script');
        const cmp = Number(st) < 0 ? 'ge' : 'le';
        return [`${ind}${v}=${a}`, `${ind}while [ "$${v}" -${cmp} ${e} ]; do`, ...inner, `${ind}  ${v}=$((${v} + ${st}))`, `${ind}done`];
      }
      case 'F':
        return this.forF(n, ind, inner);
    }
  }

  /** FOR /F: `while read` over the lines, the tokens read into the loop's variables. */
  private forF(n: Extract<Node, { kind: 'for' }>, ind: string, inner: string[]): string[] {
    let o: FOptions;
    try {
      o = parseOptions(n.arg);
    } catch (e) {
      this.todo(`FOR /F "${n.arg}": ${(e as Error).message}`);
    }
    const letter = (k: number) => `_f_${String.fromCharCode(n.variable.charCodeAt(0) + k)}`;
    const delims = o.delims;
    let vars: string[];
    let wanted: string[];
    if (delims === '' || (o.tokens.length === 0 && o.rest)) {
      vars = [letter(0)];
      wanted = [letter(0)];
    } else {
      const last = o.tokens[o.tokens.length - 1];
      vars = [];
      wanted = [];
      for (let p = 1, k = 0; p <= last; p++) {
        if (o.tokens.includes(p)) {
          vars.push(letter(k));
          wanted.push(letter(k++));
        } else vars.push('_skip');
      }
      vars.push(o.rest ? letter(o.tokens.length) : '_skip');
      if (o.rest) wanted.push(letter(o.tokens.length));
    }
    const ifs = delims === '' ? '' : delims.replace(/'/g, `'\\''`);
    const squeeze = /[^ \t]/.test(delims) && delims !== '';
    const s = n.set.trim();
    const cmdQ = o.backq ? '`' : "'";
    const strQ = o.backq ? "'" : '"';
    let source: string;
    if (s.startsWith(strQ) && s.endsWith(strQ) && s.length >= 2) source = `printf '%s\\n' ${this.literal(s.slice(1, -1))}`;
    else if (s.startsWith(cmdQ) && s.endsWith(cmdQ) && s.length >= 2) {
      const lines = this.node({ kind: 'command', line: n.line, quiet: true, text: markRefs(s.slice(1, -1), ''), redirects: [] }, '');
      if (lines.length !== 1) this.todo("FOR /F over a command that is not one program");
      source = lines[0].replace(/; _el=\$\?$/, '');
    } else source = `cat ${this.words(s).map((w) => this.arg(w, true)).join(' ')}`;
    // cmd: runs of delimiters are one, leading ones are dropped; read with IFS does so only for blanks.
    // Lines end with CR LF in files from Windows: FOR /F does not see the CR.
    const feed = `${source} | tr -d '\\r'` + (squeeze ? ` | tr -s '${ifs}' | sed 's/^[${ifs.replace(/[\]\\^-]/g, '\\$&')}]*//'` : '');
    const out = [`${ind}_skipn=${o.skip}`, `${ind}while IFS='${ifs}' read -r ${vars.join(' ')}; do`];
    if (o.eol) out.push(`${ind}  case $${vars[0] === '_skip' ? '_skip' : vars[0]} in ${sq(o.eol)}*) continue ;; esac`);
    out.push(`${ind}  [ -n "${wanted.map((w) => '$' + w).join('')}" ] || continue`);
    if (o.skip) out.push(`${ind}  if [ "$_skipn" -gt 0 ]; then _skipn=$((_skipn - 1)); continue; fi`);
    out.push(...inner, `${ind}done <<_ARMS_EOF`, `$(${feed})`, '_ARMS_EOF');
    return out;
  }

  /** Whether a logical line always leaves its label (GOTO, EXIT): nothing after it in its function runs. */
  private static jumps(n: Node): boolean {
    if (n.kind !== 'command') return false;
    const s = splitCommand(n.text);
    return s.builtin === 'GOTO' || s.builtin === 'EXIT';
  }

  translate(): string {
    const lines = this.script.lines;
    // Sections: the lines before the first label, then one per label (`::` lines are comments).
    const labels: Array<{ index: number; name: string }> = [];
    lines.forEach((l, i) => {
      const name = labelOf(l);
      if (name !== null && name !== '' && !name.startsWith(':') && /^[ \t,;=]*:/.test(l)) labels.push({ index: i, name });
    });
    const used = new Set<string>(['top_of_script']);
    for (const { index, name } of labels) {
      let fn = `label_${name.toUpperCase().replace(/[^A-Z0-9_]/g, '_')}`;
      for (let k = 2; used.has(fn); k++) fn = `label_${name.toUpperCase().replace(/[^A-Z0-9_]/g, '_')}_${k}`;
      used.add(fn);
      this.fnAt.set(index, fn);
    }
    this.hasEndlocal = lines.some((l) => /(^|[\s&(@])endlocal\b/i.test(l));
    // Delayed expansion: !VAR! reads the variable when the command runs, which is what $VAR does in sh.
    if (lines.some((l) => /enabledelayedexpansion/i.test(l))) this.tree = this.tree.map((n) => markNode(n, '', true));
    // Names SET anywhere are known before any line is translated (a %X% before its SET still means X).
    for (const n of this.tree) this.collectSets(n);
    const sections: Array<{ fn: string; start: number; body: string[]; jumps: boolean }> = [{ fn: 'top_of_script', start: -1, body: [], jumps: false }];
    for (const l of labels) sections.push({ fn: this.fnAt.get(l.index)!, start: l.index, body: [], jumps: false });
    const sectionOf = (lineIndex: number) => {
      let s = sections[0];
      for (const x of sections) if (x.start <= lineIndex) s = x;
      return s;
    };
    // `::` comments in their places.
    const items: Array<{ index: number; node?: Node; comment?: string }> = this.tree.map((n) => ({ index: n.line - 1, node: n }));
    lines.forEach((l, i) => {
      const name = labelOf(l);
      if (name !== null && name.startsWith(':')) items.push({ index: i, comment: l.replace(/^[ \t,;=]*::?/, '').trimEnd() });
    });
    items.sort((a, b) => a.index - b.index);
    for (const item of items) {
      const sec = sectionOf(item.index);
      if (item.comment !== undefined) {
        sec.body.push(item.comment ? `  # ${item.comment}` : '  #');
        continue;
      }
      const n = item.node!;
      this.line = n.line;
      try {
        sec.body.push(...this.node(n, '  '));
        sec.jumps = ShTranslator.jumps(n);
      } catch (e) {
        if (!(e instanceof Untranslatable)) throw e;
        this.untranslated.push({ line: n.line, message: e.message });
        const original = lines[n.line - 1].trim();
        sec.body.push(`  # TODO (arms migrate): ${e.message}`, `  # line ${n.line}: ${original}`, '  false; _el=$?');
        sec.jumps = false;
      }
      if (n.kind === 'rem' || n.kind === 'empty') continue;
    }
    const out: string[] = [];
    const base = path.basename(this.script.file);
    out.push('#!/bin/sh');
    out.push(`# ${base.replace(/\.(bat|cmd)$/i, '.sh')}: ${base} translated by "arms migrate" (docs/batch.md).`);
    out.push('# Each label of the batch file is a function; GOTO names the function to run next and returns;');
    out.push('# ERRORLEVEL is $_el, the exit code of the last program.');
    out.push('');
    out.push('_el=0');
    if (this.usesDp0) out.push('_dp0=$(cd "$(dirname "$0")" && pwd)/   # %~dp0: the folder of this script');
    if (this.usesSelf) out.push('_self=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")   # %~f0');
    const sets = [...this.sets].sort();
    if (sets.length) out.push(`export ${sets.join(' ')}   # SET makes environment variables`);
    if (this.usesInt) {
      out.push('# SET /A: a value is read as a number only when it is one (cmd reads anything else as 0), so no');
      out.push('# argument or variable is ever evaluated as code by $(( )). The number is left in $_n.');
      out.push("_int() { case ${1#[-+]} in 0[xX]*) case ${1#*[xX]} in ''|*[!0-9a-fA-F]*) _n=0 ;; *) _n=$1 ;; esac ;; 0*[!0-7]*|''|*[!0-9]*) _n=0 ;; *) _n=$1 ;; esac; }");
    }
    if (this.usesLower) out.push('lc() { printf \'%s\' "$1" | tr \'[:upper:]\' \'[:lower:]\'; }   # IF /I compares without regard to case');
    out.push('');
    out.push('# GOTO label: run that label next (the function that says it returns right after).');
    out.push('goto() { _next=$1; }');
    out.push('# Runs from a label on, as cmd runs a batch (or CALL :label): until GOTO :EOF, EXIT /B or the end.');
    out.push('run_from() {');
    out.push('  _next=$1');
    out.push('  shift');
    out.push('  while [ -n "$_next" ]; do');
    out.push('    _at=$_next');
    out.push('    _next=');
    out.push('    "$_at" "$@"');
    out.push('  done');
    out.push('}');
    sections.forEach((sec, i) => {
      const next = sections[i + 1];
      if (sec.fn === 'top_of_script' && sec.body.length === 0 && next) {
        out.push('', `top_of_script() {`, `  goto ${next.fn}`, '}');
        return;
      }
      out.push('');
      out.push(sec.start === -1 ? 'top_of_script() {' : `${sec.fn}() {   # :${labels.find((l) => l.index === sec.start)!.name} (line ${sec.start + 1})`);
      out.push(...sec.body);
      if (next && !sec.jumps) out.push(`  goto ${next.fn}`);
      if (!sec.body.length && !next) out.push('  :');
      out.push('}');
    });
    out.push('');
    out.push('run_from top_of_script "$@"');
    out.push('exit "$_el"');
    return out.join('\n') + '\n';
  }

  private collectSets(n: Node): void {
    switch (n.kind) {
      case 'command': {
        const s = splitCommand(n.text);
        if (s.builtin !== 'SET') return;
        let r = s.rest.replace(/^[ \t]+/, '');
        if (/^\/a(?=[ \t"]|$)/i.test(r)) {
          const m = /^\s*"?\s*([A-Za-z_][A-Za-z0-9_]*)\s*[*/%+\-&^|<>]*=/.exec(r.slice(2));
          if (m) this.sets.add(m[1].toUpperCase());
          return;
        }
        if (r.startsWith('"')) r = r.slice(1);
        const eq = r.indexOf('=');
        if (eq > 0 && SH_NAME.test(r.slice(0, eq))) this.sets.add(r.slice(0, eq).toUpperCase());
        return;
      }
      case 'chain':
        this.collectSets(n.left);
        this.collectSets(n.right);
        return;
      case 'block':
        n.body.forEach((b) => this.collectSets(b));
        return;
      case 'if':
        this.collectSets(n.then);
        if (n.else) this.collectSets(n.else);
        return;
      case 'for':
        this.collectSets(n.body);
        return;
      default:
        return;
    }
  }
}

/** The shell script for a parsed batch file, and the lines it could not translate faithfully. */
export function toShell(script: Script, tree: Node[]): { text: string; untranslated: Untranslated[]; helpers: string[] } {
  const t = new ShTranslator(script, tree);
  const text = t.translate();
  return { text, untranslated: t.untranslated, helpers: [...t.helpers] };
}
