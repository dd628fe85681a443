// Where a group goes, decided from its failover policy (upper-case server names in priority order),
// what the cluster wants of it, and which servers are up. Pure functions: every server computes the
// same answer from the same state; the transactions make sure only one acts on it.
import type { GroupRecord } from './keys';

/** The server that should take a group without owner now: the handover's target when it is up and has not failed, else the policy's first such server. */
export function candidate(policy: string[], rec: GroupRecord, live: Set<string>): string | null {
  const failed = new Set(rec.failed.map((s) => s.toUpperCase()));
  const t = rec.target?.toUpperCase();
  if (t && live.has(t) && !failed.has(t) && policy.includes(t)) return t;
  return policy.find((s) => live.has(s) && !failed.has(s)) ?? null;
}

/** Every server of the policy has failed to start the group since it was last online. */
export function everyFailed(policy: string[], failed: string[]): boolean {
  const f = new Set(failed.map((s) => s.toUpperCase()));
  return policy.every((s) => f.has(s));
}

/** The next live server after `me` in the policy (wrapping), or null when none is up. */
export function nextServer(policy: string[], me: string, live: Set<string>): string | null {
  const i = policy.indexOf(me);
  for (let n = 1; n <= policy.length; n++) {
    const s = policy[(i + n) % policy.length];
    if (s !== me && live.has(s)) return s;
  }
  return null;
}
