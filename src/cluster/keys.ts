// What the cluster keeps in etcd, all under /arms/<cluster>/ (docs/cluster.md "Keys"):
//
//   server/<S>      this server is up (bound to its lease)       {since, pid, version}
//   seen/<S>        up or down since when (no lease)             {up, since}
//   config/<S>      its group definitions and their hash          {hash, groups}
//   owner/<G>       the group's owner (bound to the owner's lease) {server, state, at, error?}
//                   its create revision is the fencing token
//   group/<G>       what the cluster wants of the group (no lease) GroupRecord
//   req/<G>/<id>    a request for the group's owner               Request
//   ans/<id>        its answer (bound to the asker's lease)       Answer
import type { StartEvent } from '../service/script-env';

export function keys(cluster: string) {
  const root = `/arms/${cluster}/`;
  return {
    root,
    server: (s: string) => `${root}server/${s.toUpperCase()}`,
    seen: (s: string) => `${root}seen/${s.toUpperCase()}`,
    config: (s: string) => `${root}config/${s.toUpperCase()}`,
    owner: (g: string) => `${root}owner/${g.toUpperCase()}`,
    group: (g: string) => `${root}group/${g.toUpperCase()}`,
    reqs: (g: string) => `${root}req/${g.toUpperCase()}/`,
    req: (g: string, id: string) => `${root}req/${g.toUpperCase()}/${id}`,
    ans: (id: string) => `${root}ans/${id}`,
  };
}

export type Keys = ReturnType<typeof keys>;

/** What the cluster wants of a group; changed only in transactions guarded by its mod revision. */
export interface GroupRecord {
  want: 'online' | 'offline';
  /** the last server the group was online on (CLP_SERVER_PREV of the next start) */
  prev: string | null;
  /** a handover names the server that takes the group, and how it starts it */
  target: string | null;
  event: StartEvent | null;
  /** servers whose start failed since the group was last online: the next one of the policy is tried */
  failed: string[];
  /** every server of the policy failed: the group is in error cluster-wide until an operator starts it */
  error: string | null;
  /** when its failovers were handed over (ms since the epoch, within its failoverWindow): maxFailovers on the whole cluster */
  failovers: number[];
}

export const OFFLINE: GroupRecord = { want: 'offline', prev: null, target: null, event: null, failed: [], error: null, failovers: [] };

export interface OwnerValue {
  server: string;
  state: 'starting' | 'online' | 'stopping' | 'error';
  at: string;
  error?: string;
}

export type RequestOp = 'start' | 'stop' | 'restart' | 'failover' | 'move';

export interface Request {
  op: RequestOp;
  /** the fencing token of the owner it was sent to: a later owner refuses it */
  fence: string;
  from: string;
  /** the asker's lease: the answer lives no longer than the asker */
  lease: string;
  to?: string;
  force?: boolean;
  cause?: string;
}

export interface Answer {
  ok: boolean;
  message: string;
  /** the owner's fencing token when it answered */
  fence: string;
  /** a handover: the server the group went to */
  handedTo?: string;
}
