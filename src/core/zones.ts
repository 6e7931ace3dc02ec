// Zones (docs/domain.md §6): where heads, and so VMs, volumes and addresses, are. BigV names a zone
// (`zone_name`), Gigas by id (`location_id`), e24cloud by public id (`zone_id`) and shows its label.
// Zones are a catalogue: any signed-in caller reads them; only a cluster admin labels them.
import type { Hangar } from './context.js';
import { forbidden, invalid, notFound } from './errors.js';
import { isClusterAdmin, type Principal } from './principal.js';
import * as repo from '../store/repos/zones.js';
import type { ZoneDbRow } from '../store/repos/zones.js';

export interface Zone {
  id: number;
  publicId: string;
  /** A short DNS label, BigV's `zone_name`. */
  name: string;
  /** Free text an admin sets (e24 shows it); the name until then. */
  label: string;
  region: string;
  /** An online head is in the zone. */
  available: boolean;
  createdAt: number;
}

function zoneValue(h: Hangar, r: ZoneDbRow): Zone {
  return {
    id: r.id, publicId: r.uuid, name: r.name, label: r.label, region: r.region ?? h.config.clusterDomain,
    available: r.online_heads > 0, createdAt: r.created_at,
  };
}

export async function listZones(h: Hangar): Promise<Zone[]> {
  return (await repo.allZones(h.db)).map((r) => zoneValue(h, r));
}

/** The zone a segment names (id, public id or name: core/ids.ts), or not_found. */
export async function zoneByRef(h: Hangar, segment: string): Promise<Zone> {
  const r = await repo.zoneByRef(h.db, segment);
  if (!r) throw notFound('zone');
  return zoneValue(h, r);
}

export const ZONE_LABEL_MAX = 255;

/** A cluster admin sets the label (trimmed, 1–255 characters). */
export async function setZoneLabel(h: Hangar, p: Principal, segment: string, label: string): Promise<Zone> {
  if (!isClusterAdmin(p)) throw forbidden('label_zone');
  const zone = await zoneByRef(h, segment);
  const text = typeof label === 'string' ? label.trim() : '';
  if (!text) throw invalid('label', 'required');
  if (text.length > ZONE_LABEL_MAX) throw invalid('label', 'too_long', { max: ZONE_LABEL_MAX });
  await repo.setZoneLabel(h.db, zone.id, text);
  return { ...zone, label: text };
}
