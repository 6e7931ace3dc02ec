// Firewall rules (docs/domain.md §18) through core alone: ordered rules per NIC, validation of every
// field at once, filters, the default policy, privileges and visibility. Desired state only: no head
// applies them yet, so every rule stays `pending`. SQLite always; PostgreSQL too when
// HANGAR_TEST_DATABASE_URL is set.
import { test } from 'node:test';
import { storesFor, withCore, type CoreFx } from './fixture.js';
import assert from 'node:assert/strict';
import type { Principal } from '../../src/core/principal.js';
import { createVm } from '../../src/core/vms/create.js';
import { DomainError, isCode } from '../../src/core/errors.js';
import type { VmPlace } from '../../src/core/resolve.js';
import { checkRule, createFirewallRule, deleteFirewallRule, firewallOf, setDefaultFirewallPolicy, updateFirewallRule } from '../../src/core/firewall.js';

const STORES = storesFor('firewall');

type Fx = CoreFx;

async function makeVm(fx: Fx, name: string): Promise<{ at: VmPlace; nic: string }> {
  const h = fx.t.running.hangar;
  const made = await createVm(h, fx.admin, fx.account, fx.group, {
    name, cores: 1, memoryMiB: 1024, powerOn: false, discs: [{ label: 'disc-1', grade: 'sata', sizeMiB: 1024 }],
  }, 'bigv');
  const vm = await h.db.selectFrom('vms').selectAll().where('id', '=', made.view.row.id).executeTakeFirstOrThrow();
  const nic = await h.db.selectFrom('nics').select('id').where('vm_id', '=', vm.id).executeTakeFirstOrThrow();
  return { at: { vm, group: fx.group, account: fx.account }, nic: String(nic.id) };
}

const issuesOf = (e: unknown) => (e as DomainError).issues.map((i) => [i.field, i.code, i.params?.reason ?? null]);

