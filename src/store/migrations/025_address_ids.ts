// A public id (UUID v4) for every IP address row (e24cloud shows an address's `id`): existing rows
// get one here, unique and required as migration 009 made them for the other entities. An address
// gets a new one each time it leaves its pool (store/repos/ipam.ts): the id names one holding of the
// address, so an id a tenant once saw never names what another tenant holds later.
import type { Kysely } from 'kysely';
import { addPublicIds } from './009_public_ids.js';

export async function up(db: Kysely<any>): Promise<void> {
  await addPublicIds(db, 'ips');
}
