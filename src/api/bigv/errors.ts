// BigV's error shapes (spec §1.1-1.2): 400 bodies are Rails-style `{"field":["message"]}`,
// `vm_create` disc errors are an array aligned with the request's `discs`; other refusals are
// `{"error":"..."}`. Core's DomainErrors (codes, field paths, parameters) are worded here.
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { DomainError, type ErrorParams, type Issue } from '../../core/errors.js';
import { UnusableInput } from '../wire.js';
import { QUERY_BOOL_WORDS } from '../parameters.js';

interface AjvError { keyword: string; instancePath: string; params: Record<string, unknown>; message?: string }

function message(e: AjvError, context: string | undefined, value: unknown): string {
  // The query-string parser makes a list of a parameter given more than once: whatever keyword failed, that is why.
  if (context === 'querystring' && Array.isArray(value)) return 'must be given only once';
  switch (e.keyword) {
    case 'required': return "can't be blank";
    case 'type': {
      const t = String(e.params.type);
      if (context === 'querystring' && t.includes('boolean')) return `must be one of ${QUERY_BOOL_WORDS}`;
      if (t.includes('integer') || t.includes('number')) return 'is not a number';
      if (t.includes('boolean')) return 'must be true or false';
      if (t.includes('object')) return 'must be an object';
      if (t.includes('array')) return 'must be a list';
      return 'must be a string';
    }
    case 'enum': case 'const': case 'anyOf': return 'is not included in the list';
    case 'minimum': return `must be greater than or equal to ${e.params.limit}`;
    case 'maximum': return `must be less than or equal to ${e.params.limit}`;
    case 'exclusiveMinimum': return `must be greater than ${e.params.limit}`;
    case 'minLength': return "can't be blank";
    case 'maxLength': return `is too long (maximum is ${e.params.limit} characters)`;
    case 'maxItems': return `has too many items (maximum is ${e.params.limit})`;
    case 'pattern': case 'format': return 'is invalid';
    default: return e.message ?? 'is invalid';
  }
}

/** The value at a JSON pointer (`/discs/0/size`) into what was validated. */
function at(data: unknown, path: string[]): unknown {
  return path.reduce<unknown>((v, k) => (v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined), data);
}

/** Turn schema validation errors of the request's body or query string into BigV's flat field map. */
export function fieldErrors(errors: AjvError[], data: unknown, context: string | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const discCount = Array.isArray((data as { discs?: unknown })?.discs) ? ((data as { discs: unknown[] }).discs.length) : 0;
  for (const e of errors) {
    // anyOf (nullable) failures repeat as type errors of each branch; one message is enough.
    const path = e.instancePath.split('/').filter(Boolean);
    if (e.keyword === 'required') path.push(String(e.params.missingProperty));
    const msg = message(e, context, at(data, path));
    if (path[0] === 'discs' && path.length >= 3 && /^\d+$/.test(path[1]!) && discCount > 0) {
      const list = (Array.isArray(out.discs) ? out.discs : Array.from({ length: discCount }, () => ({}))) as Record<string, string[]>[];
      const item = list[Number(path[1])] ?? {};
      const key = path[path.length - 1]!;
      if (!(item[key] ??= []).includes(msg)) item[key].push(msg);
      list[Number(path[1])] = item;
      out.discs = list;
      continue;
    }
    const key = [...path].reverse().find((p) => !/^\d+$/.test(p)) ?? context ?? 'body';
    const list = (out[key] ??= []) as string[];
    if (!list.includes(msg)) list.push(msg);
  }
  return out;
}

type Words = (p: ErrorParams, field: string) => string;

/** Core's field names (camelCase) as BigV's wire names; names not listed are the same on the wire. */
const WIRE: Record<string, string> = {
  memoryMiB: 'memory', hardwareProfile: 'hardware_profile', hardwareProfileLocked: 'hardware_profile_locked', cdromUrl: 'cdrom_url',
  powerOn: 'power_on', autoreboot: 'autoreboot_on', groupId: 'group_id', zone: 'zone_name', sizeMiB: 'size', grade: 'storage_grade',
  backupSchedules: 'backup_schedules', sshPublicKey: 'ssh_public_key', intervalSeconds: 'interval_seconds', startAt: 'start_at',
};

