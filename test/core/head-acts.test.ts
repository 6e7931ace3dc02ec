// The neutral core functions behind Gigas' remote_console, apply_firewall_rules and reset_password
// (core/console.ts, core/firewall-apply.ts, core/passwords.ts), through the embedded head and the
// fake driver: what reaches the head, what comes back, what is refused. The physical acts are proven
// on a real guest in test/qemu/head-acts.test.ts. SQLite, and PostgreSQL when configured.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { verify as cryptVerify } from 'unixcrypt';
import { isDeepStrictEqual } from 'node:util';
import { until } from '../helpers.js';
import { placeOf, storesFor, withCore, type CoreFx } from './fixture.js';
import { createVm } from '../../src/core/vms/create.js';
import { powerVm } from '../../src/core/vms/power.js';
import { createFirewallRule, firewallOf, setDefaultFirewallPolicy, updateFirewallRule } from '../../src/core/firewall.js';
import { applyFirewallRules } from '../../src/core/firewall-apply.js';
import { consoleHost, openRemoteConsole } from '../../src/core/console.js';
import { resetRootPassword } from '../../src/core/passwords.js';
import { applyVmLimits } from '../../src/core/limits.js';
import { DomainError } from '../../src/core/errors.js';
import type { VmPlace } from '../../src/core/resolve.js';
import type { Principal } from '../../src/core/principal.js';

const STORES = storesFor('head acts');
// Acts are read back once the kick returns: on a loaded machine (CI runs QEMU tests beside these)
// the fake head may take longer than the tests' usual 2 s wait.
const withHead = (postgres: boolean, fn: (fx: CoreFx) => Promise<void>, opts: Parameters<typeof withCore>[2] = {}) =>
  withCore(postgres, fn, { ...opts, config: { headWaitMs: 15_000, ...opts.config } });

async function makeVm(fx: CoreFx, name: string, powerOn: boolean): Promise<VmPlace> {
  const h = fx.t.running.hangar;
  const made = await createVm(h, fx.admin, fx.account, fx.group, {
    name, cores: 1, memoryMiB: 1024, powerOn, discs: [{ label: 'disc-1', grade: 'sata', sizeMiB: 2048 }],
    image: { distribution: 'tiny', rootPassword: 'first-pass1' },
  }, 'bigv');
  // The create's kick is not awaited: wait for the machine the way a caller would see it, running.
  if (powerOn) {
    await until('the machine running', async () => (await placeOf(fx, made.view.row.id)).vm.run_state === 'running', 20_000);
  }
  return placeOf(fx, made.view.row.id);
}

async function refusal(p: Promise<unknown>): Promise<[string, unknown]> {
  try {
    await p;
  } catch (err) {
    if (err instanceof DomainError) return [err.code, err.issues[0]!.params?.reason ?? err.issues[0]!.params?.entity];
    throw err;
  }
  assert.fail('it was not refused');
}

/** A user of the account with only console rights on nothing: a stranger to the VM. */
const stranger = (fx: CoreFx): Principal => ({ userId: fx.admin.userId + 1000, username: 'stranger', factors: ['password'], apiKeyId: null, grants: [] });

