// The single typed picture of the database. Booleans are stored as 0/1 integers and
// timestamps as epoch milliseconds on both SQLite and PostgreSQL, so rows look the same
// whichever store is behind them; repositories turn them into domain values.
import type { Generated, Insertable, Selectable, Updateable } from 'kysely';
import type { Sealed } from '../core/secrets.js';

type Id = Generated<number>;
type Flag = number; // 0 | 1
/** A UUID v4, unique per table and never changed (migration 009; `randomUUID()` at every insert). */
type PublicId = string;

export interface AccountsTable { id: Id; uuid: PublicId; name: string; suspended: Generated<Flag>; created_at: number }
export interface GroupsTable { id: Id; uuid: PublicId; account_id: number; name: string; vlan_num: number | null; created_at: number }

export interface UsersTable {
  id: Id; uuid: PublicId; username: string; email: string; password_hash: string;
  authorized_keys: Generated<string>;
  /** Sealed with the server's secret key (core/secrets.ts), like every secret the store keeps. */
  totp_secret: Sealed | null;
  created_at: number;
  /** The user's own account: their default account in every dialect (null: they have none). */
  home_account_id: number | null;
}

export interface PrivilegesTable {
  id: Id; uuid: PublicId; user_id: number; level: string;
  account_id: number | null; group_id: number | null; virtual_machine_id: number | null;
  api_key_id: number | null;
  password_required: Flag; yubikey_required: Flag; yubikey_otp_max_age: number;
  ip_restrictions: string | null; creating_user_id: number | null; created_at: number;
}

/**
 * A grant to a user outside the granter's account, waiting for the invitee to accept it. `username`
 * is the name as the granter gave it; `user_id` is null when no such user existed (or the invitee
 * declined): such a row can never be accepted, and looks to the granter like any other.
 */
export interface InvitationsTable {
  id: Id; uuid: PublicId; user_id: number | null; username: string; level: string;
  account_id: number | null; group_id: number | null; virtual_machine_id: number | null;
  password_required: Flag; yubikey_required: Flag; yubikey_otp_max_age: number;
  ip_restrictions: string | null; creating_user_id: number | null; created_at: number; expires_at: number;
}

export interface SessionsTable {
  id: Id; token_hash: string; user_id: number; impersonator_id: number | null;
  factors: string; validity: number; expires_at: number; created_at: number;
}

export interface ApiKeysTable {
  id: Id; uuid: PublicId; user_id: number; label: string; key_hash: string; expires_at: number | null; created_at: number;
}

export interface HeadsTable {
  id: Id; label: string; zone: string; driver: string; accel: string | null;
  cores: number; memory: number; cpu_overcommit: Generated<number>;
  /** Claimed by VMs placed here (purge releases); kept as counters so placement is O(heads). */
  used_cores: Generated<number>; used_memory: Generated<number>;
  management_address: string; online: Flag; last_seen: number | null; note: string | null; created_at: number;
  /** JSON array of the image names built on the head (not aliases), as it last reported them. */
  images: Generated<string>;
  /** The zone row of `zone` (migration 013), kept in step when the head registers. */
  zone_id: number | null;
  /** Where its VNC consoles listen, as it reported (migration 018); null: its management address. */
  console_address: Generated<string | null>;
}

/** A network (migration 013): the cluster's public one (`account_id` null, from the pools) or an account's private VLAN. */
export interface NetworksTable {
  id: Id; uuid: PublicId; label: string; vlan_num: number; public: Flag; account_id: number | null; zone_id: Generated<number | null>;
  default_rate_limit_mbps: Generated<number | null>; created_at: number;
}

/** A zone (migration 013): `name` is BigV's `zone_name`; `label` an admin's free text; `region` null: the cluster's. */
export interface ZonesTable { id: Id; uuid: PublicId; name: string; label: string; region: string | null; created_at: number }

export interface StoragePoolsTable { id: Id; head_id: number; label: string; grade: string; /** migration 014 */ grade_id: number | null; capacity: number; used: Generated<number> }

