// The text FIND and FINDSTR read: files named on their command line, or their input (a pipe, a
// redirection). Read whole; decoded as the scripts are (UTF-8, else Shift_JIS); CR LF or LF.
import * as fs from 'node:fs';
import { hostPath, resolveCase } from '../paths';
import { decodeAs, detectEncoding } from '../source';

export function decode(bytes: Buffer): string {
  return decodeAs(bytes, detectEncoding(bytes));
}

export function inputText(fd: number): string {
  try {
    return decode(fs.readFileSync(fd));
  } catch {
    return '';
  }
}

/** A file's text, or null when it cannot be read. */
export function fileText(cwd: string, name: string): string | null {
  try {
    return decode(fs.readFileSync(resolveCase(cwd, hostPath(name))));
  } catch {
    return null;
  }
}

export function textLines(text: string): string[] {
  const lines = text.split('\n').map((l) => l.replace(/\r$/, ''));
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines;
}
