// Templates (docs/vm-ops.md): a new image in the catalogue, owned by the VM's account, made by the
// VM's head from one of its discs (a full copy, live when it runs; the system disc boots as the image
// the VM was last imaged with), or by a head from a volume its account holds with no VM. The row is `pending` while the head makes it, then `active` (or `failed`), and a
// later create or reimage names it like any image (its name, id or public id); placement finds it on
// the head that made it, which reports it among its images as soon as it is made.
import type { Hangar } from './context.js';
import { forbidden, Issues, notFound, refused } from './errors.js';
import { holds, type Principal } from './principal.js';
import type { VmPlace } from './resolve.js';
import { lockLiveVm } from './locks.js';
import { withTransaction } from './transaction.js';
import { imageByRef } from './images.js';
import { checkLabel } from './vms/identity.js';
import { enqueue, getOperation } from '../operations/queue.js';
import { imageEntry, resolveImage, type ImageSupports } from '../images/catalogue.js';
import { discsOf, lockHeldVolume, poolHead } from '../store/repos/discs.js';
import type { DiscRow } from '../store/schema.js';
import { checkVolumeIdle, heldVolumes } from './holdings.js';
import * as repo from '../store/repos/images.js';
import type { Trx } from '../store/repos/types.js';
import type { Dialect } from './urls.js';

const NO_FEATURES: ImageSupports = { password: false, sshKey: false, cloudInit: false, firstbootScript: false };

/** A DNS-label name from a label: `tpl-<slug>`, then `-2`, `-3` … until free. */
async function freeImageName(trx: Trx, label: string): Promise<string> {
  const slug = label.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 48).replace(/-+$/, '');
  const base = slug ? `tpl-${slug}` : 'tpl';
  const taken = new Set(await repo.imageNamesLike(trx, base));
  if (!taken.has(base)) return base;
  for (let n = 2; ; n++) if (!taken.has(`${base}-${n}`)) return `${base}-${n}`;
}

export interface TemplateMade { image: repo.Image; operation: string }

type Disc = Pick<DiscRow, 'id' | 'label' | 'storage_grade' | 'size'>;

/** The catalogue row of a template of `disc`, `pending` until its head has made it, and the operation that makes it. */
async function queueTemplate(
  trx: Trx, h: Hangar, p: Principal, t: { label: string; accountId: number; disc: Disc; vmId: number | null; headId: number; fromImage: string | null; dialect: Dialect },
): Promise<{ image: repo.Image; opId: number }> {
  const now = h.now();
  const from = t.fromImage === null ? null : imageEntry(t.fromImage) ?? await repo.imageByRef(trx, t.fromImage);
  const image = await repo.insertImage(trx, {
    name: await freeImageName(trx, t.label), label: t.label, ownerAccountId: t.accountId, supports: from?.supports ?? NO_FEATURES,
    operatingSystem: from?.operatingSystem ?? null, distro: from?.distro ?? null, minDiscMiB: t.disc.size, now,
  });
  const disc = { id: t.disc.id, vmId: t.vmId, label: t.disc.label, grade: t.disc.storage_grade, size: t.disc.size };
  const opId = await enqueue(trx, {
    kind: 'image.template', vmId: t.vmId, headId: t.headId, userId: p.userId, now, dialect: t.dialect,
    args: { imageId: image.id, name: image.name, description: t.label, disc, fromImage: t.fromImage },
  });
  return { image, opId };
}

async function made(h: Hangar, image: repo.Image, opId: number): Promise<TemplateMade> {
  return { image: (await repo.imageByRef(h.db, image.uuid)) ?? image, operation: (await getOperation(h.db, opId))!.uuid };
}

/** A template of one of the VM's discs (`discId`; default its first, the system disc). Only the system
 *  disc boots as the image the VM was last imaged with; any other boots through the firmware. */
