// The cluster's catalogue: its fixed vocabularies and limits (each dialect shows it in its own shape:
// BigV's `GET /definitions` is api/bigv/present.ts presentDefinitions).
import type { Store } from '../store/db.js';
import { IMAGES } from '../images/catalogue.js';
import { zoneNames } from '../store/repos/heads.js';

export const STORAGE_GRADES: Record<string, string> = { sata: 'Standard SSD', ssd: 'Premium SSD', archive: 'Archive storage' };
export const HARDWARE_PROFILES = ['virtio2013', 'compatibility2013'] as const;
export const DEFAULT_HARDWARE_PROFILE = 'virtio2013';

export const KEYMAPS = ['ar', 'de-ch', 'es', 'fo', 'fr-ca', 'hu', 'ja', 'mk', 'no', 'pt-br', 'sv', 'da', 'en-gb', 'et', 'fr', 'fr-ch', 'is', 'lt', 'nl', 'pl', 'ru', 'th', 'de', 'en-us', 'fi', 'fr-be', 'hr', 'it', 'lv', 'nl-be', 'pt', 'sl', 'tr'];

export const SENDKEYS = ['shift', 'shift_r', 'alt', 'alt_r', 'altgr', 'altgr_r', 'ctrl', 'ctrl_r', 'menu', 'esc', '1', '2', '3', '4', '5', '6', '7', '8', '9', '0', 'minus', 'equal', 'backspace', 'tab', 'q', 'w', 'e', 'r', 't', 'y', 'u', 'i', 'o', 'p', 'ret', 'a', 's', 'd', 'f', 'g', 'h', 'j', 'k', 'l', 'z', 'x', 'c', 'v', 'b', 'n', 'm', 'comma', 'dot', 'slash', 'asterisk', 'spc', 'caps_lock', 'f1', 'f2', 'f3', 'f4', 'f5', 'f6', 'f7', 'f8', 'f9', 'f10', 'f11', 'f12', 'num_lock', 'scroll_lock', 'kp_divide', 'kp_multiply', 'kp_subtract', 'kp_add', 'kp_enter', 'kp_decimal', 'sysrq', 'kp_0', 'kp_1', 'kp_2', 'kp_3', 'kp_4', 'kp_5', 'kp_6', 'kp_7', 'kp_8', 'kp_9', 'print', 'home', 'pgup', 'pgdn', 'end', 'left', 'up', 'down', 'right', 'insert', 'delete'];

export const LIMITS = {
  cores: { min: 1, max: 32 },
  memory: { min: 128, max: 131072 },
  discSize: { min: 64, max: 2 * 1024 * 1024 },
  discsPerVm: 8,
  extraIpsPerVm: 4,
} as const;


export interface Catalogue {
  images: { name: string; description: string }[];
  grades: { name: string; description: string }[];
  zones: string[];
  hardwareProfiles: string[];
  keymaps: string[];
  sendkeys: string[];
  limits: typeof LIMITS;
}

export async function catalogue(db: Store): Promise<Catalogue> {
  return {
    images: IMAGES.map((i) => ({ name: i.name, description: i.description })),
    grades: Object.entries(STORAGE_GRADES).map(([name, description]) => ({ name, description })),
    zones: await zoneNames(db),
    hardwareProfiles: [...HARDWARE_PROFILES],
    keymaps: KEYMAPS,
    sendkeys: SENDKEYS,
    limits: LIMITS,
  };
}
