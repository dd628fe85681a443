// MKLINK [/D | /H | /J] link target: a symbolic link (/D and /J: to a folder), /H a hard link.
// cmd's messages; ERRORLEVEL 1 when the link exists or cannot be made.
import * as fs from 'node:fs';
import { IO, writeFd } from '../io';
import type { Interpreter } from '../exec';
import { hostPath } from '../paths';
import { builtinArgs, local } from './args';

export function mklink(sh: Interpreter, rest: string, io: IO): boolean {
  const a = builtinArgs(rest);
  const fail = (msg: string) => {
    writeFd(io.err, msg + '\n');
    sh.errorlevel = 1;
    return false;
  };
  if (a.names.length !== 2) return fail('The syntax of the command is incorrect.');
  const [link, target] = a.names;
  const at = local(sh.cwd, link);
  if (fs.existsSync(at) || fs.lstatSync(at, { throwIfNoEntry: false })) return fail('Cannot create a file when that file already exists.');
  try {
    if (a.switches.includes('H')) fs.linkSync(local(sh.cwd, target), at);
    else fs.symlinkSync(hostPath(target), at);
  } catch {
    return fail(a.switches.includes('H') ? 'The system cannot find the file specified.' : 'Access is denied.');
  }
  const kind = a.switches.includes('H') ? 'Hardlink' : a.switches.includes('J') ? 'Junction' : 'symbolic link';
  writeFd(io.out, `${kind} created for ${link} <<===>> ${target}\n`);
  return true;
}