export async function createTemplate(h: Hangar, p: Principal, at: VmPlace, input: { label?: string; discId?: number } = {}, dialect: Dialect = 'bigv'): Promise<TemplateMade> {
  if (!holds(p, { accountId: at.account.id, groupId: at.group.id, vmId: at.vm.id }, 'vm_admin')) throw forbidden('create_template');
  if (at.vm.deleted) throw refused('deleted', 'vm_deleted', {}, 'state');
  const errs = new Issues();
  const label = (input.label === undefined ? null : checkLabel(errs, input.label)) ?? `${at.vm.label ?? at.vm.name} template`;
  errs.throwIfAny();
  const { image, opId, headId } = await withTransaction(h.db, async (trx) => {
    const vm = await lockLiveVm(trx, at);
    if (vm.head_id === null) throw refused('virtual_machine', 'vm_not_placed', {}, 'state');
    const all = await discsOf(trx, vm.id);
    const disc = input.discId === undefined ? all[0] : all.find((d) => d.id === input.discId);
    if (!disc) throw refused('discs', 'no_disc_for_template', {}, 'state');
    // The system disc boots as the image the VM was last imaged with (its kernel), with that image's features.
    const fromImage = disc !== all[0] || vm.last_imaged_with === null ? null : resolveImage(vm.last_imaged_with) ?? vm.last_imaged_with;
    const queued = await queueTemplate(trx, h, p, { label, accountId: at.account.id, disc, vmId: vm.id, headId: vm.head_id, fromImage, dialect });
    return { ...queued, headId: vm.head_id };
  });
  await h.heads.kick(headId, at.vm.id);
  return made(h, image, opId);
}

/** A template of a volume the account holds with no VM (account_admin over it), made by the head its
 *  file is on; it boots through the firmware (no image's kernel is known for it). */
export async function createTemplateFromVolume(h: Hangar, p: Principal, discUuid: string, input: { label?: string } = {}, dialect: Dialect = 'bigv'): Promise<TemplateMade> {
  const held = (await heldVolumes(h, p)).find((v) => v.disc.uuid === discUuid);
  if (!held) throw notFound('disc');
  const errs = new Issues();
  const label = (input.label === undefined ? null : checkLabel(errs, input.label)) ?? `${held.disc.label} template`;
  errs.throwIfAny();
  const headId = held.disc.storage_pool_id === null ? null : await poolHead(h.db, held.disc.storage_pool_id);
  if (headId === null) throw refused('disc', 'volume_not_placed', {}, 'state');
  const { image, opId } = await withTransaction(h.db, async (trx) => {
    const disc = await lockHeldVolume(trx, held.disc.id, held.account.id);
    if (!disc) throw notFound('disc');
    await checkVolumeIdle(trx, headId, disc.id);
    return queueTemplate(trx, h, p, { label, accountId: held.account.id, disc, vmId: null, headId, fromImage: null, dialect });
  });
  await h.heads.kick(headId, null);
  return made(h, image, opId);
}

/** The account image (a template) a distribution names, when it is not a built-in one: visible to the
 *  caller and made (active); null otherwise (the built-in catalogue's rules then answer). */
export async function templateFor(h: Hangar, p: Principal, distribution: string | undefined): Promise<repo.Image | null> {
  if (!distribution || resolveImage(distribution) !== null) return null;
  const img = await imageByRef(h, p, distribution).catch(() => null);
  return img && img.source === 'template' && img.status === 'active' ? img : null;
}

/** What an ended image.template leaves on its row (whoever ends it: the head or the sweeper). */
export async function templateEnded(trx: Trx, imageId: number, error: string | null): Promise<void> {
  await repo.setImageStatus(trx, imageId, error === null ? 'active' : 'failed');
}

/**
 * Take an account's own image (a template) out of the catalogue: an account_admin of its account may,
 * once the head has finished making it. VMs made from it keep their discs. The head's copy stays until
 * its admin clears it: a head is asked to act only through an operation on a VM, and this has none.
 */
export async function deleteTemplate(h: Hangar, p: Principal, image: repo.Image): Promise<void> {
  if (image.ownerAccountId === null) throw notFound('image');
  if (!holds(p, { accountId: image.ownerAccountId }, 'account_admin')) throw forbidden('delete_template');
  if (image.status === 'pending') throw refused('image', 'template_pending', {}, 'state');
  if (!(await repo.deleteImage(h.db, image.id))) throw notFound('image');
}
