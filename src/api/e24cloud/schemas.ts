// e24cloud's wire shapes (e24cloud.md, seed 004): request bodies and the answers' contracts. Every
// answer is `{"success":true, ...}` or the error envelope (errors.ts); ids are public ids (UUIDs),
// except the integers e24cloud types as int (network ids, SSH key ids).
import { Type, type TProperties } from 'typebox';
import { Closed, Nullable, Str, Int, Bool, NStr, responses } from '../responses.js';

export const E24Error = Closed({
  success: Type.Literal(false), error: Str, code: Str, field: Type.Optional(Str),
}, { $id: 'E24Error', description: 'An e24cloud error' });

/** A route answering `{"success":true, ...props}` with 200 (the clients take any other status as a failure). */
export const e24 = (props: TProperties = {}) => responses({ 200: Type.Object({ success: Type.Literal(true), ...props }), '4xx': E24Error });

export const UUID = Type.String({ pattern: '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$' });
export const NoParams = Type.Object({});
export const NoQuery = Type.Object({});
export const IdP = Type.Object({ id: UUID });
export const IdRef = Closed({ id: Str, name: Str });
export const NIdRef = Closed({ id: NStr, name: NStr });
const Num = Type.Number();

export const VirtualMachine = Closed({
  id: Str, label: Str, cores: Int, ram: Int, adm: Bool,
  system: NIdRef,
  cost_per_hour: Num,
  state: Type.Union(['online', 'offline', 'installing', 'deleting'].map((s) => Type.Literal(s))),
  transfer_used: Nullable(Num),
  owner: IdRef,
  public_interface: Closed({
    primary_ip_ipv4address: NStr,
    ipv4_addresses: Type.Array(Closed({ id: Str, ipv4_address: Str })),
  }),
  storage_volumes: Type.Array(Closed({ id: Str, size: Num, system_disk: Bool, type: Str })),
  zone: NIdRef,
  networks: Type.Array(Closed({ id: Int, label: Str, mac_address: Str, type: Str })),
  groups: Type.Array(IdRef),
}, { $id: 'E24VirtualMachine', description: 'An e24cloud virtual machine' });

export const CreateVmB = Type.Object({
  create_vm: Type.Object({
    cpus: Int, ram: Int, name: Str,
    compute_zone_id: Type.Optional(Str), zone_id: Type.Optional(Str),
    boot_type: Type.Optional(Type.Union([Type.Literal('image'), Type.Literal('cdrom')])),
    cdrom: Type.Optional(Str), os: Type.Optional(Str), password: Type.Optional(Str),
    key_id: Type.Optional(Type.Union([Int, Str])), user_data: Type.Optional(Type.String({ maxLength: 65536 })),
  }, { additionalProperties: false }),
}, { additionalProperties: false });

/** `wait_for`: minutes, fractions allowed (0 forces at once). */
export const WaitFor = Type.Number({ minimum: 0, maximum: 30 });
export const ResizeB = Type.Object({ cores: Type.Optional(Int), ram: Type.Optional(Int), wait_for: Type.Optional(WaitFor) }, { additionalProperties: false });
export const WaitB = Type.Object({ wait_for: Type.Optional(WaitFor) }, { additionalProperties: false });
export const EmptyB = Type.Object({}, { additionalProperties: false });
export const RenameB = Type.Object({ name: Str }, { additionalProperties: false });
export const DeleteB = Type.Object({ deleteResources: Type.Optional(Type.Union([Type.Literal(0), Type.Literal(1)])) }, { additionalProperties: false });

/** The VNC console (seed: port, password, host); expires_at is Hangar's: the password is refused from then on. */
export const Console = Closed({ host: Str, port: Int, password: Str, expires_at: Str });
