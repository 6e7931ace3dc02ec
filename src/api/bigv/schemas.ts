// Request schemas of the BigV dialect: path parameters, query strings and bodies. Unknown
// attributes and query parameters are allowed (and ignored): the real clients send junk (spec §1).
// Types are strict: integers must be JSON integers, a query parameter is given at most once.
import { Type, type Static } from 'typebox';
import { QueryBool, QueryRef, Segment } from '../parameters.js';

// Path parameters. The account may be empty: `/accounts//groups/...` means the caller's default account.
export const AccP = Type.Object({ acc: Segment });
export const GrpP = Type.Object({ ...AccP.properties, grp: Segment });
export const VmP = Type.Object({ ...GrpP.properties, vm: Segment });
export const DiscP = Type.Object({ ...VmP.properties, disc: Segment });
export const BackupP = Type.Object({ ...DiscP.properties, backup: Segment });
export const ScheduleP = Type.Object({ ...DiscP.properties, id: Segment });
export const NicP = Type.Object({ ...VmP.properties, nic: Segment });
export const IdP = Type.Object({ id: Segment });
export const UserP = Type.Object({ user: Segment });
export const AddressP = Type.Object({ address: Segment });

// Query strings (spec §1: `view=overview`, `include_deleted`, `purge`, and the non-nested filters).
const View = Type.Literal('overview', { description: 'embed children (groups, VMs, discs, NICs)' });
export const IncludeDeletedQ = Type.Object({ include_deleted: Type.Optional(QueryBool) });
export const ReadQ = Type.Object({ view: Type.Optional(View), ...IncludeDeletedQ.properties });
export const ViewQ = Type.Object({ view: Type.Optional(View) });
export const PurgeQ = Type.Object({ purge: Type.Optional(QueryBool) });
export const VmListQ = Type.Object({ ...ReadQ.properties, account_id: Type.Optional(QueryRef), group_id: Type.Optional(QueryRef) });
export const AccountFilterQ = Type.Object({ account_id: Type.Optional(QueryRef) });
export const VmFilterQ = Type.Object({ vm_id: Type.Optional(QueryRef) });
export const UserFilterQ = Type.Object({ user_id: Type.Optional(QueryRef) });

const Str = Type.String({ maxLength: 1024 });
const NullableStr = Type.Union([Type.String({ maxLength: 2048 }), Type.Null()]);
// Integers are stored in 32-bit columns (PostgreSQL `integer`): anything wider is a 400, never a failed query.
const Int = Type.Integer({ minimum: -2147483648, maximum: 2147483647 });
const Bool = Type.Boolean();

export const Name = Type.Object({ name: Type.Optional(Str) });
export const AccountPut = Type.Object({ name: Type.Optional(Str), suspended: Type.Optional(Bool) });

export const VmAttrs = Type.Object({
  name: Type.Optional(Str),
  cores: Type.Optional(Int),
  memory: Type.Optional(Int),
  autoreboot_on: Type.Optional(Bool),
  power_on: Type.Optional(Bool),
  cdrom_url: Type.Optional(NullableStr),
  keymap: Type.Optional(NullableStr),
  hardware_profile: Type.Optional(Str),
  hardware_profile_locked: Type.Optional(Bool),
  zone_name: Type.Optional(NullableStr),
});

export const VmPut = Type.Object({
  ...VmAttrs.properties,
  group_id: Type.Optional(Int),
  deleted: Type.Optional(Bool),
  appliance: Type.Optional(Type.Unknown()),
});

export const Schedule = Type.Object({
  start_at: Type.Optional(Str),
  interval_seconds: Type.Optional(Int),
  capacity: Type.Optional(Int),
});

export const DiscCreate = Type.Object({
  // Its rules are core's (core/vms/attributes.ts checkDiscLabel); the length bound only keeps bodies small.
  label: Type.Optional(Type.String({ maxLength: 1024 })),
  storage_grade: Type.Optional(Str),
  size: Type.Optional(Int),
  backup_schedules: Type.Optional(Type.Array(Schedule, { maxItems: 8 })),
});

export const DiscPut = Type.Object({ size: Type.Optional(Int), virtual_machine_id: Type.Optional(Int), iops_limit: Type.Optional(Int) });

export const Reimage = Type.Object({
  distribution: Type.Optional(Str),
  root_password: Type.Optional(Type.String({ maxLength: 256 })),
  ssh_public_key: Type.Optional(Type.String({ maxLength: 65536 })),
  firstboot_script: Type.Optional(Type.String({ maxLength: 65536 })),
});

export const VmCreate = Type.Object({
  virtual_machine: VmAttrs,
  // How many: core's rule (LIMITS.discsPerVm), said once whatever else is wrong with them.
  discs: Type.Optional(Type.Array(DiscCreate, { maxItems: 1024 })),
  reimage: Type.Optional(Reimage),
  ips: Type.Optional(Type.Object({ ipv4: Type.Optional(Str), ipv6: Type.Optional(Str) })),
});

export const Signal = Type.Object({ signal: Type.Optional(Str), data: Type.Optional(Str) });

export const IpCreate = Type.Object({
  addresses: Type.Optional(Int),
  family: Type.Optional(Str),
  reason: Type.Optional(Str),
  contiguous: Type.Optional(Bool),
});
export const IpPut = Type.Object({ rdns: Type.Optional(NullableStr) });
export const IpSwap = Type.Object({
  virtual_machine_1_id: Int, virtual_machine_2_id: Int, move_additional_ips: Type.Optional(Bool),
});

// home_account_id: the user's default account (a Hangar extension; BigV users have none).
const HomeAccount = Type.Optional(Type.Union([Int, Type.Null()]));
export const UserCreate = Type.Object({
  username: Str, email: Type.Optional(Str), password: Str, authorized_keys: Type.Optional(Type.String({ maxLength: 65536 })),
  home_account_id: HomeAccount,
});
export const UserPut = Type.Object({
  authorized_keys: Type.Optional(Type.String({ maxLength: 65536 })), password: Type.Optional(Str), email: Type.Optional(Str),
  home_account_id: HomeAccount,
});

export const PrivilegeCreate = Type.Object({
  level: Str,
  account_id: Type.Optional(Type.Union([Int, Type.Null()])),
  group_id: Type.Optional(Type.Union([Int, Type.Null()])),
  virtual_machine_id: Type.Optional(Type.Union([Int, Type.Null()])),
  api_key_id: Type.Optional(Type.Union([Int, Type.Null()])),
  password_required: Type.Optional(Bool),
  yubikey_required: Type.Optional(Bool),
  yubikey_otp_max_age: Type.Optional(Int),
  ip_restrictions: Type.Optional(NullableStr),
});
export const PrivilegePut = Type.Object({
  yubikey_required: Type.Optional(Bool), yubikey_otp_max_age: Type.Optional(Int), ip_restrictions: Type.Optional(NullableStr),
});


export const ApiKeyCreate = Type.Object({
  user_id: Type.Optional(Int), label: Str, expires_at: Type.Optional(NullableStr),
});

export const BackupPut = Type.Object({ restore: Type.Optional(Bool) });

export type TVmCreate = Static<typeof VmCreate>;
