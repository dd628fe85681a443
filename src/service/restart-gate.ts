// Every watch's restarts go through one gate. However many programs die at once (a thousand
// watches of a program that cannot run), starting their replacements takes at most about a fifth
// of the service's time, in slices: between two slices it answers its pipe, reaps, logs. (A spawn
// is a fork on the event loop: 1-10 ms each, more the busier the machine.) A restart with nothing
// queued before it starts at the next turn of the event loop, as fast as ever.
import { performance } from 'node:perf_hooks';

export interface Gate {
  /** runs `job` as soon as the gate allows */
  enqueue(job: () => void): void;
  /** restarts waiting for their turn */
  waiting(): number;
  /** drops what waits (the service is stopping) */
  clear(): void;
}

/** `sliceMs`: how long one slice may start restarts before the service gets at least as long back. */
export function openGate(sliceMs = 5): Gate {
  let queue: Array<() => void> = [];
  let scheduled = false;
  const slice = () => {
    const t0 = performance.now();
    while (queue.length > 0 && performance.now() - t0 < sliceMs) {
      try {
        queue.shift()!();
      } catch {
        /* each job reports its own failure */
      }
    }
    const used = performance.now() - t0;
    if (queue.length > 0) setTimeout(slice, Math.max(sliceMs, 4 * used));
    else scheduled = false;
  };
  return {
    enqueue(job) {
      queue.push(job);
      if (scheduled) return;
      scheduled = true;
      setImmediate(slice);
    },
    waiting: () => queue.length,
    clear() {
      queue = [];
    },
  };
}
