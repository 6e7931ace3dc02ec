// Placement: which head runs a VM, and which pool on it holds each disc. The claim is made with
// guarded UPDATEs inside the caller's transaction, so two brains can never over-commit a head.
import { invalid, refused } from '../core/errors.js';
import type { Trx } from '../store/repos/types.js';
import { adjustCompute, growPool, headNotes, onlineHeads, poolsByRoom, poolsInHeadsByRoom, releasePool } from '../store/repos/placement.js';
import { keepApart } from './segregation.js';

export interface PlacementRequest {
  zone: string | null; cores: number; memory: number; discs: { grade: string; size: number }[];
  /** The image the machine is to be imaged with (a real image, not an alias), or null. */
  image: string | null;
  /** The VM being placed, when it exists: its segregation pairs are honoured (scheduler/segregation.ts). */
  vmId?: number;
  /** VMs it must not share a head with besides its pairs (a create naming a partner). */
  apartFrom?: number[];
  /** Only this head (a clone: the source's discs are files there). */
  onHead?: number;
}
export interface Placement { headId: number; zone: string; poolIds: number[] }

export async function place(trx: Trx, req: PlacementRequest): Promise<Placement> {
  // Spread: the head with the most free memory first.
  const heads = await onlineHeads(trx, req.zone);
  if (heads.length === 0) {
    const down = await headNotes(trx, req.zone);
    if (req.zone && down.length === 0) throw invalid('zone_name', 'not_in_list');
    const why = down.map((h) => `${h.label}: ${h.note ?? 'offline'}`).join('; ');
    throw refused('zone_name', 'no_heads', { heads: why || null }, 'unavailable');
  }
  // A head that has not built the image is no candidate: the machine would stay off with a blank disc.
  const candidates = (req.image === null ? heads : heads.filter((h) => hasImage(h.images, req.image!)))
    .filter((h) => req.onHead === undefined || h.id === req.onHead);
  if (candidates.length === 0) {
    throw refused('distribution', 'image_not_in_zone', { zone: req.zone ?? null, image: req.image }, 'not_in_list');
  }
  await keepApart(trx, req, candidates);
  for (const head of candidates) {
    // The head's row first, then its pools (the lock order of core/locks.ts): two creates, or a create
    // and a purge, taking one head's pools in different orders then wait on the head, not on each other.
    if (!(await claimCompute(trx, head.id, req.cores, req.memory))) continue;
    const pools = await poolsFor(trx, head.id, req.discs);
    if (pools) return { headId: head.id, zone: head.zone, poolIds: pools };
    // Not this head after all: what was claimed on it is given back before the next one is tried.
    await claimCompute(trx, head.id, -req.cores, -req.memory);
  }
  throw refused('memory', 'zone_full', {}, 'no_capacity');
}

/** Where a volume with no VM goes (e24cloud `PUT /v2/storage-volumes`): the pool of its grade with the
 *  most room on an online head of the zone, its space claimed. Refused when no head of the zone is
 *  online, or none has room in the grade (nothing is claimed then). */
export async function placeVolume(trx: Trx, req: { zone: string; grade: string; size: number }): Promise<{ headId: number; poolId: number }> {
  const heads = await onlineHeads(trx, req.zone);
  if (heads.length === 0) throw refused('zone_id', 'no_heads', { heads: null }, 'unavailable');
  const rooms = await poolsInHeadsByRoom(trx, heads.map((h) => h.id), req.grade);
  for (const { id, headId } of rooms) if (await growPool(trx, id, req.size)) return { headId, poolId: id };
  throw refused('size', 'grade_space', { grade: req.grade }, 'no_capacity');
}

/** Whether a head's reported images (the `heads.images` JSON array) include this one. */
export function hasImage(images: string, image: string): boolean {
  const list: unknown = JSON.parse(images);
  return Array.isArray(list) && list.includes(image);
}

async function poolsFor(trx: Trx, headId: number, discs: { grade: string; size: number }[]): Promise<number[] | null> {
  const ids: number[] = [];
  for (const d of discs) {
    const id = await claimDisc(trx, { headId, grade: d.grade }, d.size);
    if (id === null) {
      // The transaction goes on (to another head): the discs already claimed here are released.
      for (const [i, pool] of ids.entries()) await releaseDisc(trx, pool, discs[i]!.size);
      return null;
    }
    ids.push(id);
  }
  return ids;
}

/** Where a disc's space is taken: a new disc's from the roomiest pool of its grade on the head, a grown
 *  disc's from its own pool. */
export type DiscSpace = { grade: string } & ({ headId: number } | { poolId: number });

/** The one pool-claim rule (placement, disc create and grow): take `size` MiB where a pool's use stays
 *  within its capacity; the pool id, or null when none has room (nothing is claimed then). */
export async function claimDisc(trx: Trx, where: DiscSpace, size: number): Promise<number | null> {
  const pools = 'poolId' in where ? [where.poolId] : await poolsByRoom(trx, where.headId, where.grade);
  for (const id of pools) if (await growPool(trx, id, size)) return id;
  return null;
}

export async function releaseDisc(trx: Trx, poolId: number | null, size: number): Promise<void> {
  if (poolId === null) return;
  await releasePool(trx, poolId, size);
}

/** Adjust a head's claimed cores and memory by a delta; false when growing would over-commit it. */
export function claimCompute(trx: Trx, headId: number, cores: number, memory: number): Promise<boolean> {
  return adjustCompute(trx, headId, cores, memory);
}
