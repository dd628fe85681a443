// The Windows programs group scripts call, mapped on this OS with their options, messages and exit
// codes (one file each, named after the program). They are found before PATH, by their bare name
// or NAME.exe in any case (`find` is Windows FIND here, not the POSIX find). A Windows program with
// no mapping stops at its line with one message and ERRORLEVEL 9009.
import type { Frame } from '../control';
import type { Interpreter } from '../exec';
import type { IO } from '../io';
import { cmd } from './cmd';
import { find } from './find';
import { findstr } from './findstr';
import { net } from './net';
import { ping } from './ping';
import { sc } from './sc';
import { taskkill } from './taskkill';
import { tasklist } from './tasklist';
import { timeout } from './timeout';
import { xcopy } from './xcopy';

export interface ProgramRun {
  sh: Interpreter;
  /** as written */
  name: string;
  /** the argument text as written */
  rest: string;
  /** split as Windows programs split theirs */
  args: string[];
  io: IO;
  frame: Frame;
  line: number;
}

/** Resolves with the exit code (ERRORLEVEL). */
export type Program = (p: ProgramRun) => number | Promise<number>;

const PROGRAMS: Record<string, Program> = {
  CMD: cmd,
  FIND: find,
  FINDSTR: findstr,
  NET: net,
  PING: ping,
  SC: sc,
  TASKKILL: taskkill,
  TASKLIST: tasklist,
  TIMEOUT: timeout,
  XCOPY: xcopy,
};

export function mappedProgram(name: string): Program | null {
  if (/[\\/"]/.test(name)) return null;
  return PROGRAMS[name.toUpperCase().replace(/\.EXE$/, '')] ?? null;
}

/** Windows programs with no counterpart here, and what a group script uses instead. */
export const WINDOWS_PROGRAMS: Record<string, string> = {
  SHUTDOWN: "ARMDOWN (the config's power: commands)",
  CHOICE: 'ARMSLEEP seconds (a group script has no console)',
  REG: "a file or an environment variable set in the service's environment",
  REGEDIT: "a file or an environment variable set in the service's environment",
  NETSH: 'ip (iproute2) or nmcli',
  WMIC: 'ps, df, free or /proc',
  CSCRIPT: 'a .sh helper (or node)',
  WSCRIPT: 'a .sh helper (or node)',
  POWERSHELL: 'pwsh, or a .ps1 group script',
  IPCONFIG: 'ip addr',
  ROBOCOPY: 'XCOPY /S /E, rsync or cp -r',
  ATTRIB: 'chmod',
  CACLS: 'chmod/chown',
  ICACLS: 'chmod/chown',
  MSG: 'ARMBCAST /MSG "..."',
  NBTSTAT: 'getent hosts',
  NET1: 'NET',
  SUBST: 'a symbolic link (MKLINK /D, ln -s)',
  LABEL: 'no volume labels here',
  FORMAT: "mkfs, from the disk's activate: command in arms.yaml",
  CHKDSK: "fsck, from the disk's activate: command in arms.yaml",
  MOUNTVOL: "mount, from the disk's activate: command in arms.yaml",
  DISKPART: "the disk's activate:/deactivate: commands in arms.yaml",
  EVENTCREATE: 'ARMLOG "..." /ARM (the alert log and syslog)',
  LOGOFF: 'nothing: a group script has no session',
  RUNAS: 'ARMLOAD /U user',
  AT: 'cron or a systemd timer',
  SCHTASKS: 'cron or a systemd timer',
};

/** What to use instead of a Windows program that has no mapping (NAME or NAME.exe, any case), or null. */
export function unmappedWindowsProgram(name: string): string | null {
  const base = name.replace(/^.*[\\/]/, '').replace(/"/g, '').toUpperCase();
  if (WINDOWS_PROGRAMS[base.replace(/\.EXE$/, '')]) return WINDOWS_PROGRAMS[base.replace(/\.EXE$/, '')];
  if (base.endsWith('.EXE') || base.endsWith('.COM')) return 'the program that does this job here, or a .sh helper';
  return null;
}
