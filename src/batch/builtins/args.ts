// The argument text of a file built-in: switches (/Q, /S, /A:D ...) and names (quotes group, and
// are removed), as cmd's built-ins split theirs.
import { hostPath, resolveCase } from '../paths';
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface BuiltinArgs {
  /** upper-cased, without the slash: Q, S, A:D, -Y */
  switches: string[];
  names: string[];
}

export function builtinArgs(rest: string): BuiltinArgs {
  const switches: string[] = [];
  const names: string[] = [];
  let i = 0;
  const text = rest;
  while (i < text.length) {
    while (i < text.length && ' \t,;='.includes(text[i])) i++;
    if (i >= text.length) break;
    let tok = '';
    let quoted = false;
    let sawQuote = false;
    while (i < text.length && (quoted || !' \t,;='.includes(text[i]))) {
      if (text[i] === '"') {
        quoted = !quoted;
        sawQuote = true;
      } else if (text[i] === '/' && !quoted && tok !== '' && !sawQuote) {
        break; // dir/b: the switch starts a new word
      } else tok += text[i];
      i++;
    }
    if (tok.startsWith('/') && !sawQuote) {
      // /QS is /Q /S for the file built-ins that take letters
      switches.push(tok.slice(1).toUpperCase());
    } else names.push(tok);
  }
  return { switches, names };
}

export const has = (a: BuiltinArgs, s: string) => a.switches.some((x) => x === s || x.startsWith(s + ':'));

/** A name the script wrote, as a path here. */
export function local(cwd: string, name: string): string {
  return resolveCase(cwd, hostPath(name));
}

const globRe = (g: string) => new RegExp('^' + g.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.') + '$', 'i');

/** The files a name stands for: itself, or with * and ? in its last part every match in its folder (sorted). */
export function expandName(cwd: string, name: string, folders = false): string[] {
  const p = local(cwd, name);
  const base = path.basename(p);
  if (!/[*?]/.test(base)) return fs.existsSync(p) ? [p] : [];
  const dir = path.dirname(p);
  const re = globRe(base === '*.*' ? '*' : base);
  try {
    return fs
      .readdirSync(dir, { withFileTypes: true })
      .filter((e) => re.test(e.name) && (folders || !e.isDirectory()))
      .map((e) => path.join(dir, e.name))
      .sort();
  } catch {
    return [];
  }
}
