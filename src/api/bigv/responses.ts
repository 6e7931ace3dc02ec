// BigV's answers (spec §3), as the presenters (present.ts, users.ts, network.ts) build them and the
// real clients parse them: each route's `schema.response`. Closed objects: a field a presenter adds
// must be declared here, or the contract test fails (test/docs/response-schemas.test.ts).
import { Type, type TSchema } from 'typebox';
import { Bool, Closed, Int, NInt, NoContent, NStr, responses, Str } from '../responses.js';

export const Schedule = Closed({ id: Int, start_at: Str, interval_seconds: Int, capacity: Int }, { $id: 'Schedule', description: 'A backup schedule' });

export const Disc = Closed({
  id: Int, label: Str, size: Int, storage_grade: Str, storage_pool: NStr, virtual_machine_id: NInt,
  type: Type.Literal('application/vnd.bigv.disc'), backup_schedules: Type.Array(Schedule),
}, { $id: 'Disc', description: 'A disc' });

export const Backup = Closed({
  id: Int, label: Str, size: Int, storage_grade: Str, storage_pool: Type.Null(), manual: Bool,
  parent_disc_id: Int, virtual_machine_id: NInt, type: Type.Literal('application/vnd.bigv.disc'),
}, { $id: 'Backup', description: 'A backup (a disc\'s snapshot)' });

export const Nic = Closed({
  id: Int, label: NStr, mac: Str, vlan_num: Int, ips: Type.Array(Str),
  extra_ips: Type.Record(Str, Str, { description: 'extra IP -> the primary IP it is routed via' }),
  virtual_machine_id: Int, type: Type.Literal('application/vnd.bigv.network-interface'),
}, { $id: 'Nic', description: 'A network interface' });

const vmFields = {
  id: Int, type: Type.Literal('application/vnd.bigv.virtual-machine'), name: Str, group_id: Int, hostname: Str,
  autoreboot_on: Bool, power_on: Bool, cores: Int, memory: Int,
  cdrom_url: NStr, keymap: NStr, hardware_profile: Str, hardware_profile_locked: Bool, zone_name: Str,
  management_address: NStr, head: NStr, deleted: Bool, last_imaged_with: NStr,
  // Hangar extensions.
  state: NStr, ssh_forward: NStr, vnc_port: NInt, head_note: NStr,
};
/** A VM without its discs and NICs (lists without view=overview). */
export const Vm = Closed(vmFields, { $id: 'Vm', description: 'A virtual machine' });
/** A VM with its discs and NICs. */
export const VmOverview = Closed({ ...vmFields, discs: Type.Array(Disc), network_interfaces: Type.Array(Nic) }, { $id: 'VmOverview', description: 'A virtual machine with its discs and network interfaces' });
const VmEither = Type.Union([VmOverview, Vm], { description: 'A virtual machine, with its discs and network interfaces under view=overview' });

const groupFields = { id: Int, account_id: Int, name: Str, type: Type.Literal('application/vnd.bigv.group') };
export const Group = Closed(groupFields, { $id: 'Group', description: 'A group' });
export const GroupOverview = Closed({ ...groupFields, virtual_machines: Type.Array(VmOverview) }, { $id: 'GroupOverview', description: 'A group with its VMs' });
const GroupEither = Type.Union([GroupOverview, Group], { description: 'A group, with its VMs under view=overview' });

const accountFields = { id: Int, name: Str, suspended: Bool, type: Type.Literal('application/vnd.bigv.account') };
export const Account = Closed(accountFields, { $id: 'Account', description: 'An account' });
export const AccountOverview = Closed({ ...accountFields, groups: Type.Array(GroupOverview) }, { $id: 'AccountOverview', description: 'An account with its groups and VMs' });
const AccountEither = Type.Union([AccountOverview, Account], { description: 'An account, with its groups and VMs under view=overview' });