/** The words of each reason core gives for refusing a field. */
const REASONS: Record<string, Words> = {
  not_visible_account: () => 'is not an account you can see',
  not_visible_group: () => 'is not a group you can see',
  not_visible_vm: () => 'is not a machine you can see',
  primary_address: () => 'is a primary address: it is released when the machine is purged',
  extra_ips: (p) => `at most ${p.max} extra addresses per machine`,
  not_users_key: () => "is not one of the user's API keys",
  no_appliances: () => 'no appliances (such as rescue) are available on this cluster',
  ssh_key_line: (p) => `line ${p.line} is not an SSH public key`,
  no_contiguous: () => 'contiguous ranges are not available',
  vm_deleted: () => 'the machine is deleted',
  vm_deleted_discs: () => 'the machine is deleted: its discs cannot be changed',
  use_delete: () => 'use DELETE to delete a machine',
  vm_deleted_undelete_first: () => 'the machine is deleted: undelete it with {"deleted":false} first',
  undelete_expired: (p) => `can no longer be undeleted (deleted more than ${p.days} days ago)`,
  no_disc_for_image: () => 'the machine has no disc to install an image on',
  image_needs_disc: () => 'a disc is needed to install an image on',
  discs_per_vm: (p) => `at most ${p.max} discs per machine`,
  image_not_on_head: (p) => `is not available on this machine's head (it does not have the ${p.image} image)`,
  image_not_in_zone: (p) => (p.zone !== null
    ? `is not available in zone ${p.zone} (no head there has the ${p.image} image)`
    : `is not available in any zone (no head has the ${p.image} image)`),
  no_primary_address: (p) => `the interface has no primary ${p.family} address to route via`,
  group_not_empty: () => 'is not empty: purge its virtual machines first (deleted ones too)',
  default_group_delete: () => 'the default group cannot be deleted',
  default_group_rename: () => 'the default group cannot be renamed',
  same_vlan: () => 'both groups must be on the same private VLAN',
  power_off_to_move: () => 'the machine must be powered off to move it to another group',
  power_off_to_change: () => 'cannot be changed while the machine is powered on: power it off first (or reboot it in the same request)',
  no_iops_limit: () => 'I/O limits are not available on this cluster yet',
  address_in_use: (p) => (p.address ? `${p.address} is already in use` : 'an address is already in use'),
  pool_exhausted: (p) => `no free IPv${p.family} addresses left in the pool`,
  label_on_target: () => 'is already used by a disc of that machine',
  last_cluster_admin: () => 'the last cluster admin cannot be revoked',
  zone_full: () => 'no head in the zone has room for this machine (cores, memory or disc space)',
  head_full: () => "the machine's head has no room for that many cores or that much memory",
  fixed: () => 'cannot be changed',
  power_off_to_reimage: () => 'the machine must be powered off to reimage it',
  backups_not_undeletable: () => 'must be true: backups cannot be undeleted',
  discs_not_undeletable: () => 'must be true: discs cannot be undeleted',
  power_off_to_restore: () => 'the machine must be powered off to restore a backup',
  power_off_to_snapshot: () => 'the machine must be powered off to take, restore or delete a snapshot',
  vm_has_snapshots: (p) => `the machine has snapshots, which this would destroy; delete them first (${String(p.snapshots ?? '')})`,
  snapshot_not_ready: (p) => `the snapshot is ${String(p.state ?? 'not ready')}`,
  disc_has_snapshots: (p) => `a disc of a machine with snapshots cannot grow; delete its snapshots first (${String(p.snapshots ?? '')})`,
  vm_not_powered_on: () => 'the machine is not powered on',
  signal_failed: (p) => String(p.detail ?? 'failed'),
  head_failed: (p) => String(p.detail ?? 'the head could not do it'),
  discs_only_grow: () => 'discs can only grow',
  grade_space: (p) => `there is not enough ${p.grade} space on the machine's head`,
  delete_self: () => 'you cannot delete yourself',
  not_a_user: () => 'is not a user',
  own_keys_only: () => 'you can only create API keys for yourself',
  vm_not_placed: () => 'is not placed on a head',
  volume_not_placed: () => 'the volume is on no head',
  not_script_or_cloud_config: () => 'must be a script (starting #!) or cloud-init data (#cloud-config)',
  no_disc_for_template: () => 'the machine has no disc to make a template from',
  template_pending: () => 'the template is still being made',
  no_nic: () => 'a machine has no network interface',
  power_off_both: () => 'both machines must be powered off',
  same_vm: () => 'must be a different machine',
  power_off_both_disc: () => 'both machines must be powered off to move a disc',
  power_off_to_attach: () => 'the machine must be powered off to attach or detach a volume',
  volume_attached: () => 'the volume is attached to a machine: detach it first',
  volume_not_attached: () => 'the volume is attached to no machine',
  boot_disc: () => 'the machine boots from this disc: its first disc cannot be moved to another machine',
  different_heads: () => 'the machines are on different heads',
  target_discs_full: (p) => `that machine already has ${p.max} discs`,
  no_heads: (p) => `no head can run machines here (${p.heads ?? 'no heads'})`,
  name_case: () => 'is invalid: use lower-case letters (names are DNS labels)',
  dns_label: () => 'is invalid: use letters, digits and hyphens (a DNS label, at most 63 characters)',
  looks_like_id: () => 'is invalid: it cannot be only digits (that is an id)',
  looks_like_uuid: () => 'is invalid: it cannot have the shape of a UUID (that is a public id)',
  no_target_for_cluster: () => 'cluster privileges have no target',
  one_target: () => "can't be blank (and no other target may be given)",
  url_refused: (p) => String(p.detail),
  ips_need_vlan: () => 'can only be chosen in groups on a private VLAN',
  ip_family: (p) => `${p.family} is invalid`,
  idempotency_key: () => 'must be 1 to 255 printable ASCII characters',
  idempotency_reused: () => 'was already used with a different request',
  not_a_password: () => 'must be 6 to 128 printable characters, without spaces',
  idempotency_busy: () => 'is in use by a request still in progress: retry later',
  not_a_time: () => 'is not a time (ISO 8601)',
  not_supported: (p) => `is not supported by the ${p.image} image (it has no ${p.feature} support)`,
  unpaired: (p) => `has more values than ${p.of}`,
  one_key_line: () => 'must be one SSH public key on one line',
  iso_unavailable: () => 'the ISO is not available in the library',
  no_iso_library: () => 'this cluster has no ISO library',
  before_from: (p) => `must be after ${p.gt}`,
  other_account: () => 'must be a machine of the same account',
  not_a_port: () => 'is not a port (1-65535), a range or a list of them',
  range_reversed: () => 'is a range whose start is after its end',
  needs_protocol: () => 'needs a protocol (tcp or udp)',
  guest_hostname: () => 'is invalid: a letter, then letters, digits and hyphens (at most 25 characters)',
  one_source: () => 'give exactly one of template_id, iso_id and iso_url',
};

