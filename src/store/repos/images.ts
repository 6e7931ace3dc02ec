// Images (migration 014): the public catalogue (owner null) and images accounts own.
import { randomUUID } from 'node:crypto';
import type { Selectable } from 'kysely';
import type { Db } from './types.js';
import type { ImagesTable } from '../schema.js';
import { IMAGES, type ImageSupports } from '../../images/catalogue.js';
import { whereRef } from '../../core/ids.js';

export interface Image {
  id: number; uuid: string; name: string; label: string;
  /** The image that really backs this name (its flags and sizes are that image's). */
  aliasOf: string | null;
  /** null: the public catalogue. */
  ownerAccountId: number | null;
  supports: ImageSupports;
  operatingSystem: string | null; distro: string | null;
  defaultDiscMiB: number | null; minDiscMiB: number | null;
  source: string; status: string; createdAt: number;
}

function image(r: Selectable<ImagesTable>): Image {
  return {
    id: r.id, uuid: r.uuid, name: r.name, label: r.label, aliasOf: r.alias_of, ownerAccountId: r.owner_account_id,
    supports: {
      password: !!r.supports_password, sshKey: !!r.supports_ssh_key, cloudInit: !!r.supports_cloud_init, firstbootScript: !!r.supports_firstboot_script,
    },
    operatingSystem: r.operating_system, distro: r.distro, defaultDiscMiB: r.default_disc_mib, minDiscMiB: r.min_disc_mib,
    source: r.source, status: r.status, createdAt: r.created_at,
  };
}

/** The public catalogue and the images of these accounts (every image when `accountIds` is 'all'), by name. */
export async function imagesVisible(db: Db, accountIds: number[] | 'all'): Promise<Image[]> {
  let q = db.selectFrom('images').selectAll();
  if (accountIds !== 'all') {
    q = q.where((eb) => (accountIds.length
      ? eb.or([eb('owner_account_id', 'is', null), eb('owner_account_id', 'in', accountIds)])
      : eb('owner_account_id', 'is', null)));
  }
  return (await q.orderBy('name').execute()).map(image);
}

/** The image a segment names (id, public id, or name in lower case), whoever owns it. */
export async function imageByRef(db: Db, segment: string): Promise<Image | undefined> {
  const row = await whereRef(db.selectFrom('images').selectAll(), segment, { id: 'id', uuid: 'uuid', name: 'name', lower: true }).executeTakeFirst();
  return row && image(row);
}

/** Names in use that start with `base` (for a free one). */
export async function imageNamesLike(db: Db, base: string): Promise<string[]> {
  return (await db.selectFrom('images').select('name').where('name', 'like', `${base}%`).execute()).map((r) => r.name);
}

/** An account's own image (a template), `pending` until its head has made it. */
export async function insertImage(trx: Db, i: {
  name: string; label: string; ownerAccountId: number; supports: ImageSupports; operatingSystem: string | null; distro: string | null;
  minDiscMiB: number | null; now: number;
}): Promise<Image> {
  const row = await trx.insertInto('images').values({
    uuid: randomUUID(), name: i.name, label: i.label, alias_of: null, owner_account_id: i.ownerAccountId,
    supports_password: +i.supports.password, supports_ssh_key: +i.supports.sshKey, supports_cloud_init: +i.supports.cloudInit,
    supports_firstboot_script: +i.supports.firstbootScript, operating_system: i.operatingSystem, distro: i.distro,
    default_disc_mib: i.minDiscMiB, min_disc_mib: i.minDiscMiB, source: 'template', status: 'pending', created_at: i.now,
  }).returningAll().executeTakeFirstOrThrow();
  return image(row);
}

export async function setImageStatus(trx: Db, id: number, status: 'active' | 'failed'): Promise<void> {
  await trx.updateTable('images').set({ status }).where('id', '=', id).execute();
}

/** Remove an image row; false when it was already gone. */
export async function deleteImage(db: Db, id: number): Promise<boolean> {
  const r = await db.deleteFrom('images').where('id', '=', id).executeTakeFirst();
  return Number(r.numDeletedRows) === 1;
}

/** The catalogue's columns of a public image: an alias has its target's flags and sizes. */
function catalogueColumns(name: string) {
  const entry = IMAGES.find((i) => i.name === name)!;
  const real = entry.aliasOf ? IMAGES.find((t) => t.name === entry.aliasOf)! : entry;
  const s = real.supports!;
  return {
    label: entry.description, alias_of: entry.aliasOf ?? null,
    supports_password: +s.password, supports_ssh_key: +s.sshKey, supports_cloud_init: +s.cloudInit, supports_firstboot_script: +s.firstbootScript,
    operating_system: real.operatingSystem ?? null, distro: real.distro ?? null,
    default_disc_mib: real.defaultDiscMiB ?? null, min_disc_mib: real.minDiscMiB ?? null,
  };
}

/**
 * Bring the public catalogue's rows in line with images/catalogue.ts (run at every store open): an image
 * that learnt a feature (bookworm's cloud-init) says so in a store made before, and a new entry gets its
 * row. Rows the catalogue no longer names stay (discs and templates may still name them). Several brains
 * may open the store at once: each change is the same, and an insert another made first is left alone.
 */
export async function syncCatalogue(db: Db, now = Date.now()): Promise<void> {
  const rows = await db.selectFrom('images').selectAll().where('owner_account_id', 'is', null).where('source', '=', 'built').execute();
  for (const i of IMAGES) {
    const want = catalogueColumns(i.name);
    const row = rows.find((r) => r.name === i.name);
    if (!row) {
      await db.insertInto('images').values({ uuid: randomUUID(), name: i.name, owner_account_id: null, ...want, source: 'built', status: 'active', created_at: now })
        .onConflict((oc) => oc.column('name').doNothing()).execute();
    } else if (Object.entries(want).some(([k, v]) => row[k as keyof typeof want] !== v)) {
      await db.updateTable('images').set(want).where('id', '=', row.id).execute();
    }
  }
}