for (const store of STORES) {
  test(`remote console: the head sets an expiring password; host, port and password come back (${store.name})`, async () => {
    await withHead(store.postgres, async (fx) => {
      const h = fx.t.running.hangar;
      const driver = fx.t.drivers[0]!;
      const at = await makeVm(fx, 'con1', true);
      const before = h.now();
      const c = await openRemoteConsole(h, fx.admin, at, { ttlMs: 60_000 });
      assert.match(c.password, /^[A-Za-z0-9]{8}$/);
      assert.equal(c.port, 5900 + at.vm.id);
      assert.equal(c.host, '127.0.0.1', 'the head registered 127.0.0.1 as its management address');
      assert.ok(c.expiresAt >= before + 60_000 && c.expiresAt <= h.now() + 60_000);
      assert.deepEqual(driver.consoles.get(at.vm.id), { password: c.password, expiresAt: c.expiresAt });
      const op = await h.db.selectFrom('operations').selectAll().where('uuid', '=', c.operation).executeTakeFirstOrThrow();
      assert.equal(op.kind, 'console.open');
      assert.ok(!op.args.includes(c.password), 'the password is not left in the operation');
      const again = await openRemoteConsole(h, fx.admin, at);
      assert.notEqual(again.password, c.password, 'a new password each time');

      const off = await makeVm(fx, 'con2', false);
      assert.deepEqual(await refusal(openRemoteConsole(h, fx.admin, off)), ['state', 'vm_not_powered_on']);
      assert.deepEqual(await refusal(openRemoteConsole(h, fx.admin, at, { ttlMs: 10 })), ['out_of_range', undefined]);
      assert.deepEqual(await refusal(openRemoteConsole(h, stranger(fx), at)), ['not_found', 'virtual_machine']);
    });
  });

  test(`firewall apply: the rules as they stand reach the head; user-mode networking says it cannot enforce (${store.name})`, async () => {
    await withHead(store.postgres, async (fx) => {
      const h = fx.t.running.hangar;
      const driver = fx.t.drivers[0]!;
      const at = await makeVm(fx, 'fw1', true);
      const nic = await h.db.selectFrom('nics').select(['id', 'uuid']).where('vm_id', '=', at.vm.id).executeTakeFirstOrThrow();
      await createFirewallRule(h, fx.admin, at, nic.uuid, { command: 'drop', protocol: 'tcp', address: '10.0.0.0/8', port: '22' });
      await createFirewallRule(h, fx.admin, at, nic.uuid, { command: 'accept', protocol: 'udp', port: '53' });
      await setDefaultFirewallPolicy(h, fx.admin, at, nic.uuid, 'drop');
      const r = await applyFirewallRules(h, fx.admin, at);
      assert.equal(r.state, 'done');
      assert.equal(r.enforced, false, 'the embedded test head runs user-mode networking: no tap to filter');
      assert.equal(driver.firewalls.get(at.vm.id), undefined, 'nothing pretended on the head');
      assert.deepEqual((await firewallOf(h, fx.admin, at))[0]!.rules.map((x) => x.state), ['pending', 'pending'], 'not applied: not enforced');
      assert.deepEqual(await refusal(applyFirewallRules(h, stranger(fx), at)), ['not_found', 'virtual_machine']);
    });
  });

  test(`firewall apply on a bridged head: enforced, and a start carries the rules (${store.name})`, async () => {
    await withHead(store.postgres, async (fx) => {
      const h = fx.t.running.hangar;
      const driver = fx.t.drivers[0]!;
      const at = await makeVm(fx, 'fw2', true);
      const nic = await h.db.selectFrom('nics').select(['id', 'uuid']).where('vm_id', '=', at.vm.id).executeTakeFirstOrThrow();
      await createFirewallRule(h, fx.admin, at, nic.uuid, { command: 'accept', protocol: 'tcp', address: '192.0.2.0/24', port: '22,80:90' });
      await setDefaultFirewallPolicy(h, fx.admin, at, nic.uuid, 'drop');
      const want = [{ nicId: nic.id, defaultPolicy: 'drop', rules: [{ command: 'accept', protocol: 'tcp', address: '192.0.2.0/24', port: '22,80:90' }] }];
      const r = await applyFirewallRules(h, fx.admin, at);
      assert.equal(r.enforced, true);
      assert.deepEqual(driver.firewalls.get(at.vm.id), want);
      const [applied] = (await firewallOf(h, fx.admin, at))[0]!.rules;
      assert.equal(applied!.state, 'applied');
      const changed = await updateFirewallRule(h, fx.admin, at, applied!.uuid, { command: 'accept', protocol: 'tcp', address: '192.0.2.0/24', port: '22,80:90' });
      assert.equal(changed.state, 'pending', 'a change waits for the next apply');
      await applyFirewallRules(h, fx.admin, at);
      driver.firewalls.clear();
      await powerVm(h, fx.admin, await placeOf(fx, at.vm.id), { intent: 'cycle' }, 'bigv');
      await h.heads.kick(at.vm.head_id!, at.vm.id); // powerVm does not wait for its head
      await until('the new boot got the rules with its desired state', async () => isDeepStrictEqual(driver.firewalls.get(at.vm.id), want), 20_000);
    }, { heads: [{ label: 'head1', zone: 'default', network: { mode: 'bridge', bridge: 'br0' } }] });
  });

  test(`reset password: the new hash goes to the head's first-boot configuration (${store.name})`, async () => {
    await withHead(store.postgres, async (fx) => {
      const h = fx.t.running.hangar;
      const driver = fx.t.drivers[0]!;
      const at = await makeVm(fx, 'pw1', true);
      const disc = await h.db.selectFrom('discs').select('id').where('vm_id', '=', at.vm.id).executeTakeFirstOrThrow();
      const r = await resetRootPassword(h, fx.admin, at, { password: 'Second_pass2', timeoutMs: 1000 });
      assert.equal(r.state, 'done', String(r.error));
      assert.equal(r.password, 'Second_pass2');
      const hash = driver.images.get(disc.id)?.firstBoot.rootPasswordHash ?? '';
      assert.ok(cryptVerify('Second_pass2', hash), 'the head holds the new password\'s hash');
      assert.ok(!cryptVerify('first-pass1', hash));
      const random = await resetRootPassword(h, fx.admin, at);
      assert.match(random.password, /^[A-Za-z0-9]{16}$/);
      assert.ok(cryptVerify(random.password, driver.images.get(disc.id)?.firstBoot.rootPasswordHash ?? ''));
      assert.deepEqual(await refusal(resetRootPassword(h, fx.admin, at, { password: 'a b' })), ['invalid', 'not_a_password']);
      assert.deepEqual(await refusal(resetRootPassword(h, stranger(fx), at)), ['not_found', 'virtual_machine']);
    });
  });
}

