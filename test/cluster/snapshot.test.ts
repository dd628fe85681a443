// The cluster's state as a server keeps it between reads: one read, then the watch's events. The
// events of one transaction share a revision; a watch response's header may be ahead of events
// still on their way; a read may land while events it already has are being delivered.
import { describe, expect, it } from 'vitest';
import type { IKeyValue } from '../../src/cluster/etcd';
import { applyEvents, fromRange } from '../../src/cluster/snapshot';

const root = '/arms/t/';
const kv = (key: string, value: unknown, rev: number, create = rev, lease = '0'): IKeyValue =>
  ({ key: Buffer.from(root + key), value: Buffer.from(value === null ? '' : JSON.stringify(value)), create_revision: String(create), mod_revision: String(rev), version: '1', lease }) as IKeyValue;
const put = (key: string, value: unknown, rev: number, create = rev, lease = '0') => ({ type: 'Put', kv: kv(key, value, rev, create, lease) });
const del = (key: string, rev: number) => ({ type: 'Delete', kv: kv(key, null, rev, 0) });

describe('the snapshot kept by the watch', () => {
  it('applies every change of one transaction (one revision), and deletes', () => {
    const s = fromRange(root, [kv('owner/G', { server: 'A', state: 'online', at: '' }, 10, 10, '7'), kv('group/G', { want: 'online' }, 9), kv('server/A', {}, 5)], 10n);
    expect(s.owners.get('G')?.fence).toBe('10');
    // a release: the record and the owner key in one transaction at revision 11
    applyEvents(root, s, [put('group/G', { want: 'online', target: 'B' }, 11), del('owner/G', 11)]);
    expect(s.owners.has('G')).toBe(false);
    expect(s.records.get('G')).toMatchObject({ rec: { target: 'B' }, rev: '11' });
    // the take-over on B, then B's own request and answer
    applyEvents(root, s, [put('owner/G', { server: 'B', state: 'starting', at: '' }, 12, 12, '8'), put('req/G/x1', { op: 'stop', fence: '12', from: 'C', lease: '9' }, 13), put('ans/x1', { ok: true, message: 'done', fence: '12' }, 14)]);
    expect(s.owners.get('G')).toMatchObject({ fence: '12', lease: '8', value: { server: 'B' } });
    expect(s.reqs.get('G')?.map((r) => r.id)).toEqual(['x1']);
    expect(s.answers.get('x1')).toMatchObject({ ok: true });
    applyEvents(root, s, [del('req/G/x1', 15), del('ans/x1', 15), del('server/A', 16)]);
    expect(s.reqs.has('G')).toBe(false);
    expect(s.answers.size).toBe(0);
    expect([...s.servers]).toEqual([]);
    expect(s.rev).toBe(16n);
  });

  it('skips the events the read already has (a read that landed while they were on their way), not the later ones', () => {
    const s = fromRange(root, [kv('owner/G', { server: 'B', state: 'online', at: '' }, 20, 20, '8')], 21n);
    // events 20 and 21 arrive after the read at 21: already in it
    applyEvents(root, s, [put('owner/G', { server: 'B', state: 'starting', at: '' }, 20, 20, '8'), del('server/C', 21)]);
    expect(s.owners.get('G')?.value.state).toBe('online');
    applyEvents(root, s, [del('owner/G', 22)]);
    expect(s.owners.has('G')).toBe(false);
  });
});
