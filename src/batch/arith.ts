// SET /A: cmd's 32-bit integer expressions. Operators by precedence (as `set /?` lists them):
// ( ) ; ! ~ - + (unary) ; * / % ; + - ; << >> ; & ; ^ ; | ; = *= /= %= += -= &= ^= |= <<= >>= ; `,`
// A name stands for its variable's value (undefined or not a number: 0). Numbers are decimal, 0x
// hexadecimal or 0 octal. Division truncates toward zero; everything wraps at 32 bits.

export interface ArithVars {
  get(name: string): string | undefined;
  set(name: string, value: string): void;
}

/** cmd's message and the ERRORLEVEL it sets (cmd uses these large codes for SET /A errors). */
export class ArithError extends Error {
  constructor(
    message: string,
    readonly code: number,
  ) {
    super(message);
  }
}

const MISSING_OPERAND = () => new ArithError('Missing operand.', 1073750056);
const MISSING_OPERATOR = () => new ArithError('Missing operator.', 1073750057);
const UNBALANCED = () => new ArithError('Unbalanced parenthesis.', 1073750058);
const DIVIDE_BY_ZERO = () => new ArithError('Divide by zero error.', 1073750993);
const BAD_NUMBER = () => new ArithError('Invalid number.  Numeric constants are either decimal (17), hexadecimal (0x11), or octal (021).', 1073750023);
const TOO_BIG = () => new ArithError('Invalid number.  Numbers are limited to 32-bits of precision.', 1073750024);

type Tok = { t: 'num'; v: number } | { t: 'name'; v: string } | { t: 'op'; v: string };

const OPS = ['<<=', '>>=', '*=', '/=', '%=', '+=', '-=', '&=', '^=', '|=', '<<', '>>', '(', ')', '!', '~', '-', '+', '*', '/', '%', '&', '^', '|', '=', ','];
const NAME_STOP = ' \t()!~-+*/%<>&^|=,';

function tokenize(s: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < s.length) {
    const c = s[i];
    if (c === ' ' || c === '\t') {
      i++;
      continue;
    }
    if (c >= '0' && c <= '9') {
      let j = i;
      while (j < s.length && !NAME_STOP.includes(s[j])) j++;
      out.push({ t: 'num', v: literal(s.slice(i, j)) });
      i = j;
      continue;
    }
    const op = OPS.find((o) => s.startsWith(o, i));
    if (op) {
      out.push({ t: 'op', v: op });
      i += op.length;
      continue;
    }
    let j = i;
    while (j < s.length && !NAME_STOP.includes(s[j])) j++;
    out.push({ t: 'name', v: s.slice(i, j) });
    i = j;
  }
  return out;
}

function literal(s: string): number {
  let v: number;
  if (/^0x[0-9a-f]+$/i.test(s)) v = parseInt(s.slice(2), 16);
  else if (/^0[0-7]*$/.test(s)) v = s.length > 1 ? parseInt(s.slice(1), 8) : 0;
  else if (/^[1-9][0-9]*$/.test(s)) {
    v = Number(s);
    if (v > 2147483647) throw TOO_BIG();
  } else throw BAD_NUMBER();
  if (v > 0xffffffff) throw TOO_BIG();
  return v | 0;
}

/** A variable's value as a number: its leading number (any base cmd reads), else 0. */
export function numberOf(value: string | undefined): number {
  if (value === undefined) return 0;
  const m = /^\s*([+-]?)(0x[0-9a-f]+|0[0-7]*|[1-9][0-9]*)/i.exec(value);
  if (!m) return 0;
  let v: number;
  try {
    v = literal(m[2]);
  } catch {
    return 0;
  }
  return m[1] === '-' ? -v | 0 : v;
}

/** Evaluates `expr` (quotes already removed is not required: they are ignored), assigning as it goes. Returns the last value. */
export function evaluate(expr: string, vars: ArithVars, dry = false): number {
  const toks = tokenize(expr.replace(/"/g, ''));
  if (toks.length === 0) throw MISSING_OPERAND();
  let i = 0;
  const peek = () => toks[i];
  const isOp = (v: string) => toks[i]?.t === 'op' && toks[i].v === v;

  const assign = (name: string, v: number) => {
    if (!dry) vars.set(name, String(v));
    return v;
  };
  const valueOf = (name: string) => numberOf(vars.get(name));

  const sequence = (): number => {
    let v = assignment();
    while (isOp(',')) {
      i++;
      v = assignment();
    }
    return v;
  };
  const assignment = (): number => {
    const t = peek();
    const next = toks[i + 1];
    if (t?.t === 'name' && next?.t === 'op' && /^(<<|>>|[*/%+\-&^|])?=$/.test(next.v)) {
      i += 2;
      const rhs = assignment();
      const op = next.v.slice(0, -1);
      return assign(t.v, op === '' ? rhs : binary(op, valueOf(t.v), rhs));
    }
    return or();
  };
  const level = (ops: string[], inner: () => number) => (): number => {
    let v = inner();
    for (;;) {
      const t = peek();
      if (t?.t !== 'op' || !ops.includes(t.v)) return v;
      i++;
      v = binary(t.v, v, inner());
    }
  };
  const unary = (): number => {
    const t = peek();
    if (t?.t === 'op' && ['!', '~', '-', '+'].includes(t.v)) {
      i++;
      const v = unary();
      return t.v === '!' ? (v === 0 ? 1 : 0) : t.v === '~' ? ~v : t.v === '-' ? -v | 0 : v;
    }
    return primary();
  };
  const primary = (): number => {
    const t = peek();
    if (!t) throw MISSING_OPERAND();
    if (t.t === 'num') {
      i++;
      return t.v;
    }
    if (t.t === 'name') {
      i++;
      return valueOf(t.v);
    }
    if (t.v === '(') {
      i++;
      const v = sequence();
      if (!isOp(')')) throw UNBALANCED();
      i++;
      return v;
    }
    if (t.v === ')') throw UNBALANCED();
    throw MISSING_OPERAND();
  };
  const binary = (op: string, a: number, b: number): number => {
    switch (op) {
      case '*':
        return Math.imul(a, b);
      case '/':
      case '%':
        if (b === 0) {
          if (dry) return 0;
          throw DIVIDE_BY_ZERO();
        }
        return op === '/' ? Math.trunc(a / b) | 0 : a % b | 0;
      case '+':
        return (a + b) | 0;
      case '-':
        return (a - b) | 0;
      case '<<':
        return a << (b & 31);
      case '>>':
        return a >> (b & 31);
      case '&':
        return a & b;
      case '^':
        return a ^ b;
      case '|':
        return a | b;
    }
    throw MISSING_OPERATOR();
  };
  const mul = level(['*', '/', '%'], unary);
  const add = level(['+', '-'], mul);
  const shift = level(['<<', '>>'], add);
  const and = level(['&'], shift);
  const xor = level(['^'], and);
  const or = level(['|'], xor);

  const v = sequence();
  if (i < toks.length) throw toks[i].t === 'op' && toks[i].v === ')' ? UNBALANCED() : MISSING_OPERATOR();
  return v;
}
