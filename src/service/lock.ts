// One service per home: a lock file holding the owner's identity (PID, start time, boot), so a
// lock left by a crashed service is recognised as stale even when its PID has been reused.
import * as fs from 'node:fs';
import { identify, isSameProcess, ProcessIdentity } from '../platform/process';

export class LockHeld extends Error {
  constructor(public owner: ProcessIdentity) {
    super(`another armsd (pid ${owner.pid}) is already running on this home`);
  }
}

export interface Lock {
  release(): void;
  /** true while the file still names us (another service took it over after deciding it was stale: never) */
  stillOurs(): boolean;
}

export function acquireLock(file: string): Lock {
  const me = identify(process.pid)!;
  const mine = JSON.stringify(me);
  for (let attempt = 0; attempt < 20; attempt++) {
    try {
      const fd = fs.openSync(file, 'wx', 0o600);
      fs.writeSync(fd, mine);
      fs.fsyncSync(fd);
      fs.closeSync(fd);
      return {
        release() {
          if (this.stillOurs()) fs.rmSync(file, { force: true });
        },
        stillOurs() {
          try {
            return fs.readFileSync(file, 'utf8') === mine;
          } catch {
            return false;
          }
        },
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const seen = readOwner(file);
    if (seen === 'gone') continue;
    if (seen === 'unreadable') {
      // Being written by a service that is starting right now, or left empty by a crash: wait a little.
      if (ageMs(file) < 2000) {
        sleepMs(100);
        continue;
      }
    } else if (isSameProcess(seen.owner)) {
      throw new LockHeld(seen.owner);
    }
    // Stale. Move it aside under a name of our own, then make sure what we moved is what we judged
    // stale: if another service replaced it in between, put theirs back and give way.
    const aside = `${file}.stale-${process.pid}`;
    try {
      fs.renameSync(file, aside);
    } catch {
      continue;
    }
    const moved = fs.readFileSync(aside, 'utf8');
    if (seen !== 'unreadable' && moved !== seen.text) {
      try {
        fs.linkSync(aside, file);
      } catch {
        /* somebody holds it again: loop and see who */
      }
    }
    fs.rmSync(aside, { force: true });
  }
  throw new Error(`could not take the lock ${file} (it keeps changing: several services starting at once?)`);
}

type Seen = 'gone' | 'unreadable' | { owner: ProcessIdentity; text: string };

function readOwner(file: string): Seen {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return 'gone';
  }
  try {
    const owner = JSON.parse(text) as ProcessIdentity;
    if (typeof owner.pid !== 'number') return 'unreadable';
    return { owner, text };
  } catch {
    return 'unreadable';
  }
}

function ageMs(file: string): number {
  try {
    return Date.now() - fs.statSync(file).mtimeMs;
  } catch {
    return 0;
  }
}

function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
