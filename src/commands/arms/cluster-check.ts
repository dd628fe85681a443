// arms check --cluster: this server's group definitions (as its arms.yaml says now) against the
// ones every other server of the cluster published in etcd (through this server's armsd: the etcd
// client never loads in a command).
import { call } from '../../client/client';
import { clientPipe } from '../../platform/home';
import { definitions, Definition, differences, hashOf } from '../../cluster/definitions';
import type { Config } from '../../service/config';

export async function checkCluster(c: Config, home: string): Promise<number> {
  if (!c.cluster) {
    console.log(`${c.file}: no cluster: section; there is nothing to compare`);
    return 1;
  }
  const mine = definitions(c.groups, home);
  const r = (await call(clientPipe(), 'cluster.configs', {}, 15_000)) as { configs: Record<string, { hash: string; groups: Record<string, Definition>; at: string }> };
  const me = c.server.toUpperCase();
  let differ = 0;
  for (const server of c.servers.map((s) => s.toUpperCase()).filter((s) => s !== me)) {
    const theirs = r.configs[server];
    if (!theirs) {
      console.log(`${server}: has not published its group definitions (it has never joined cluster ${c.cluster.name})`);
      differ++;
      continue;
    }
    if (theirs.hash === hashOf(mine)) {
      console.log(`${server}: same group definitions (hash ${theirs.hash}, published ${theirs.at})`);
      continue;
    }
    differ++;
    const lines = differences(mine, theirs.groups, server);
    console.log(`${server}: ${lines.length} difference(s) (published ${theirs.at}):`);
    for (const l of lines) console.log(`  ${l}`);
  }
  return differ > 0 ? 1 : 0;
}
