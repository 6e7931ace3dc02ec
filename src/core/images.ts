// Images (docs/domain.md §12): the public catalogue and an account's own images, and the one rule
// that a request may only use what the image supports (a password, an SSH key, a firstboot script,
// cloud-init user data), checked where a VM is created or reimaged whatever the dialect.
import type { Hangar } from './context.js';
import { isClusterAdmin, type Principal } from './principal.js';
import { notFound, type Issues } from './errors.js';
import type { ImageSupports } from '../images/catalogue.js';
import * as repo from '../store/repos/images.js';

export type { Image } from '../store/repos/images.js';

/** The accounts whose images (and ISOs) the caller sees besides the public ones: those it holds a privilege in. */
export function ownAccounts(p: Principal): number[] | 'all' {
  if (isClusterAdmin(p)) return 'all';
  return [...new Set(p.grants.flatMap((g) => (g.accountId === null ? [] : [g.accountId])))];
}

/** The public catalogue and the images of the caller's accounts (every image for a cluster admin), by name. */
export function listImages(h: Hangar, p: Principal): Promise<repo.Image[]> {
  return repo.imagesVisible(h.db, ownAccounts(p));
}

/** The image a segment names (id, public id or name) among those the caller sees; NotFound otherwise. */
export async function imageByRef(h: Hangar, p: Principal, segment: string): Promise<repo.Image> {
  const img = await repo.imageByRef(h.db, segment);
  const own = ownAccounts(p);
  if (!img || (img.ownerAccountId !== null && own !== 'all' && !own.includes(img.ownerAccountId))) throw notFound('image');
  return img;
}

/** What a create or reimage request asks the image to take; each field is the input's field path. */
export interface ImageUse { rootPassword?: string; sshPublicKey?: string; firstbootScript?: string }

/**
 * Whether user data is cloud-init's (docs/config-drive.md): the formats cloud-init reads, a `#!` script
 * aside. The config drive carries one `user-data`: a `#!` script (or any other text) is run by Hangar's own
 * first-boot runner on every image; cloud-init's formats are applied by cloud-init, on images that have it.
 * The guest tells them apart the same way (guest/common/cidata.sh cidata_user_data_is_cloud_init).
 */
export function isCloudInitData(userData: string): boolean {
  return /^\s*(#cloud-config|#include|#cloud-boothook|#part-handler|## template: jinja|content-type:|mime-version:)/i.test(userData);
}

const FEATURES: [keyof ImageUse, (value: string) => keyof ImageSupports][] = [
  ['rootPassword', () => 'password'], ['sshPublicKey', () => 'sshKey'],
  ['firstbootScript', (v) => (isCloudInitData(v) ? 'cloudInit' : 'firstbootScript')],
];

/**
 * A request that uses a feature the image lacks is refused on that field (`invalid`, reason
 * `not_supported`, params `feature` and `image`). `prefix`: where the input sits (`image.`), if anywhere.
 */
export function checkImageSupports(errs: Issues, image: { name: string; supports?: ImageSupports }, use: ImageUse, prefix = ''): void {
  for (const [field, featureOf] of FEATURES) {
    const value = use[field];
    if (!value) continue;
    const feature = featureOf(value);
    if (!image.supports?.[feature]) errs.add(`${prefix}${field}`, 'invalid', { reason: 'not_supported', feature, image: image.name });
  }
}
