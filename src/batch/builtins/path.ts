// PATH shows PATH=...; PATH ; empties it; PATH folders sets it (as SET PATH=folders).
import { IO, writeFd } from '../io';
import type { Interpreter } from '../exec';

export function pathBuiltin(sh: Interpreter, rest: string, io: IO): boolean {
  const value = rest.replace(/^[ \t=]+/, '').trimEnd();
  if (value === '') {
    const p = sh.vars.get('PATH');
    writeFd(io.out, p === undefined ? 'PATH=(null)\n' : `PATH=${p}\n`);
    return true;
  }
  sh.vars.set('PATH', value === ';' ? '' : value);
  return true;
}
