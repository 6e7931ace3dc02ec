// For QEMU tests that run a whole brain with a QEMU head (through the core fixture).
import { powerVm } from '../../src/core/vms/power.js';
import type { CoreFx } from '../core/fixture.js';

/** Power a VM of the fixture's group off through core (else a resync boots it again) and wait for its
 *  head; then make sure its QEMU is gone: the fixture's close leaves guests running for a next agent. */
export async function offForGood(fx: CoreFx, vmId: number, driver: { stop(vmId: number): Promise<void> }): Promise<void> {
  const h = fx.t.running.hangar;
  const vm = await h.db.selectFrom('vms').selectAll().where('id', '=', vmId).executeTakeFirstOrThrow();
  await powerVm(h, fx.admin, { vm, group: fx.group, account: fx.account }, { intent: 'stop' }).catch(() => undefined);
  if (vm.head_id !== null) await h.heads.kick(vm.head_id, vm.id);
  await driver.stop(vm.id).catch(() => undefined);
}
