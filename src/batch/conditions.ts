// IF's conditions, with cmd's meanings: ERRORLEVEL n is "at least n"; == compares the text exactly
// as written (quotes included); EQU..GEQ compare as numbers when both sides are numbers in a base
// cmd reads (17, 0x11, 021, signed), else as text; /I ignores case; DEFINED looks at the
// environment only.
import { Condition } from './parse';
import { exists } from './paths';
import { unquote } from './expand';

export interface ConditionScope {
  errorlevel: number;
  defined(name: string): boolean;
  cwd: string;
}

/** A number as cmd's IF reads one, or null (then the comparison is of text). */
export function cmdNumber(s: string): number | null {
  const m = /^([+-]?)(0x[0-9a-f]+|0[0-7]*|[1-9][0-9]*)$/i.exec(s);
  if (!m) return null;
  const body = m[2];
  const v = /^0x/i.test(body) ? parseInt(body.slice(2), 16) : body.length > 1 && body[0] === '0' ? parseInt(body.slice(1), 8) : Number(body);
  return m[1] === '-' ? -v : v;
}

/** Throws Error with cmd's wording for a condition that cannot be evaluated. */
export function evalCondition(cond: Condition, ignoreCase: boolean, scope: ConditionScope): boolean {
  switch (cond.kind) {
    case 'errorlevel': {
      const n = cmdNumber(cond.n);
      if (n === null) throw new Error(`IF ERRORLEVEL needs a number, not "${cond.n}"`);
      return scope.errorlevel >= n;
    }
    case 'exist':
      return exists(scope.cwd, unquote(cond.path));
    case 'defined':
      return scope.defined(cond.name);
    case 'compare': {
      let a = cond.left;
      let b = cond.right;
      if (cond.op === '==') return ignoreCase ? a.toUpperCase() === b.toUpperCase() : a === b;
      const na = cmdNumber(a);
      const nb = cmdNumber(b);
      let order: number;
      if (na !== null && nb !== null) order = Math.sign(na - nb);
      else {
        if (ignoreCase) {
          a = a.toUpperCase();
          b = b.toUpperCase();
        }
        order = a < b ? -1 : a > b ? 1 : 0;
      }
      switch (cond.op) {
        case 'EQU':
          return order === 0;
        case 'NEQ':
          return order !== 0;
        case 'LSS':
          return order < 0;
        case 'LEQ':
          return order <= 0;
        case 'GTR':
          return order > 0;
        case 'GEQ':
          return order >= 0;
      }
    }
  }
}
