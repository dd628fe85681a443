// The group definitions every server of a cluster must share, in a form that compares across
// servers (folders relative to the home, the scripts by their content), and their differences.
// Light: `arms check --cluster` uses it without any etcd client.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { GroupConfig } from '../service/group-config';

export type Definition = Record<string, unknown>;

function digest(file: string): string {
  try {
    return createHash('sha256').update(fs.readFileSync(file)).digest('hex').slice(0, 16);
  } catch (e) {
    return `unreadable (${(e as NodeJS.ErrnoException).code ?? 'error'})`;
  }
}

export function definitions(groups: GroupConfig[], home: string): Record<string, Definition> {
  const out: Record<string, Definition> = {};
  for (const g of [...groups].sort((a, b) => a.name.localeCompare(b.name))) {
    out[g.name.toUpperCase()] = {
      policy: g.policy.map((s) => s.toUpperCase()),
      dir: path.relative(home, g.dir).split(path.sep).join('/'),
      start: `${path.basename(g.start)} sha256:${digest(g.start)}`,
      stop: `${path.basename(g.stop)} sha256:${digest(g.stop)}`,
      autostart: g.autostart,
      failback: g.failback,
      timeouts: `${g.timeouts.start}s/${g.timeouts.stop}s`,
      disks: g.disks.map((d) => [d.path, d.activate ?? '', d.deactivate ?? ''].join(' | ')),
      addresses: g.addresses,
      nics: g.nics,
      maxFailovers: g.maxFailovers,
      failoverWindow: g.failoverWindow,
      maxStartRetries: g.maxStartRetries,
      finalAction: g.finalAction,
    };
  }
  return out;
}

export function hashOf(defs: Record<string, Definition>): string {
  return createHash('sha256').update(JSON.stringify(defs)).digest('hex').slice(0, 16);
}

/** One line per difference between this server's definitions and another's. */
export function differences(mine: Record<string, Definition>, theirs: Record<string, Definition>, other: string): string[] {
  const out: string[] = [];
  for (const name of new Set([...Object.keys(mine), ...Object.keys(theirs)])) {
    const a = mine[name];
    const b = theirs[name];
    if (!a) out.push(`group ${name}: defined on ${other}, not here`);
    else if (!b) out.push(`group ${name}: defined here, not on ${other}`);
    else
      for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
        const x = JSON.stringify(a[k]);
        const y = JSON.stringify(b[k]);
        if (x !== y) out.push(`group ${name}.${k}: here ${x ?? 'unset'}, on ${other} ${y ?? 'unset'}`);
      }
  }
  return out;
}
