// The etcd client as armsd uses it: every unary call bounded by a deadline, no retries or circuit
// breakers of the library's own (the cluster loop retries, and a breaker held open for 5 s would
// delay the return after a partition), watches reconnected at a steady pace.
import * as fs from 'node:fs';
import { ConstantBackoff, noop } from 'cockatiel';
import { Etcd3, IKeyValue } from 'etcd3';
import type { ClusterConfig } from './config';

export type { Etcd3, IKeyValue };

export function connectEtcd(c: ClusterConfig, callTimeoutMs: number): Etcd3 {
  return new Etcd3({
    hosts: c.etcd,
    dialTimeout: callTimeoutMs,
    credentials: c.tls
      ? {
          rootCertificate: fs.readFileSync(c.tls.ca),
          privateKey: c.tls.key ? fs.readFileSync(c.tls.key) : undefined,
          certChain: c.tls.cert ? fs.readFileSync(c.tls.cert) : undefined,
        }
      : undefined,
    defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + callTimeoutMs }),
    faultHandling: { host: () => noop, global: noop, watchBackoff: new ConstantBackoff(Math.min(500, callTimeoutMs)).next() },
    grpcOptions: {
      // A black-holed connection is found dead within about a TTL instead of the OS's minutes.
      'grpc.keepalive_time_ms': Math.max(1000, callTimeoutMs),
      'grpc.keepalive_timeout_ms': Math.max(1000, callTimeoutMs),
      'grpc.keepalive_permit_without_calls': 1,
      'grpc.initial_reconnect_backoff_ms': 100,
      'grpc.max_reconnect_backoff_ms': Math.max(500, callTimeoutMs),
    },
  });
}

export const text = (b: Buffer | undefined): string => (b ? b.toString('utf8') : '');

export function json<T>(kv: IKeyValue | undefined): T | null {
  if (!kv) return null;
  try {
    return JSON.parse(text(kv.value)) as T;
  } catch {
    return null;
  }
}

/** Resolves with `p`, or rejects after `ms` (the call itself may still be under way). */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p,
    new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no answer from etcd within ${ms} ms`)), ms))),
  ]).finally(() => clearTimeout(timer));
}