export interface VmsTable {
  id: Id; uuid: PublicId; group_id: number; name: string;
  cores: number; memory: number; power_on: Flag; autoreboot_on: Flag;
  cdrom_url: string | null; keymap: string | null;
  hardware_profile: string; hardware_profile_locked: Flag; zone_name: string;
  head_id: number | null; deleted: Flag; deleted_at: number | null;
  last_imaged_with: string | null;
  /** Bumped to ask the head for a fresh boot (BigV "reboot": power_on=false with autoreboot_on=true). */
  power_cycle: Generated<number>;
  /** Sealed (core/secrets.ts); opened only to hand it to the head that starts the machine. */
  vnc_password: Sealed;
  created_at: number; updated_at: number;
  /** Bumped by a trigger whenever a desired-state column changes (migration 008): the VM's ETag. */
  version: Generated<number>;
  /** The imperative operation (the top of its intent) holding the VM while it runs (Gigas `locked`). */
  lock_operation_id: Generated<number | null>;
  // Observed state, written only by the head that owns the VM.
  run_state: Generated<string>;
  observed_cycle: Generated<number>;
  pid: number | null; boot_count: Generated<number>; last_seen: number | null;
  ssh_port: number | null; vnc_port: number | null; head_note: string | null;
  // Identity across dialects (migration 013, docs/domain.md §13.2); initial_password is sealed.
  label: string | null; guest_hostname: string | null; note: string | null; initial_password: Sealed | null;
  created_by_user_id: number | null; zone_id: number | null;
  /** migration 019: `disc`, or `cdrom` (its ISO through the firmware, before the discs). */
  boot_from: Generated<'disc' | 'cdrom'>;
}

/**
 * A disc, or a volume with no VM (`vm_id` null, migration 012), which the account `account_id` owns and
 * BigV never sees. While attached, its VM's account owns it and `account_id` is null.
 */
export interface DiscsTable {
  id: Id; uuid: PublicId; vm_id: number | null; label: string; storage_grade: string; size: number;
  storage_pool_id: number | null; created_at: number;
  account_id: Generated<number | null>;
  /** Its place among its VM's discs when attached to a VM it was not made on (migration 026); null: its id. */
  attach_seq: Generated<number | null>;
}

export interface BackupsTable {
  id: Id; uuid: PublicId; disc_id: number; label: string; size: number; storage_grade: string; manual: Flag; created_at: number;
}

/** A VM's snapshot (migration 016): `pending` until its operation ends. */
export interface SnapshotsTable {
  id: Id; uuid: PublicId; vm_id: number; label: string; state: 'pending' | 'ready' | 'failed'; error: string | null; created_at: number;
}

export interface BackupSchedulesTable {
  id: Id; uuid: PublicId; disc_id: number; start_at: string; interval_seconds: number; capacity: number; created_at: number;
}

export interface NicsTable { id: Id; uuid: PublicId; vm_id: number; label: string | null; mac: string; vlan_num: number; created_at: number
  /** The network row of its VLAN (migration 013). */
  network_id: number | null;
  /** Mbit/s each way of a NIC other than the primary (migration 024; null: unlimited). */
  rate_limit_mbps: Generated<number | null>;
}

export interface IpRangesTable {
  id: Id; cidr: string; family: number; vlan_num: number; zone: string | null;
  /** Offsets below this have been handed out at least once; free ones are rows with nic_id null. */
  next_offset: number; first_offset: number; last_offset: number;
  /** The public network the pool belongs to (migration 013). */
  network_id: number | null;
}

/**
 * An address: from a pool (range_id, offset) or chosen by the user on a private VLAN (both null). Free in
 * its pool when both `nic_id` and `account_id` are null; held by the account `account_id` (attached or
 * not) otherwise, and then it outlives a VM that had it (migration 012).
 */
export interface IpsTable {
  id: Id; range_id: number | null; offset: number | null; address: string; family: number;
  nic_id: number | null; routed_via: string | null; rdns: string | null; reason: string | null;
  created_at: number;
  account_id: Generated<number | null>;
  /** The public id (migration 025): new each time the address leaves its pool. */
  uuid: string;
}