test('the console host: the head\'s console address, or its management address when VNC listens everywhere', () => {
  assert.equal(consoleHost({ management: 'head1.example', console: '203.0.113.5' }), '203.0.113.5');
  assert.equal(consoleHost({ management: 'head1.example', console: '0.0.0.0' }), 'head1.example');
  assert.equal(consoleHost({ management: 'head1.example', console: null }), 'head1.example');
});

for (const store of STORES) {
  test(`limits: the head gets the CPU weight and rate limits, and says what it enforces (${store.name})`, async () => {
    await withHead(store.postgres, async (fx) => {
      const h = fx.t.running.hangar;
      const driver = fx.t.drivers[0]!;
      const at = await makeVm(fx, 'lim1', true);
      const nic = await h.db.selectFrom('nics').select('id').where('vm_id', '=', at.vm.id).executeTakeFirstOrThrow();
      const r = await applyVmLimits(h, fx.admin, at, { cpuWeight: 200, nics: [{ nicId: nic.id, rateLimitMbps: 50 }] });
      assert.equal(r.state, 'done');
      assert.deepEqual(r.enforced, { cpuWeight: true, rateLimit: false }, 'user-mode networking: the rate limit is stored only');
      assert.deepEqual(driver.limits.get(at.vm.id), { cpuWeight: 200, nics: [{ nicId: nic.id, rateLimitMbps: 50 }] });
      assert.deepEqual(await refusal(applyVmLimits(h, fx.admin, at, { cpuWeight: 0, nics: [] })), ['out_of_range', undefined]);
      assert.deepEqual(await refusal(applyVmLimits(h, fx.admin, at, { cpuWeight: null, nics: [{ nicId: nic.id + 999, rateLimitMbps: 1 }] })), ['not_found', 'network_interface']);
      assert.deepEqual(await refusal(applyVmLimits(h, stranger(fx), at, { cpuWeight: null, nics: [] })), ['not_found', 'virtual_machine']);

      // stored settings (Gigas cpu_shares, rate_limit) reach the head with every start
      await h.db.insertInto('vm_settings').values({ vm_id: at.vm.id, cpu_shares: 3, rate_limit_mbps: 100, updated_at: h.now() }).execute();
      await powerVm(h, fx.admin, await placeOf(fx, at.vm.id), { intent: 'cycle' }, 'bigv');
      await h.heads.kick(at.vm.head_id!, at.vm.id);
      const stored = { cpuWeight: 300, nics: [{ nicId: nic.id, rateLimitMbps: 100 }] };
      await until('the restart with the stored limits', async () => isDeepStrictEqual(driver.limits.get(at.vm.id), stored), 20_000);
    });
  });
}
