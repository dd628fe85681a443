// Where a group goes: the pure decisions every server makes from the same state.
import { describe, expect, it } from 'vitest';
import { OFFLINE } from '../../src/cluster/keys';
import { candidate, everyFailed, nextServer } from '../../src/cluster/policy';

const live = (...s: string[]) => new Set(s);
const rec = (r: Partial<typeof OFFLINE>) => ({ ...OFFLINE, want: 'online' as const, ...r });

describe('failover policy', () => {
  it('the first live server of the policy that has not failed; a handover target first when it is up and has not failed', () => {
    const p = ['A', 'B', 'C'];
    expect(candidate(p, rec({}), live('A', 'B', 'C'))).toBe('A');
    expect(candidate(p, rec({}), live('B', 'C'))).toBe('B');
    expect(candidate(p, rec({ failed: ['b'] }), live('B', 'C'))).toBe('C');
    expect(candidate(p, rec({ target: 'C' }), live('A', 'B', 'C'))).toBe('C');
    expect(candidate(p, rec({ target: 'C' }), live('A', 'B'))).toBe('A');
    expect(candidate(p, rec({ target: 'C', failed: ['C'] }), live('A', 'C'))).toBe('A');
    expect(candidate(p, rec({ target: 'Z' }), live('Z', 'B'))).toBe('B');
    expect(candidate(p, rec({ failed: ['A', 'B'] }), live('A', 'B'))).toBeNull();
  });

  it('every server failed: all of the policy, not only those up now', () => {
    expect(everyFailed(['A', 'B', 'C'], ['a', 'B'])).toBe(false);
    expect(everyFailed(['A', 'B', 'C'], ['C', 'a', 'B'])).toBe(true);
  });

  it('the next live server after this one, wrapping; null alone', () => {
    expect(nextServer(['A', 'B', 'C'], 'A', live('A', 'B', 'C'))).toBe('B');
    expect(nextServer(['A', 'B', 'C'], 'B', live('A', 'B'))).toBe('A');
    expect(nextServer(['A', 'B', 'C'], 'C', live('A', 'B', 'C'))).toBe('A');
    expect(nextServer(['A', 'B'], 'A', live('A'))).toBeNull();
    expect(nextServer(['A', 'B'], 'Z', live('A', 'B', 'Z'))).toBe('A');
  });
});