export interface OperationsTable {
  id: Id; kind: string; vm_id: number | null; head_id: number | null; user_id: number | null;
  state: string;
  /** JSON; its secrets are sealed while queued and removed once finished (operations/queue.ts). */
  args: string;
  result: string | null; error: string | null;
  created_at: number; updated_at: number; deadline: number | null;
  /** The public id (`GET /operations/{uuid}`). */
  uuid: string;
  /** The intent this operation is a step of (vm.create: disc creates and the reimage). */
  parent_id: number | null;
  dialect: string | null;
  progress: number | null;
  started_at: number | null; finished_at: number | null;
  /** Who runs it (`head:<id>`) and until when, renewed while it runs; the sweeper fails expired ones. */
  lease_owner: string | null; lease_until: number | null;
}

/** rate-limiter-flexible's counters (src/store/counters.ts): `expire` in epoch ms, null never. */
export interface LoginFailuresTable {
  key: string; points: number; expire: number | null;
}

/**
 * An Idempotency-Key's record (api/idempotency.ts): `pending` while its first request acts, then
 * `done` with the answer (status, JSON of the headers that matter, sealed body). Kept until `expires_at`.
 */
export interface IdempotencyRecordsTable {
  caller: string; key: string; fingerprint: string; state: 'pending' | 'done';
  status: number | null; headers: string | null; body: Sealed | null;
  created_at: number; expires_at: number;
}

/** A signing key pair (migration 010): the secret sealed; `factors` (JSON) what the session that made it proved. */
export interface KeyPairsTable {
  id: Id; uuid: PublicId; user_id: number; access_key_id: string; secret: Sealed; factors: string; created_at: number;
}

/** A signed request seen (its nonce: the signature), kept until its date is outside the window. */
export interface SignedRequestsTable { key_pair_id: number; nonce: string; expires_at: number }

/** One mutating request (core/audit.ts): who, what, over which dialect, its answer and the operation it started. */
export interface AuditTable {
  id: Id; uuid: PublicId; at: number;
  user_id: number | null; impersonator_id: number | null; api_key_id: number | null;
  /** The method and the route's pattern (`/accounts/:account/...`), never the filled-in URL. */
  method: string; route: string; dialect: string; status: number;
  account_uuid: string | null; vm_uuid: string | null; operation_uuid: string | null; address: string | null;
}

/** An image (migration 014): owner null = the public catalogue; `alias_of` names the image that backs an alias. */
export interface ImagesTable {
  id: Id; uuid: PublicId; name: string; label: string; alias_of: string | null; owner_account_id: number | null;
  supports_password: Flag; supports_ssh_key: Flag; supports_cloud_init: Flag; supports_firstboot_script: Flag;
  operating_system: string | null; distro: string | null; default_disc_mib: number | null; min_disc_mib: number | null;
  source: string; status: string; created_at: number;
}
/** A user's SSH public key (migration 014): one line, its SHA256 fingerprint unique per user. */
export interface SshKeysTable { id: Id; uuid: PublicId; user_id: number; label: string; public_key: string; fingerprint: string; created_at: number }
/** An ISO of the library (migration 014): `file` relative to the library directory. */
export interface IsosTable { id: Id; uuid: PublicId; name: string; label: string; file: string; owner_account_id: number | null; size_bytes: number; created_at: number }
/** Migration 014: a pool points to its grade's row (null for a grade name the store has no row for). */
export interface StorageGradesTable { id: Id; uuid: PublicId; name: string; description: string; e24_type: string; is_default: Flag; created_at: number }
/** What a VM (nic_id 0) or one of its NICs used in a bucket (migration 015). A null counter: not measurable there. */
export interface StatsSamplesTable {
  vm_id: number; nic_id: number; resolution: string; bucket_start: number;
  cpu_ms: number | null; read_bytes: number | null; write_bytes: number | null; rx_bytes: number | null; tx_bytes: number | null;
}
/** The last cumulative reading of a VM (nic_id 0) or NIC: the next reading minus this is what was used. */
export interface StatsCountersTable {
  vm_id: number; nic_id: number; at: number;
  cpu_ms: number | null; read_bytes: number | null; write_bytes: number | null; rx_bytes: number | null; tx_bytes: number | null;
}
/** Two VMs that must not share a head; vm_id_low < vm_id_high. */
export interface VmSegregationsTable { id: Id; uuid: PublicId; vm_id_low: number; vm_id_high: number; created_by_user_id: number | null; created_at: number }
/** A NIC's firewall rule (desired state): command accept|drop, protocol tcp|udp|null, address and port null = any. */
export interface FirewallRulesTable {
  id: Id; uuid: PublicId; nic_id: number; position: number; command: string; protocol: string | null;
  address: string | null; port: string | null; state: Generated<string>; version: Generated<number>; created_at: number; updated_at: number;
}
/** What a NIC's firewall does with traffic no rule matches (absent: accept). */
export interface NicFirewallsTable { nic_id: number; default_policy: string; updated_at: number }