const FORBIDDEN: Record<string, Words> = {
  add_ips: () => 'Adding IPs needs vm_admin',
  api_key_password: () => 'An API key cannot change a password: log in with a session',
  change_vm: () => 'Changing a machine needs vm_admin',
  change_vm_part: () => 'Changing a machine or anything on it needs vm_admin',
  change_addresses: () => 'Changing addresses needs vm_admin',
  change_discs: () => 'Changing discs needs vm_admin',
  change_snapshots: () => 'Snapshots need vm_admin',
  change_privilege: () => 'Changing this privilege needs a higher privilege over its target',
  create_groups: () => 'Creating groups needs account_admin',
  create_vm: () => 'Creating machines needs group_admin on the group',
  delete_vm: () => 'Deleting a machine needs group_admin',
  delete_groups: () => 'Deleting groups needs account_admin',
  move_vm: () => 'Moving a machine needs group_admin on both groups',
  admin_change_accounts: () => 'Only cluster admins may change accounts',
  admin_create_accounts: () => 'Only cluster admins may create accounts',
  admin_create_users: () => 'Only cluster admins may create users',
  admin_delete_users: () => 'Only cluster admins may delete users',
  admin_only: () => 'Only cluster admins may do that',
  admin_iops_limit: () => 'Only cluster admins may set iops_limit',
  invitee_only: () => 'Only the invitee can accept an invitation',
  reimage_vm: () => 'Reimaging needs vm_admin',
  create_template: () => 'Making a template needs vm_admin',
  delete_template: () => 'Deleting a template needs account_admin on its account',
  change_media: () => 'Changing the CD or what the machine boots from needs vm_admin',
  change_network: () => 'Rebuilding the network needs vm_admin',
  rename_groups: () => 'Renaming groups needs account_admin',
  revoke_privilege: () => 'Revoking this privilege needs a higher privilege over its target',
  signal_vm: () => 'Signals need vm_admin',
  account_suspended: () => 'The account is suspended',
  account_suspended_power: () => 'The account is suspended: its machines cannot be powered on',
  undelete_vm: () => 'Undeleting needs group_admin',
  power_vm: () => 'Powering a machine needs vm_admin',
  label_zone: () => 'Only cluster admins may label zones',
  no_home_account: () => 'You have no home account: name the account',
  read_initial_password: () => 'Reading the initial password needs vm_admin',
  scan_iso_library: () => 'Only cluster admins may scan the ISO library',
  cancel_operation: () => 'Cancelling an operation needs vm_admin on its machine',
  read_audit: () => 'Reading the audit needs account_admin or cluster_admin',
  key_pair_session: () => 'Key pairs are made from a session logged in with a password (and a second factor when you have one)',
  key_pair_factors: (p) => `Key pairs need a session that proved ${p.missing}`,
  grant_level: (p) => `Granting ${p.level} needs a higher privilege over the target`,
};

