// DATE /T and TIME /T print the date and time (the Japanese-locale forms of %DATE% and %TIME%:
// 2000/01/31, 13:05). Without /T cmd would ask for a new one: here the current one is shown and
// nothing is set (ERRORLEVEL 1 if a new one is given, as for a user without the privilege).
import { IO, writeFd } from '../io';
import type { Interpreter } from '../exec';
import { readLine } from './read-line';

const pad = (n: number) => String(n).padStart(2, '0');

export function dateText(d: Date): string {
  return `${d.getFullYear()}/${pad(d.getMonth() + 1)}/${pad(d.getDate())}`;
}

export function timeText(d: Date): string {
  return `${String(d.getHours()).padStart(2, ' ')}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(Math.floor(d.getMilliseconds() / 10))}`;
}

export function dateOrTime(sh: Interpreter, which: 'DATE' | 'TIME', rest: string, io: IO): boolean {
  const now = new Date();
  if (/^\s*\/t\s*$/i.test(rest)) {
    writeFd(io.out, (which === 'DATE' ? dateText(now) : `${pad(now.getHours())}:${pad(now.getMinutes())}`) + '\n');
    return true;
  }
  const given = rest.trim();
  if (given === '') {
    writeFd(io.out, which === 'DATE' ? `The current date is: ${dateText(now)}\nEnter the new date: (yy-mm-dd) ` : `The current time is: ${timeText(now)}\nEnter the new time: `);
    const answer = readLine(io.in);
    writeFd(io.out, '\n');
    if (!answer) return true;
  }
  writeFd(io.err, 'A required privilege is not held by the client.\n');
  sh.errorlevel = 1;
  return false;
}
