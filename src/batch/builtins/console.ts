// The built-ins that speak to a console or to Windows settings. A group script has no console:
// TITLE, CLS, COLOR, PROMPT, BREAK, VERIFY and KEYS do nothing (--trace says so); PAUSE prints
// cmd's prompt and returns at once; VER names this interpreter; CHCP answers (output is UTF-8
// whatever page is asked for); VOL, DPATH, ASSOC and FTYPE have nothing to show here.
import * as os from 'node:os';
import type { Frame } from '../control';
import { IO, writeFd } from '../io';
import type { Interpreter } from '../exec';

export function noConsole(sh: Interpreter, name: string, frame: Frame, line: number): boolean {
  sh.trace(frame, line, `${name}: no console here: nothing to do`);
  return true;
}

export function pause(sh: Interpreter, io: IO, frame: Frame, line: number): boolean {
  writeFd(io.out, 'Press any key to continue . . . \n');
  sh.trace(frame, line, 'PAUSE: no console to wait for a key on: going on at once');
  return true;
}

export function ver(io: IO): boolean {
  writeFd(io.out, `\nARMS batch interpreter [Version 10.0] on ${os.type()} ${os.release()}\n`);
  return true;
}

export function chcp(sh: Interpreter, rest: string, io: IO): boolean {
  const n = rest.trim();
  if (n !== '' && !/^\d+$/.test(n)) {
    writeFd(io.err, 'Parameter format not correct - ' + n + '\n');
    sh.errorlevel = 1;
    return false;
  }
  writeFd(io.out, `Active code page: ${n || '65001'}.\n`);
  return true;
}

export function nothingHere(sh: Interpreter, name: string, io: IO): boolean {
  writeFd(io.err, `${name}: there is nothing of this kind on this system (no drive volumes, no file associations)\n`);
  sh.errorlevel = 1;
  return false;
}