const UNAUTHORIZED: Record<string, string> = {
  missing: 'Authentication required',
  scheme: 'Use Authorization: Bearer <session token> or Bearer apikey.<key>',
  api_key: 'Invalid or expired API key',
  session: 'Invalid or expired session',
  one_header: 'Give exactly one Authorization header',
  bad_signature: 'Bad signature',
  stale_date: 'The request\'s date is too far from the server\'s clock',
  replayed: 'Request already seen',
};

const REQUEST: Record<string, Words> = {
  public_nic_exists: () => 'the machine already has an interface on that public network',
  vm_changed: () => 'The machine has changed since you read it: read it again (its ETag) and retry',
  reimaging: (p) => `the machine is already being imaged (operation ${p.operation})`,
  resizing: (p) => `the machine is being resized (operation ${p.operation}): retry once that has ended`,
  vm_busy: (p) => `another act holds the machine (operation ${p.operation}): retry once that has ended`,
  volume_busy: (p) => `the volume's file is being made or copied (operation ${p.operation}): retry once that has ended`,
  source_discs_changing: (p) => `the machine's discs are being rewritten (operation ${p.operation}): clone it once that has ended`,
  cancel_running: () => 'the operation cannot be cancelled: it is running: an operation can be cancelled only while it is queued',
  cancel_ended: () => 'the operation cannot be cancelled: it has already ended',
  cancel_kind: () => 'the operation cannot be cancelled: operations of this kind cannot be cancelled',
  cancel_step: () => 'the operation cannot be cancelled: it is a step of an intent: cancel the intent',
  cancel_needed: () => 'the operation cannot be cancelled: a later operation needs the disc it creates',
  segregation: (p) => `no head is left apart from the machines it must be kept apart from (${p.heads})`,
  signal_pending: () => "the machine's head did not answer in time; the signal will be sent when it does",
  event_streams: (p) => `Too many event streams open: at most ${p.max} at once; close one first`,
};

function words(table: Record<string, Words>, p: ErrorParams, field = ''): string | undefined {
  return typeof p.reason === 'string' ? table[p.reason]?.(p, field) : undefined;
}

/** An issue about a field, as a Rails-style message. */
export function fieldMessage(i: Issue, wireName: string): string {
  const p = i.params ?? {};
  const said = words(REASONS, p, wireName);
  if (said !== undefined) return said;
  switch (i.code) {
    // The schedule routes' own words for their one required field.
    case 'required': return wireName === 'interval_seconds' ? 'Missing interval_seconds parameter' : "can't be blank";
    case 'not_a_number': return 'is not a number';
    case 'not_in_list': return 'is not included in the list';
    case 'taken': return 'has already been taken';
    case 'too_short': return `is too short (minimum is ${p.min} characters)`;
    case 'too_long': return `is too long (maximum is ${p.max} characters)`;
    case 'too_many': return `has too many items (maximum is ${p.max})`;
    case 'out_of_range':
      if (p.gt !== undefined) return `must be greater than ${p.gt}`;
      if (p.min !== undefined && p.max !== undefined) return `must be between ${p.min} and ${p.max}${p.unit ? ` (${p.unit})` : ''}`;
      if (p.min !== undefined) return `must be greater than or equal to ${p.min}`;
      return `must be less than or equal to ${p.max}`;
    default: return 'is invalid';
  }
}

/** `discs[1].sizeMiB` → ['discs', 1, 'size']. */
function wirePath(field: string): (string | number)[] {
  return field.split(/[.[\]]+/).filter(Boolean).map((s) => (/^\d+$/.test(s) ? Number(s) : WIRE[s] ?? s));
}

