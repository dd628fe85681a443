// `left | right`. cmd runs each side in a cmd of its own, at the same time; ERRORLEVEL is the right
// side's exit code. Two programs are joined by a real pipe (the right side reads while the left
// writes). When a side runs in this interpreter (a built-in, a block, a mapped Windows program,
// an ARM* command), what the left side writes goes to a temporary file that the right side then
// reads: the same bytes, without one process waiting on itself.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import type { Frame } from './control';
import { programArgs } from './expand';
import { Interpreter, tempFile } from './exec';
import { IO, writeFd } from './io';
import { findCommand } from './lookup';
import { ownCommand } from './own-commands';
import type { Node, Pipe } from './parse';
import { mappedProgram } from './programs';
import { splitCommand } from './rules';

export async function runPipe(sh: Interpreter, node: Pipe, frame: Frame, io: IO): Promise<boolean> {
  const left = program(sh, node.left);
  const right = program(sh, node.right);
  if (left && right) return streamed(sh, left, right, io);
  const file = tempFile();
  const w = fs.openSync(file, 'w');
  try {
    // A simple command keeps delayed expansion (the parent expands it); a block on a side of a pipe does not.
    await sh.isolated(() => sh.exec(node.left, frame, { ...io, out: w }), node.left.kind !== 'block');
  } finally {
    fs.closeSync(w);
  }
  const r = fs.openSync(file, 'r');
  fs.unlinkSync(file);
  try {
    sh.errorlevel = await sh.isolated(() => sh.exec(node.right, frame, { ...io, in: r }), node.right.kind !== 'block');
  } finally {
    fs.closeSync(r);
  }
  return sh.errorlevel === 0;
}

interface Prog {
  file: string;
  args: string[];
}

/** The side as a program started from PATH (not a built-in, a batch file, or one that runs in this interpreter), or null. */
function program(sh: Interpreter, node: Node): Prog | null {
  if (node.kind !== 'command' || node.redirects.length > 0) return null;
  const s = splitCommand(sh.late(node.text));
  if (s.builtin || s.name === '' || mappedProgram(s.name)) return null;
  try {
    const found = findCommand(s.name, sh.vars.get('PATH'), sh.cwd);
    if (!found || found.kind !== 'program' || ownCommand(found.file)) return null;
    return { file: found.file, args: programArgs(s.rest) };
  } catch {
    return null;
  }
}

function streamed(sh: Interpreter, left: Prog, right: Prog, io: IO): Promise<boolean> {
  return new Promise((resolve) => {
    const env = sh.vars.toEnv();
    const a = spawn(left.file, left.args, { cwd: sh.cwd, env, stdio: [io.in, 'pipe', io.err] });
    const b = spawn(right.file, right.args, { cwd: sh.cwd, env, stdio: ['pipe', io.out, io.err] });
    a.stdout!.pipe(b.stdin!);
    b.stdin!.on('error', () => undefined); // the right side ended first: the left one gets EPIPE, as in cmd
    a.once('error', (e) => {
      writeFd(io.err, `${left.file}: ${e.message}\n`);
      b.stdin!.end();
    });
    let leftDone = false;
    let rightCode: number | null = null;
    b.once('error', (e) => {
      writeFd(io.err, `${right.file}: ${e.message}\n`);
      rightCode ??= 9009;
      a.stdout!.destroy();
      finish();
    });
    const finish = () => {
      if (!leftDone || rightCode === null) return;
      sh.errorlevel = rightCode;
      resolve(rightCode === 0);
    };
    a.once('error', () => {
      leftDone = true;
      finish();
    });
    a.once('close', () => {
      leftDone = true;
      finish();
    });
    b.once('close', (code, signal) => {
      rightCode = code ?? 128 + (signal ? (os.constants.signals[signal] ?? 0) : 0);
      if (!leftDone) a.stdout!.destroy();
      finish();
    });
  });
}
