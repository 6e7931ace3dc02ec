// Zones (core/zones.ts, migration 013): rows named by id, public id or name (a DNS label), with
// whether an online head is in each.
import { randomUUID } from 'node:crypto';
import { whereRef } from '../../core/ids.js';
import type { ZoneRow } from '../schema.js';
import type { Db } from './types.js';

export type ZoneDbRow = ZoneRow & { online_heads: number };

function zonesWithHeads(db: Db) {
  return db.selectFrom('zones as z').selectAll('z')
    .select((eb) => eb.selectFrom('heads as h').select(eb.fn.countAll<number>().as('n'))
      .whereRef('h.zone_id', '=', 'z.id').where('h.online', '=', 1).as('online_heads'));
}

export async function allZones(db: Db): Promise<ZoneDbRow[]> {
  return (await zonesWithHeads(db).orderBy('z.name').execute()).map((r) => ({ ...r, online_heads: Number(r.online_heads) }));
}

export async function zoneByRef(db: Db, segment: string): Promise<ZoneDbRow | undefined> {
  const r = await whereRef(zonesWithHeads(db), segment, { id: 'z.id', uuid: 'z.uuid', name: 'z.name', lower: true }).executeTakeFirst();
  return r && { ...r, online_heads: Number(r.online_heads) };
}

/** The id of the zone called `name`, made (label = name) if there is none: a head registering in a new zone. */
export async function ensureZone(db: Db, name: string, now: number): Promise<number> {
  // Read first: the row nearly always exists, and an insert would spend a sequence value each time.
  const found = await db.selectFrom('zones').select('id').where('name', '=', name).executeTakeFirst();
  if (found) return found.id;
  await db.insertInto('zones').values({ uuid: randomUUID(), name, label: name, region: null, created_at: now })
    .onConflict((oc) => oc.column('name').doNothing()).execute();
  return (await db.selectFrom('zones').select('id').where('name', '=', name).executeTakeFirstOrThrow()).id;
}

export async function setZoneLabel(db: Db, id: number, label: string): Promise<void> {
  await db.updateTable('zones').set({ label }).where('id', '=', id).execute();
}
