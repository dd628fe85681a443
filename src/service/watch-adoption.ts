// After the service itself ended abnormally: the watches take back their programs. Only a process
// whose identity is proved is taken back (the very PID with its start time and boot, or a restart
// the crashed service made but had not yet written down: marked with this watch and a later run
// number than the saved one, so a program's own child carrying the watch's marks never passes for
// it); everything else is restarted or stopped by its policy, never started twice.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { groupLeaders, ProcessIdentity } from '../platform/process';
import { stopTree } from '../platform/tree';
import { decide } from './restart-policy';
import { adoptedProcess } from './targets';
import type { SavedWatch, Watch, WatchCore, WatchRequest } from './watches';

const envValue = (env: string[], name: string) => env.find((e) => e.startsWith(`${name}=`))?.slice(name.length + 1);

/**
 * Linux: the program a crashed service started for this watch after the run it wrote down: a
 * process-group leader with the watch's marks and a run number above `savedRun`. The latest run
 * wins; within it, the first started (its own setsid children start after it).
 */
function unwrittenRestart(core: WatchCore, w: Watch, savedRun: number): ProcessIdentity | null {
  const marks = core.marks(w);
  const found = groupLeaders((env) => marks.every((m) => env.includes(m)) && Number(envValue(env, 'ARMS_WATCH_RUN') ?? 0) > savedRun)
    .map((p) => ({ identity: p.identity, run: Number(envValue(p.env, 'ARMS_WATCH_RUN')) }))
    .sort((a, b) => b.run - a.run || (a.identity.start ?? 0) - (b.identity.start ?? 0));
  if (found.length === 0) return null;
  w.run = found[0].run;
  return found[0].identity;
}

export function adoptWatches(core: WatchCore, saved: SavedWatch[]): { adopted: string[]; gone: string[] } {
  const { ctx, watches } = core;
  const adopted: string[] = [];
  const gone: string[] = [];
  for (const s of saved) {
    const key = s.req.id.toUpperCase();
    if (watches.has(key)) continue;
    const w = core.make(s.req, {
      state: s.state,
      since: s.since,
      startedAt: s.startedAt,
      counters: s.counters,
      lastExit: s.lastExit,
      escalation: s.escalation,
      run: s.run ?? 0,
      sessions: s.sessions ?? (s.identity ? [s.identity] : []),
      suspended: s.suspended === true,
      held: s.held === true,
      orphan: s.orphan ?? null,
    });
    watches.set(key, w);
    if (s.state !== 'running') continue; // ended, exhausted, escalated, failed: kept as they were
    let running = w.target.adopt({ pid: s.pid, identity: s.identity }, s.req.intervalMs);
    if (!running && !s.req.service) {
      const later = unwrittenRestart(core, w, s.run ?? 0);
      if (later) {
        running = adoptedProcess(later, s.req.intervalMs);
        if (running) {
          // A restart the crashed service made just before its end, not yet written down: count it.
          const d = decide(s.req.policy, s.counters, ctx.clock.now());
          if (d.action === 'restart') w.counters = d.counters;
          w.startedAt = ctx.clock.now();
          w.sessions.push(later);
        }
      }
    }
    if (running) {
      core.follow(w, running);
      adopted.push(s.req.id);
      ctx.logs.write('INFO', core.fields(w, { pid: running.pid }), `watch ${s.req.id} taken back after the service's restart${running.pid === null ? '' : ` (pid ${running.pid})`}`);
    } else {
      gone.push(s.req.id);
      ctx.logs.alert('WARN', core.fields(w, { pid: s.pid }), `watch ${s.req.id}: its program ended while the service was down`);
      if (s.req.wait) core.remove(w);
      else if (w.suspended) core.hold(w, 'ended while the service was down');
      else core.react(w, null, null, ctx.clock.now() - s.startedAt);
    }
  }
  return { adopted, gone };
}

/** The programs marked as started for a watch of this home, as group leaders. */
function marked(core: WatchCore) {
  const logMark = `ARMS_WATCH_LOG=${core.ctx.logDir}${path.sep}`;
  return groupLeaders((env) => env.some((e) => e.startsWith(logMark)) && !core.watches.has((envValue(env, 'ARMS_WATCH_ID') ?? '').toUpperCase()));
}

export async function sweepStrays(core: WatchCore, graceMs: number): Promise<Array<{ id: string; pid: number; command: string }>> {
  // A known ID is left alone, even with another PID: a program the watched one started in a
  // session of its own carries the same marks.
  const strays = marked(core);
  await Promise.all(strays.map((p) => stopTree(p.identity.pid, graceMs)));
  return strays.map((p) => {
    const id = envValue(p.env, 'ARMS_WATCH_ID') ?? '';
    core.ctx.logs.alert('WARN', { src: 'watch', watch: id, pid: p.identity.pid }, `program ${p.identity.pid} (${p.cmdline}) was started for watch ${id} just before the service ended, which never wrote it down (its ARMLOAD got no answer): stopped`);
    return { id, pid: p.identity.pid, command: p.cmdline };
  });
}

export function adoptOrphans(core: WatchCore): string[] {
  const { ctx, watches } = core;
  // The first run of each ID (its own setsid children carry the same marks and start later).
  const found = marked(core).sort((a, b) => Number(envValue(a.env, 'ARMS_WATCH_RUN') ?? 0) - Number(envValue(b.env, 'ARMS_WATCH_RUN') ?? 0) || (a.identity.start ?? 0) - (b.identity.start ?? 0));
  const ids: string[] = [];
  for (const p of found) {
    const id = envValue(p.env, 'ARMS_WATCH_ID') ?? '';
    if (!id || watches.has(id.toUpperCase())) continue;
    const running = adoptedProcess(p.identity, 5000);
    if (!running) continue;
    const env: Record<string, string> = {};
    for (const e of p.env) {
      const eq = e.indexOf('=');
      if (eq > 0 && !e.startsWith('ARMS_WATCH_')) env[e.slice(0, eq)] = e.slice(eq + 1);
    }
    const [file, ...args] = readArgv(p.identity.pid);
    const req: WatchRequest = {
      id,
      group: env.ARMS_GROUPNAME ?? null,
      file: file ?? p.cmdline,
      args,
      cwd: readCwd(p.identity.pid),
      env,
      wait: false,
      policy: { restarts: 0, windowMs: null, monitorOnly: false, final: null },
      scriptRestart: false,
      graceMs: 0,
      intervalMs: 5000,
    };
    const w = core.make(req, { orphan: { cmdline: p.cmdline }, run: Number(envValue(p.env, 'ARMS_WATCH_RUN') ?? 0), sessions: [p.identity] });
    watches.set(w.key, w);
    core.follow(w, running);
    ids.push(id);
    ctx.logs.alert('WARN', core.fields(w, { pid: p.identity.pid }), `watch ${id}: program ${p.identity.pid} (${p.cmdline}) still runs from before the state was lost; taken back without restarts until an ARMLOAD ${id} takes it over (ARMKILL ${id} stops it)`);
  }
  return ids;
}

function readArgv(pid: number): string[] {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    return [];
  }
}

function readCwd(pid: number): string {
  try {
    return fs.readlinkSync(`/proc/${pid}/cwd`);
  } catch {
    return '/';
  }
}