/** A VM's dialect-set settings (migration 017); absent: all at their defaults. */
export interface VmSettingsTable {
  vm_id: number; cpu_shares: number | null; cpu_type: string | null; rate_limit_mbps: number | null;
  image_id: number | null; build_pending: Generated<Flag>; updated_at: number;
}

export interface Database {
  accounts: AccountsTable;
  groups: GroupsTable;
  users: UsersTable;
  privileges: PrivilegesTable;
  invitations: InvitationsTable;
  sessions: SessionsTable;
  api_keys: ApiKeysTable;
  heads: HeadsTable;
  storage_pools: StoragePoolsTable;
  vms: VmsTable;
  discs: DiscsTable;
  backups: BackupsTable;
  backup_schedules: BackupSchedulesTable;
  nics: NicsTable;
  ip_ranges: IpRangesTable;
  ips: IpsTable;
  operations: OperationsTable;
  login_failures: LoginFailuresTable;
  idempotency_records: IdempotencyRecordsTable;
  key_pairs: KeyPairsTable;
  signed_requests: SignedRequestsTable;
  audit: AuditTable;
  images: ImagesTable;
  ssh_keys: SshKeysTable;
  isos: IsosTable;
  storage_grades: StorageGradesTable;
  stats_samples: StatsSamplesTable;
  stats_counters: StatsCountersTable;
  vm_segregations: VmSegregationsTable;
  firewall_rules: FirewallRulesTable;
  nic_firewalls: NicFirewallsTable;
  zones: ZonesTable;
  networks: NetworksTable;
  snapshots: SnapshotsTable;
  vm_settings: VmSettingsTable;
}

export type AccountRow = Selectable<AccountsTable>;
export type GroupRow = Selectable<GroupsTable>;
export type UserRow = Selectable<UsersTable>;
export type PrivilegeRow = Selectable<PrivilegesTable>;
export type InvitationRow = Selectable<InvitationsTable>;
export type SessionRow = Selectable<SessionsTable>;
export type ApiKeyRow = Selectable<ApiKeysTable>;
export type HeadRow = Selectable<HeadsTable>;
export type StoragePoolRow = Selectable<StoragePoolsTable>;
export type VmRow = Selectable<VmsTable>;
export type NewVm = Insertable<VmsTable>;
export type VmUpdate = Updateable<VmsTable>;
export type DiscRow = Selectable<DiscsTable>;
export type BackupRow = Selectable<BackupsTable>;
export type BackupScheduleRow = Selectable<BackupSchedulesTable>;
export type NicRow = Selectable<NicsTable>;
export type IpRangeRow = Selectable<IpRangesTable>;
export type IpRow = Selectable<IpsTable>;
export type OperationRow = Selectable<OperationsTable>;
export type AuditRow = Selectable<AuditTable>;
export type ZoneRow = Selectable<ZonesTable>;
export type NetworkRow = Selectable<NetworksTable>;
export type SnapshotRow = Selectable<SnapshotsTable>;