for (const store of STORES) {
  test(`rules keep their order: appended, inserted at a position, moved and deleted without gaps (${store.name})`, async () => {
    await withCore(store.postgres, async (fx) => {
      const h = fx.t.running.hangar;
      const { at, nic } = await makeVm(fx, 'web1');
      const ssh = await createFirewallRule(h, fx.admin, at, nic, { command: 'accept', protocol: 'tcp', port: '22' });
      const web = await createFirewallRule(h, fx.admin, at, nic, { command: 'accept', protocol: 'TCP', port: '80, 443, 8000:8080' });
      const drop = await createFirewallRule(h, fx.admin, at, nic, { command: 'drop', address: '10.0.0.0/8', position: 1 });
      assert.deepEqual([drop.position, drop.state, drop.version, web.port, web.protocol], [1, 'pending', 1, '80,443,8000:8080', 'tcp']);
      const order = async () => (await firewallOf(h, fx.admin, at))[0]!.rules.map((r) => [r.id, r.position]);
      assert.deepEqual(await order(), [[drop.id, 1], [ssh.id, 2], [web.id, 3]]);
      const moved = await updateFirewallRule(h, fx.admin, at, drop.uuid, { command: 'drop', address: '10.0.0.0/8', position: 3 });
      assert.deepEqual([moved.position, moved.version], [3, 2]);
      assert.deepEqual(await order(), [[ssh.id, 1], [web.id, 2], [drop.id, 3]]);
      await updateFirewallRule(h, fx.admin, at, String(drop.id), { command: 'drop', address: '10.0.0.0/8', position: 1 });
      assert.deepEqual(await order(), [[drop.id, 1], [ssh.id, 2], [web.id, 3]]);
      await deleteFirewallRule(h, fx.admin, at, String(ssh.id));
      assert.deepEqual(await order(), [[drop.id, 1], [web.id, 2]]);
      await assert.rejects(createFirewallRule(h, fx.admin, at, nic, { command: 'drop', position: 4 }),
        (e) => isCode(e, 'out_of_range') && e.field === 'position' && e.params.max === 3);
      await assert.rejects(deleteFirewallRule(h, fx.admin, at, String(ssh.id)), (e) => isCode(e, 'not_found'));
    });
  });

  test(`a rule's fields are checked together: command, protocol, address forms, ports and a port without a protocol (${store.name})`, () => {
    const refusal = (input: Parameters<typeof checkRule>[0]) => {
      try {
        checkRule(input);
      } catch (e) {
        return issuesOf(e);
      }
      return [];
    };
    assert.deepEqual(refusal({ command: 'reject', protocol: 'icmp', address: '10.0.0.1/8', port: '0' }), [
      ['command', 'not_in_list', null], ['protocol', 'not_in_list', null], ['address', 'invalid', 'host_bits_set'], ['port', 'out_of_range', null],
    ]);
    assert.deepEqual(refusal({ command: '' }), [['command', 'required', null]]);
    assert.deepEqual(refusal({ command: 'accept', port: '22' }), [['port', 'invalid', 'needs_protocol']]);
    assert.deepEqual(refusal({ command: 'accept', protocol: 'udp', port: '60:50' }), [['port', 'invalid', 'range_reversed']]);
    assert.deepEqual(refusal({ command: 'accept', protocol: 'udp', port: 'ssh' }), [['port', 'invalid', 'not_a_port']]);
    assert.deepEqual(refusal({ command: 'accept', protocol: 'udp', port: Array(16).fill('1').join(',') }), [['port', 'too_many', null]]);
    assert.deepEqual(refusal({ command: 'accept', address: '10.0.0.9-10.0.0.1' }), [['address', 'invalid', 'range_reversed']]);
    assert.deepEqual(refusal({ command: 'accept', address: '10.0.0.1-::1' }), [['address', 'invalid', 'mixed_families']]);
    assert.deepEqual(refusal({ command: 'accept', address: 'example.com' }), [['address', 'invalid', 'not_an_address']]);
    assert.deepEqual(checkRule({ command: 'drop', address: '2001:DB8::/32', protocol: '', port: ' ' }),
      { command: 'drop', protocol: null, address: '2001:db8::/32', port: null });
    assert.deepEqual(checkRule({ command: 'accept', address: '192.0.2.1-192.0.2.9', protocol: 'udp', port: '53' }),
      { command: 'accept', protocol: 'udp', address: '192.0.2.1-192.0.2.9', port: '53' });
  });

  test(`the list filters by command, port and address; the default policy is accept until set (${store.name})`, async () => {
    await withCore(store.postgres, async (fx) => {
      const h = fx.t.running.hangar;
      const { at, nic } = await makeVm(fx, 'web1');
      await createFirewallRule(h, fx.admin, at, nic, { command: 'accept', protocol: 'tcp', port: '22', address: '192.0.2.0/24' });
      await createFirewallRule(h, fx.admin, at, nic, { command: 'drop', protocol: 'tcp', port: '22' });
      const ports = async (filter: Parameters<typeof firewallOf>[3]) => (await firewallOf(h, fx.admin, at, filter))[0]!.rules.map((r) => r.command);
      assert.deepEqual(await ports({ command: 'drop' }), ['drop']);
      assert.deepEqual(await ports({ port: '22' }), ['accept', 'drop']);
      assert.deepEqual(await ports({ address: '192.0.2.0/24' }), ['accept']);
      assert.equal((await firewallOf(h, fx.admin, at))[0]!.defaultPolicy, 'accept');
      await setDefaultFirewallPolicy(h, fx.admin, at, nic, 'drop');
      assert.equal((await firewallOf(h, fx.admin, at))[0]!.defaultPolicy, 'drop');
      await assert.rejects(setDefaultFirewallPolicy(h, fx.admin, at, nic, 'reject'), (e) => isCode(e, 'not_in_list'));
      assert.deepEqual(await firewallOf(h, fx.admin, at, { nic: '999999' }), []);
    });
  });

  test(`only a vm_admin changes rules, a vm_console reads them, a stranger sees no VM, and another VM's rule or NIC names nothing here (${store.name})`, async () => {
    await withCore(store.postgres, async (fx) => {
      const h = fx.t.running.hangar;
      const { at, nic } = await makeVm(fx, 'web1');
      const other = await makeVm(fx, 'web2');
      const theirs = await createFirewallRule(h, fx.admin, other.at, other.nic, { command: 'drop' });
      const as = (level: 'vm_admin' | 'vm_console' | null): Principal => ({
        userId: fx.admin.userId, username: 'someone', factors: ['password'], apiKeyId: null,
        grants: level ? [{ id: 1, level, accountId: at.account.id, groupId: at.group.id, vmId: at.vm.id }] : [],
      });
      const mine = await createFirewallRule(h, as('vm_admin'), at, nic, { command: 'accept' });
      assert.equal((await firewallOf(h, as('vm_console'), at))[0]!.rules.length, 1);
      await assert.rejects(createFirewallRule(h, as('vm_console'), at, nic, { command: 'accept' }), (e) => isCode(e, 'forbidden'));
      await assert.rejects(deleteFirewallRule(h, as('vm_console'), at, mine.uuid), (e) => isCode(e, 'forbidden'));
      await assert.rejects(setDefaultFirewallPolicy(h, as('vm_console'), at, nic, 'drop'), (e) => isCode(e, 'forbidden'));
      await assert.rejects(firewallOf(h, as(null), at), (e) => isCode(e, 'not_found'));
      await assert.rejects(createFirewallRule(h, as(null), at, nic, { command: 'accept' }), (e) => isCode(e, 'not_found'));
      for (const seg of [String(theirs.id), theirs.uuid]) {
        await assert.rejects(deleteFirewallRule(h, fx.admin, at, seg), (e) => isCode(e, 'not_found') && e.params.entity === 'firewall_rule');
      }
      await assert.rejects(createFirewallRule(h, fx.admin, at, other.nic, { command: 'accept' }), (e) => isCode(e, 'not_found') && e.params.entity === 'network_interface');
      await h.db.updateTable('vms').set({ deleted: 1 }).where('id', '=', at.vm.id).execute();
      await assert.rejects(createFirewallRule(h, fx.admin, at, nic, { command: 'accept' }), (e) => isCode(e, 'state'));
    });
  });
}
