// Which file a command name runs. ARM* names (any case) are the project's commands, found on PATH
// (the service puts their folder first) without regard to case. Other names are looked for as cmd
// looks: in the current folder first, then along PATH; a name without extension may be NAME.bat
// or NAME.cmd. Batch file names match without regard to case (they come from Windows); programs
// match exactly, or without regard to case when the name is written in upper case (NET finds net).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { hostPath, isDir, resolveCase } from './paths';

export interface Found {
  kind: 'batch' | 'program';
  file: string;
}

/** A name with a folder part whose folder does not exist: cmd says "The system cannot find the path specified." (ERRORLEVEL 3). */
export class PathNotFound extends Error {}

const BATCH = /\.(bat|cmd)$/i;

export function isBatchFile(file: string): boolean {
  return BATCH.test(file);
}

/** PATH's folders; `;` separates as well as `:` (legacy scripts append `;dir` to PATH). */
export function pathDirs(pathVar: string | undefined): string[] {
  return (pathVar ?? '').split(/[:;]/).filter(Boolean);
}

export function findCommand(name: string, pathVar: string | undefined, cwd: string): Found | null {
  const n = hostPath(name.replace(/"/g, ''));
  if (n === '') return null;
  if (n.includes('/')) {
    const dir = path.dirname(n);
    const folder = resolveCase(cwd, dir);
    if (!isDir(folder)) throw new PathNotFound('The system cannot find the path specified.');
    return inFolder(folder, path.basename(n), true);
  }
  if (/^arm/i.test(n)) {
    for (const dir of pathDirs(pathVar)) {
      const f = inFolder(dir, n, true);
      if (f) return f;
    }
    return null;
  }
  const anyCase = n === n.toUpperCase() && /[A-Z]/.test(n);
  for (const dir of [cwd, ...pathDirs(pathVar)]) {
    const f = inFolder(dir, n, anyCase);
    if (f) return f;
  }
  return null;
}

/** NAME itself, then NAME.bat, NAME.cmd (when NAME has no batch extension). */
function inFolder(dir: string, name: string, anyCase: boolean): Found | null {
  if (BATCH.test(name)) {
    const f = match(dir, name, true, false);
    return f ? { kind: 'batch', file: f } : null;
  }
  const prog = match(dir, name, anyCase, true);
  if (prog) return { kind: isBatchFile(prog) ? 'batch' : 'program', file: prog };
  for (const ext of ['.bat', '.cmd']) {
    const f = match(dir, name + ext, true, false);
    if (f) return { kind: 'batch', file: f };
  }
  return null;
}

function match(dir: string, name: string, anyCase: boolean, executable: boolean): string | null {
  const ok = (f: string) => usable(f, executable);
  const exact = path.join(dir, name);
  if (ok(exact)) return exact;
  if (!anyCase) return null;
  for (const variant of [name.toLowerCase(), name.toUpperCase()]) {
    const f = path.join(dir, variant);
    if (variant !== name && ok(f)) return f;
  }
  const lower = name.toLowerCase();
  for (const entry of listing(dir)) {
    if (entry.toLowerCase() === lower) {
      const f = path.join(dir, entry);
      if (ok(f)) return f;
    }
  }
  return null;
}

function usable(file: string, executable: boolean): boolean {
  try {
    if (!fs.statSync(file).isFile()) return false;
    if (executable) fs.accessSync(file, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Folder listings for case-insensitive matches, read once per folder and run (PATH folders do not change under a script). */
const listings = new Map<string, string[]>();

function listing(dir: string): string[] {
  let names = listings.get(dir);
  if (!names) {
    try {
      names = fs.readdirSync(dir);
    } catch {
      names = [];
    }
    listings.set(dir, names);
  }
  return names;
}
