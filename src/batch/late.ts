// What cmd expands after a line is parsed, each time a command of it runs: the FOR variables
// (`%i`, `%~nxi`: phase 4) and, under SETLOCAL ENABLEDELAYEDEXPANSION, `!VAR!` (phase 5). Neither
// result is parsed again: a value holding `&` or `|` is text here, unlike a %VAR% value.
import { variable, withModifiers } from './expand';

/** The loop variables in force: letter (case matters) → value. */
export type ForVars = ReadonlyMap<string, string>;

const MOD_LETTERS = 'fdpnxsatz';

/**
 * `%v` and `%~mods v` for the variables in `vars`; anything else is left as written. With `%~`,
 * the longest run of modifier letters that is followed by a loop variable wins, as in cmd
 * (`%~nxi` is n, x of %i; with a variable %n in force, `%~n` is %n).
 */
export function forSubst(text: string, vars: ForVars, cwd: string, lookup: (name: string) => string | undefined): string {
  if (vars.size === 0 || !text.includes('%')) return text;
  let out = '';
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c !== '%') {
      out += c;
      i++;
      continue;
    }
    const next = text[i + 1];
    if (next === '~') {
      let j = i + 2;
      while (j < text.length && MOD_LETTERS.includes(text[j].toLowerCase())) j++;
      let search: string | undefined;
      let end = j;
      if (text[j] === '$') {
        const colon = text.indexOf(':', j);
        if (colon !== -1 && vars.has(text[colon + 1] ?? '')) {
          search = text.slice(j + 1, colon);
          end = colon + 1;
        }
      }
      let done = false;
      // Longest modifier run first: the character after it must be a variable in force.
      for (let k = end; k >= i + 2; k--) {
        if (search !== undefined && k !== end) break;
        const v = text[k];
        if (v !== undefined && vars.has(v)) {
          const mods = text.slice(i + 2, search !== undefined ? j : k);
          const raw = vars.get(v)!;
          out += withModifiers(raw.replace(/^"|"$/g, ''), mods, cwd, search !== undefined ? { search: lookup(search), searched: true } : {});
          i = k + 1;
          done = true;
          break;
        }
      }
      if (done) continue;
      out += c;
      i++;
      continue;
    }
    if (next !== undefined && vars.has(next)) {
      out += vars.get(next)!;
      i += 2;
      continue;
    }
    out += c;
    i++;
  }
  return out;
}

/**
 * Delayed expansion (phase 5), on text that holds a `!`: `^` takes the next character literally
 * (inside quotes too) and is dropped, `!VAR!` (and `!VAR:~n,m!`, `!VAR:a=b!`) is the variable's
 * value now, an undefined one is nothing, a `!` with no partner is dropped. Text without `!` is
 * left alone, its carets included.
 */
export function delayedExpand(text: string, lookup: (name: string) => string | undefined): string {
  if (!text.includes('!')) return text;
  let out = '';
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === '^') {
      out += text[i + 1] ?? '';
      i += 2;
      continue;
    }
    if (c === '!') {
      const close = text.indexOf('!', i + 1);
      if (close === -1) {
        i++;
        continue;
      }
      const name = text.slice(i + 1, close);
      if (name !== '') out += variable({ lookup }, name);
      i = close + 1;
      continue;
    }
    out += c;
    i++;
  }
  return out;
}
