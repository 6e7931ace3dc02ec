// The read model alone, in process, no HTTP: the time of core's loadVmView (one VM, what an
// authenticated GET of one VM reads) and of loadVmViews over one 1,000-VM group (the group
// `?view=overview`), on SQLite. A profile of the API hot path without autocannon's noise, for
// comparing two builds of the store layer on a shared machine; prints only.
//
//   npm run bench:views [-- --smoke]
import { fillStore } from './fixture.js';
import { fmt, log, machine, machineLine, median, SMOKE, startInProcess } from './lib.js';
import { loadVmView, loadVmViews } from '../src/core/views.js';

const cfg = SMOKE ? { vms: 100, rounds: 2, one: 200, list: 5 } : { vms: 1000, rounds: 7, one: 3000, list: 60 };

async function main(): Promise<void> {
  log(`# bench:views${SMOKE ? ' (smoke)' : ''} — ${machineLine(machine())}`);
  const h = await startInProcess('views');
  try {
    fillStore(h.dbFile, { account: 'x', groups: 1, perGroup: cfg.vms });
    const db = h.running.hangar.db;
    const domain = h.running.hangar.config.clusterDomain;
    const group = await db.selectFrom('groups').select('id').where('name', '=', 'g0').executeTakeFirstOrThrow();
    const vm = await db.selectFrom('vms').select('id').where('group_id', '=', group.id).where('name', '=', `vm${cfg.vms / 2}`).executeTakeFirstOrThrow();
    const listed = await loadVmViews(db, domain, { kind: 'groups', groupIds: [group.id] }, { includeDeleted: false, children: true });
    if (listed.length !== cfg.vms || listed.some((v) => v.nics.length !== 1 || v.nics[0]!.ips.length !== 2)) throw new Error('the view does not hold the fixture');
    const time = async (n: number, fn: () => Promise<unknown>) => {
      const t0 = performance.now();
      for (let i = 0; i < n; i++) await fn();
      return ((performance.now() - t0) / n) * 1000;
    };
    const one: number[] = [];
    const list: number[] = [];
    for (let r = 0; r < cfg.rounds; r++) {
      one.push(await time(cfg.one, () => loadVmView(db, domain, vm.id)));
      list.push(await time(cfg.list, () => loadVmViews(db, domain, { kind: 'groups', groupIds: [group.id] }, { includeDeleted: false, children: true })));
      log(`  round ${r + 1}: one VM ${fmt(one.at(-1)!)} µs, ${cfg.vms}-VM group ${fmt(list.at(-1)! / 1000)} ms`);
    }
    log(`median of ${cfg.rounds} rounds: loadVmView ${fmt(median(one))} µs; loadVmViews of ${cfg.vms} VMs ${fmt(median(list) / 1000)} ms`);
  } finally {
    await h.close();
  }
}

await main();
