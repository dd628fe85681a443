// arms monitor suspend|resume, arms watch suspend|resume, arms alert test: maintenance and the
// alert routes, for an operator.
import { call, CommandError } from '../../client/client';
import { clientPipe } from '../../platform/home';

const EXIT_USAGE = 2;

export async function monitorSuspend(on: boolean, names: string[], opts: { all: boolean }): Promise<number> {
  if (opts.all && names.length > 0) throw new CommandError('name monitors or give --all, not both', EXIT_USAGE);
  if (!opts.all && names.length === 0) throw new CommandError(`name the monitors to ${on ? 'suspend' : 'resume'}, or give --all`, EXIT_USAGE);
  const r = (await call(clientPipe(), on ? 'monitor.suspend' : 'monitor.resume', { names, all: opts.all, by: `arms, pid ${process.pid}` })) as { changed: string[]; unchanged: string[] };
  const verb = on ? 'suspended' : 'resumed';
  if (r.changed.length + r.unchanged.length === 0) console.log('no monitor is known');
  for (const n of r.changed) console.log(`monitor ${n} ${verb}`);
  for (const n of r.unchanged) console.log(`monitor ${n} was already ${on ? 'suspended' : 'running'}`);
  return 0;
}

export async function watchSuspend(on: boolean, id: string): Promise<number> {
  const r = (await call(clientPipe(), on ? 'watch.suspend' : 'watch.resume', { id })) as { id: string; changed: boolean; state: string; pid: number | null };
  if (!r.changed) console.log(`watch ${r.id} was already ${on ? 'suspended' : 'running under its policy'}`);
  else if (on) console.log(`watch ${r.id} suspended: an end of its program is neither restarted nor counted until "arms watch resume ${r.id}"`);
  else console.log(`watch ${r.id} resumed (${r.state}${r.pid !== null ? `, pid ${r.pid}` : ''})`);
  return 0;
}

export async function alertTest(route: string | undefined): Promise<number> {
  const r = (await call(clientPipe(), 'alert.test', route === undefined ? {} : { route }, 0)) as { results: Array<{ route: string; ok: boolean; detail: string }> };
  for (const x of r.results) console.log(`${x.route}: ${x.ok ? 'delivered' : 'FAILED'}: ${x.detail}`);
  return r.results.every((x) => x.ok) ? 0 : 1;
}
