// Disk check: write, fsync, read back and delete a small probe file in the folder (optionally: free
// space at or above a threshold), in ARMRSP's probe helper process (probe-helper.ts: a call on a
// hung disk blocks a thread for good, and a process with such a thread cannot even exit).
import * as os from 'node:os';
import { Check } from './loop';
import { ProbeHelper } from './probe-helper';

export interface DiskOptions {
  prober: ProbeHelper;
  /** bytes: the check fails when less is free */
  minFree?: number;
  /** the probe file's name in the folder (default: .arms-probe-HOST-MONITOR) */
  probeName: string;
}

/** `.arms-probe-SERVERA-RSP`: one name per server and monitor, so monitors never share a file. */
export function probeName(monitor: string): string {
  const clean = (s: string) => s.replace(/[^A-Za-z0-9_.-]/g, '');
  return `.arms-probe-${clean(os.hostname().split('.')[0]) || 'host'}-${clean(monitor) || 'monitor'}`;
}

export function diskCheck(dir: string, opts: DiskOptions): Check {
  return {
    kind: 'disk',
    resource: dir,
    run: (timeoutMs) => opts.prober.disk(dir, opts.probeName, timeoutMs, opts.minFree),
  };
}
