// The last step of the recovery ladder: the server itself (ARMDOWN, a watch's /SHUT). Groups are
// stopped first (SERVERSHUTDOWN), then the power command runs. Shutdowns asked for by monitoring
// are counted in the persisted state and stop at maxReboots until an operator clears the count, so
// a broken application cannot reboot a server forever.
import { PowerAction } from '../platform/power';
import { shellCommand } from '../platform/script-command';
import { Groups, Outcome } from './groups';
import { Logs } from './log';
import { describeResult, runScript, succeeded } from './scripts';
import { State } from './state';

export interface Power {
  /** resolves once the groups are stopped and the power command has run */
  down(action: PowerAction, opts: { stopGroups: boolean; cause: string; byMonitoring: boolean }): Promise<{ ok: boolean; message: string }>;
  clearReboots(): number;
  status(): { reboots: number; maxReboots: number };
}

export function openPower(ctx: {
  state: State;
  logs: Logs;
  groups: () => Groups;
  commands: () => Record<PowerAction, string>;
  maxReboots: () => number;
  /** how the groups stop before the power command (a cluster hands them over): stopAll by default */
  stopGroups?: () => Promise<Outcome[]>;
}): Power {
  let going: Promise<{ ok: boolean; message: string }> | null = null;
  return {
    down(action, opts) {
      if (opts.byMonitoring) {
        if (ctx.state.data.reboots >= ctx.maxReboots()) {
          const message = `server ${action} refused: the reboot limit is reached (${ctx.state.data.reboots} of ${ctx.maxReboots()}, cleared by "arms clear reboots"); ${opts.cause}`;
          ctx.logs.alert('ERR', { src: 'armsd' }, message);
          return Promise.resolve({ ok: false, message });
        }
        ctx.state.data.reboots++;
        try {
          ctx.state.save();
        } catch (e) {
          ctx.logs.alert('ERR', { src: 'armsd' }, `cannot save the reboot count: ${(e as Error).message}`);
        }
      }
      // One power action at a time: a second request while one is under way joins it.
      if (going) return going;
      going = (async () => {
        ctx.logs.alert('WARN', { src: 'armsd', event: action, action }, `server ${action}: ${opts.cause}${opts.stopGroups ? '' : ' (groups not stopped: /NOSTOP)'}`);
        if (opts.stopGroups) {
          const stopped = await (ctx.stopGroups ?? (() => ctx.groups().stopAll('SERVERSHUTDOWN')))();
          for (const o of stopped.filter((x) => !x.ok)) ctx.logs.alert('ERR', { src: 'armsd' }, `before the ${action}: ${o.message}`);
        }
        const line = ctx.commands()[action];
        const r = await runScript(shellCommand(line), {
          cwd: process.cwd(),
          env: process.env,
          timeoutMs: 120_000,
          onLine: (_, l) => ctx.logs.write('INFO', { src: 'power', action }, l),
        });
        const message = `power command "${line}" ${describeResult(r, 120)}`;
        ctx.logs.write(succeeded(r) ? 'INFO' : 'ERR', { src: 'armsd', action }, message);
        going = null;
        return { ok: succeeded(r), message };
      })();
      return going;
    },
    clearReboots() {
      const was = ctx.state.data.reboots;
      ctx.state.data.reboots = 0;
      ctx.state.save();
      ctx.logs.write('INFO', { src: 'armsd' }, `reboot count cleared (was ${was})`);
      return was;
    },
    status: () => ({ reboots: ctx.state.data.reboots, maxReboots: ctx.maxReboots() }),
  };
}