const Link = Closed({ href: Str });
const privilegeFields = {
  username: Str, level: Str,
  account_id: NInt, account_name: NStr, group_id: NInt, group_name: NStr,
  virtual_machine_id: NInt, virtual_machine_name: NStr,
  api_key_id: Int, password_required: Bool, yubikey_required: Bool, yubikey_otp_max_age: Int,
  ip_restrictions: NStr, creating_username: NStr,
};
export const Privilege = Closed({ id: Int, ...privilegeFields, _links: Closed({ self: Link }) }, { $id: 'Privilege', description: 'A privilege' });
/** A pending invitation: a privilege's fields, with no privilege id yet. */
export const Invitation = Closed({
  id: Type.Null(), invitation_id: Int, ...privilegeFields,
  pending: Type.Literal(true), target: Str, created_at: Str, expires_at: Str,
  _links: Closed({ self: Link, accept: Link }),
}, { $id: 'Invitation', description: 'A pending invitation' });

export const User = Closed({ id: Int, username: Str, email: Str, authorized_keys: Str, totp_enabled: Bool, home_account_id: NInt }, { $id: 'User', description: 'A user' });

export const ApiKey = Closed({
  id: Int, user_id: Int, username: Str, label: Str,
  api_key: Type.Optional(Type.String({ description: 'the key: only in the answer that created it' })),
  expires_at: NStr, expired: Bool,
  privileges: Type.Optional(Type.Array(Privilege, { description: 'under view=overview' })),
}, { $id: 'ApiKey', description: 'An API key' });

export const Ip = Closed({ address: Str, ip: Str, rdns: NStr, routed_via: NStr, network_interface_id: Int }, { $id: 'Ip', description: 'An IP address' });

/** GET /definitions: `{id, data}` pairs, data a list of names or a name -> description map. */
export const Definitions = Type.Array(Closed({
  id: Str, data: Type.Union([Type.Array(Str), Type.Record(Str, Str)]),
}), { description: 'The cluster\'s vocabularies' });

/** vm_create's answer: the request's parts, as created. */
export const VmCreated = Closed({
  virtual_machine: VmOverview, discs: Type.Array(Disc),
  reimage: Type.Optional(Closed({ distribution: Str, ssh_public_key: Str })),
  ips: Type.Optional(Closed({ ipv4: Type.Optional(Str), ipv6: Type.Optional(Str) })),
}, { $id: 'VmCreated', description: 'The VM created, its discs, and the image and IPs asked for' });

export const SignalSent = Closed({ signal: Str, data: Type.Optional(Str) }, { $id: 'SignalSent', description: 'The signal sent' });
export const Reimaged = Closed({ distribution: Str, root_password: Str }, { $id: 'Reimaged', description: 'The image being written' });
export const IpsCreated = Closed({
  addresses: Type.Optional(Int), family: Type.Optional(Str), reason: Type.Optional(Str), contiguous: Type.Optional(Bool),
  ips: Type.Array(Str),
}, { $id: 'IpsCreated', description: 'The request, with the IPs added' });
export const IpsSwapped = Closed({ virtual_machine_1_id: Int, virtual_machine_2_id: Int, move_additional_ips: Type.Optional(Bool) }, { $id: 'IpsSwapped', description: 'The swap done' });

/** BigV's refusals (spec §1.1-1.2): `{"error": "..."}`, or Rails-style `{"field": ["message"]}`
 *  (vm_create's disc issues: a list of such maps under `discs`, aligned with the request's). */
export const BigvError = Type.Union([
  Closed({ error: Str }),
  Type.Record(Str, Type.Array(Type.Union([Str, Type.Record(Str, Type.Array(Str))]))),
], { $id: 'BigvError', description: 'Refused: `{"error": "..."}`, or `{"field": ["message", ...]}` for bad input' });

/** A list of `item`s, described as such in the OpenAPI document ("A list of: virtual machine, ..."). */
export const listOf = (item: TSchema) => {
  const what = String((item as { description?: string }).description ?? '').replace(/^(A|An) /, '');
  return Type.Array(item, { description: `A list of: ${/^[A-Z]{2}/.test(what) ? what : what.charAt(0).toLowerCase() + what.slice(1)}` });
};

/** A BigV route's responses: its success (the route's `success` status, default 200) and BigV's refusals. */
export const bigv = (schema: TSchema, status: 200 | 201 | 202 | 204 = 200) => responses({ [status]: schema, '4xx': BigvError });
/** A BigV route answering 204. */
export const bigvNoContent = bigv(NoContent, 204);
export { VmEither, GroupEither, AccountEither };
