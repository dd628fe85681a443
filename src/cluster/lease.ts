// This server's lease: its membership and the life of every owner key it holds.
//
// Safety does not depend on how often keep-alives go out: a keep-alive counts from the moment it
// was *sent* (etcd cannot have refreshed the lease before that, so the lease cannot expire at etcd
// before TTL after it), and the watchdog fires when no keep-alive has succeeded for ⅔ of the TTL,
// without waiting for the library (it says "lost" only after about 2 × TTL, platform.md §3.3): the
// groups then get the remaining third to stop before anybody else may take them.
//
// How often only trades a healthy server's margin against a dead server's takeover time (after a
// crash the lease lives on for TTL minus the age of its last refresh: refreshing more often makes
// failover slower). So: one keep-alive when the last success is 0.4·TTL old, and while none
// succeeds, another every TTL/15. One lost or hung keep-alive leaves 0.2·TTL for the retry's
// answer before the watchdog (a keep-alive every TTL/4 left TTL/6), two leave 0.13·TTL; a crashed
// server's lease outlives it by 0.6 to 1.0 × TTL (0.8 on average; TTL/4 gave 0.875).
import { Etcd3, Lease } from 'etcd3';
import { within } from './etcd';

/** A clock that a change of the wall clock does not move. */
const mono = () => performance.now();

export interface HeldLease {
  id: string;
  ttlMs: number;
  /** revokes it (its keys go at once); bounded; false when etcd did not confirm (it then expires) */
  revoke(): Promise<boolean>;
  /** stops keeping it alive */
  close(): void;
}

export interface LeaseEvents {
  /** no successful keep-alive for ⅔ TTL, or etcd said the lease is gone: the groups must stop by `deadline` (Date.now() ms) */
  fence(reason: string, deadline: number): void;
}

export async function grantLease(client: Etcd3, ttlS: number, events: LeaseEvents): Promise<HeldLease> {
  const lease: Lease = client.lease(ttlS, { autoKeepAlive: false });
  lease.on('lost', () => undefined); // reported through keepaliveOnce's rejection below
  const sentAt = mono();
  const id = await within(lease.grant(), ttlS * 1000, 'lease grant');
  const ttlMs = ttlS * 1000;
  let last = sentAt;
  let closed = false;
  let fenced = false;
  const fence = (reason: string) => {
    if (fenced || closed) return;
    fenced = true;
    closed = true;
    clearInterval(beats);
    clearInterval(watchdog);
    // a margin for the timers' own lateness: everything is down before the lease can end at etcd
    events.fence(reason, Date.now() + (last + ttlMs - Math.max(100, ttlMs * 0.1) - mono()));
  };
  const every = ttlMs * 0.4;
  const retry = ttlMs / 15;
  let inFlight = 0;
  let lastSent = sentAt;
  const beat = () => {
    const at = mono();
    // (a few ms early is on time: the timer's own jitter must not push a beat to the next tick)
    if (closed || inFlight >= 3 || at - last < every - 5 || at - lastSent < retry - 5) return;
    inFlight++;
    lastSent = at;
    within(lease.keepaliveOnce({ deadline: Date.now() + ttlMs / 3 }), ttlMs / 3 + 100, 'keep-alive')
      .then((res) => {
        if (Number(res.TTL) <= 0) fence('etcd says this server\'s lease has expired');
        else last = Math.max(last, at);
      })
      .catch((e: Error) => {
        if (e.name === 'EtcdLeaseInvalidError') fence('etcd says this server\'s lease has expired');
      })
      .finally(() => inFlight--);
  };
  const beats = setInterval(beat, Math.max(20, retry));
  beat(); // at once when the grant itself took long (a connection coming back): it counts from its sending
  const watchdog = setInterval(() => {
    const silent = Math.round(mono() - last);
    if (silent > (ttlMs * 2) / 3) fence(`no successful keep-alive for ${silent} ms (⅔ of the ${ttlS} s heartbeat timeout)`);
  }, Math.max(20, ttlMs / 50));
  return {
    id,
    ttlMs,
    async revoke() {
      closed = true;
      clearInterval(beats);
      clearInterval(watchdog);
      return within(lease.revoke(), Math.max(1000, ttlMs / 3), 'lease revoke').then(
        () => true,
        () => false,
      );
    },
    close() {
      closed = true;
      clearInterval(beats);
      clearInterval(watchdog);
      lease.release();
    },
  };
}