/** A request's field issues as BigV's body: flat `{field: [messages]}`, a disc's under `discs[i]`
 *  in a list as long as the request's `discs` (a list given for the discs wins over a flat message). */
export function fieldBody(issues: readonly Issue[], body: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const requested = (body as { discs?: unknown } | null)?.discs;
  let discs: Record<string, string[]>[] | null = null;
  for (const i of issues) {
    const path = wirePath(i.field ?? 'base');
    if (path[0] === 'discs' && typeof path[1] === 'number' && path.length >= 3) {
      discs ??= Array.from({ length: Array.isArray(requested) ? requested.length : 0 }, () => ({}));
      while (discs.length <= path[1]) discs.push({});
      const key = String(path[2]);
      // A schedule's issue is said on the disc's backup_schedules, naming its field; a missing interval is one not above 0.
      const sub = path.length >= 5 ? String(path[4]) : null;
      const said = sub === null ? fieldMessage(i, key)
        : `${sub} ${fieldMessage(i.code === 'required' ? { code: 'out_of_range', params: { gt: 0 } } : i, sub)}`;
      (discs[path[1]]![key] ??= []).push(said);
      continue;
    }
    const key = String([...path].reverse().find((s) => typeof s === 'string') ?? 'base');
    ((out[key] ??= []) as string[]).push(fieldMessage(i, key));
  }
  if (discs) out.discs = discs;
  return out;
}

/** A DomainError as BigV's status and body (and a Retry-After when throttled). */
export function renderDomainError(err: DomainError, body: unknown): { status: number; body: unknown; retryAfter?: number } {
  const p = err.params;
  if (err.field !== undefined) {
    const status = err.code === 'conflict' ? 409 : err.code === 'reused' ? 422 : 400;
    return { status, body: fieldBody(err.issues, body) };
  }
  switch (err.code) {
    case 'not_found': return { status: 404, body: { error: `${p.entity} not found` } };
    case 'forbidden': return { status: 403, body: { error: words(FORBIDDEN, p) ?? 'You do not have permission to do that' } };
    case 'unauthorized': return { status: 401, body: { error: UNAUTHORIZED[String(p.reason)] ?? UNAUTHORIZED.missing } };
    case 'throttled': return { status: 429, body: { error: words(REQUEST, p) ?? throttledText(Number(p.retryAfter)) }, retryAfter: Number(p.retryAfter) };
    case 'precondition_failed': return { status: 412, body: { error: words(REQUEST, p) } };
    case 'conflict': return { status: 409, body: { error: words(REQUEST, p) } };
    case 'unavailable': return { status: 503, body: { error: words(REQUEST, p) } };
    default: return { status: 400, body: { error: err.code } };
  }
}

export function throttledText(retryAfter: number): string {
  return `Too many failed attempts: try again in ${retryAfter} second${retryAfter === 1 ? '' : 's'}`;
}

export function bigvErrorHandler(err: FastifyError & { validation?: AjvError[]; validationContext?: string }, req: FastifyRequest, reply: FastifyReply) {
  if (err instanceof DomainError) {
    const r = renderDomainError(err, req.body);
    if (r.retryAfter !== undefined) reply.header('retry-after', String(r.retryAfter));
    return reply.code(r.status).send(r.body);
  }
  if (err instanceof UnusableInput) {
    // A name with a NUL in a path names nothing; in a query or body it is a bad value.
    if (err.part === 'params') return reply.code(404).send({ error: 'Not found' });
    return reply.code(400).send({ [err.field]: ['must not contain NUL characters'] });
  }
  if (err.validation) {
    // A path segment outside its schema (longer than any id or name) names nothing.
    if (err.validationContext === 'params') return reply.code(404).send({ error: 'Not found' });
    const data = err.validationContext === 'querystring' ? req.query : req.body;
    return reply.code(400).send(fieldErrors(err.validation, data, err.validationContext));
  }
  if (err.code === 'HANGAR_BAD_JSON') return reply.code(400).send({ body: ['is not valid JSON'] });
  if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return reply.code(413).send({ body: ['is too large'] });
  if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return reply.code(415).send({ body: ['must be application/json'] });
  if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
    return reply.code(err.statusCode).send({ error: err.message });
  }
  req.log.error({ err }, 'unhandled error');
  return reply.code(500).send({ error: 'Internal server error' });
}
