// What must hold in the store after any interleaving of requests; every concurrency test calls it.
// Counters are kept beside the rows they summarise (heads.used_*, storage_pools.used) so that
// placement is O(heads); they must always equal the sums over those rows. A soft-deleted VM keeps
// its head, cores and memory (it can be undeleted and powered on at once); only a purge frees them.
import assert from 'node:assert/strict';
import type { Store } from '../src/store/db.js';
import { LIMITS } from '../src/core/definitions.js';

export async function assertInvariants(db: Store, what = ''): Promise<void> {
  const at = what ? ` (${what})` : '';
  const heads = await db.selectFrom('heads').select(['id', 'label', 'cores', 'memory', 'cpu_overcommit', 'used_cores', 'used_memory']).execute();
  const vms = await db.selectFrom('vms').select(['id', 'head_id', 'cores', 'memory']).execute();
  for (const head of heads) {
    const mine = vms.filter((v) => v.head_id === head.id);
    const cores = mine.reduce((n, v) => n + v.cores, 0);
    const memory = mine.reduce((n, v) => n + v.memory, 0);
    assert.equal(head.used_cores, cores, `head ${head.label}: used_cores is the sum of its VMs' cores${at}`);
    assert.equal(head.used_memory, memory, `head ${head.label}: used_memory is the sum of its VMs' memory${at}`);
    assert.ok(head.used_cores >= 0 && head.used_memory >= 0, `head ${head.label}: no negative counter${at}`);
    assert.ok(head.used_cores <= head.cores * head.cpu_overcommit && head.used_memory <= head.memory, `head ${head.label}: not over-committed${at}`);
  }

  const pools = await db.selectFrom('storage_pools').select(['id', 'label', 'capacity', 'used']).execute();
  const discs = await db.selectFrom('discs').select(['id', 'vm_id', 'size', 'storage_pool_id']).execute();
  for (const pool of pools) {
    const sum = discs.filter((d) => d.storage_pool_id === pool.id).reduce((n, d) => n + d.size, 0);
    assert.equal(pool.used, sum, `pool ${pool.label}: used is the sum of its discs' sizes${at}`);
    assert.ok(pool.used >= 0 && pool.used <= pool.capacity, `pool ${pool.label}: 0 <= used <= capacity${at}`);
  }
  const vmIds = new Set(vms.map((v) => v.id));
  for (const d of discs) assert.ok(d.vm_id === null || vmIds.has(d.vm_id), `disc ${d.id} belongs to an existing VM (or to no VM: a volume)${at}`);
  for (const id of vmIds) assert.ok(discs.filter((d) => d.vm_id === id).length <= LIMITS.discsPerVm, `VM ${id}: at most ${LIMITS.discsPerVm} discs${at}`);

  const ips = await db.selectFrom('ips').leftJoin('nics', 'nics.id', 'ips.nic_id')
    .select(['ips.address', 'ips.nic_id', 'ips.routed_via', 'nics.id as nic', 'nics.vm_id']).execute();
  assert.equal(new Set(ips.map((i) => i.address)).size, ips.length, `every address is recorded once${at}`);
  for (const ip of ips) assert.ok(ip.nic_id === null || ip.nic !== null, `allocated ${ip.address} belongs to an existing NIC${at}`);
  const nics = await db.selectFrom('nics').select(['id', 'vm_id']).execute();
  for (const n of nics) assert.ok(vmIds.has(n.vm_id), `NIC ${n.id} belongs to an existing VM${at}`);
  for (const id of vmIds) {
    const extra = ips.filter((i) => i.vm_id === id && i.routed_via !== null).length;
    assert.ok(extra <= LIMITS.extraIpsPerVm, `VM ${id}: at most ${LIMITS.extraIpsPerVm} extra addresses, not ${extra}${at}`);
  }

  const purges = await db.selectFrom('operations').select(['vm_id']).where('kind', '=', 'purge').execute();
  const purged = purges.map((o) => o.vm_id);
  assert.equal(new Set(purged).size, purged.length, `one purge operation per VM${at}`);
  for (const id of purged) assert.ok(id !== null && !vmIds.has(id), `a purge operation only for a VM that is gone${at}`);
}

/** How many operations of a kind were queued (per VM when given), to match against the acts that succeeded. */
export async function countOperations(db: Store, kind: string, vmId?: number): Promise<number> {
  let q = db.selectFrom('operations').select((eb) => eb.fn.countAll<number>().as('n')).where('kind', '=', kind);
  if (vmId !== undefined) q = q.where('vm_id', '=', vmId);
  return Number((await q.executeTakeFirstOrThrow()).n);
}
