// The OS images Hangar knows how to build (BigV `definitions` distributions). A name either is an
// image of its own or an alias that real clients send by default (docker-machine asks for
// `stretch`, bytemark-client for `symbiosis`, bigv-python for `wheezy`), served by a real image.
// The store's `images` table holds its public catalogue: migration 014 copied this list and every
// store open brings those rows back in line with it (store/repos/images.ts syncCatalogue).

/** What a guest booted from the image reads from its config drive (docs/config-drive.md). */
export interface ImageSupports { password: boolean; sshKey: boolean; cloudInit: boolean; firstbootScript: boolean }

export interface ImageEntry {
  name: string; description: string; aliasOf?: string;
  /** Absent on an alias: it has its target's. */
  supports?: ImageSupports;
  operatingSystem?: string; distro?: string;
  /** The system disc's size when a dialect gives none (e24), and the smallest disc the image is written to. */
  defaultDiscMiB?: number; minDiscMiB?: number;
}

// Both take a password, an SSH key and a firstboot script from the config drive (Hangar's own
// first-boot scripts); bookworm also has Debian's cloud-init, which applies a #cloud-config user-data
// of the drive (read as a NoCloud source, guest/bookworm/cloud-init.cfg).
const CONFIG_DRIVE: ImageSupports = { password: true, sshKey: true, cloudInit: false, firstbootScript: true };
const WITH_CLOUD_INIT: ImageSupports = { ...CONFIG_DRIVE, cloudInit: true };

export const IMAGES: readonly ImageEntry[] = [
  {
    name: 'tiny', description: 'Hangar tiny: busybox + dropbear (boots in seconds)', supports: CONFIG_DRIVE,
    operatingSystem: 'linux', distro: 'busybox', defaultDiscMiB: 1024, minDiscMiB: 64,
  },
  {
    name: 'bookworm', description: 'Debian 12 bookworm (64 bit)', supports: WITH_CLOUD_INIT,
    operatingSystem: 'linux', distro: 'debian', defaultDiscMiB: 10240, minDiscMiB: 2048,
  },
  { name: 'stretch', aliasOf: 'bookworm', description: 'Debian (served by the Debian 12 bookworm image)' },
  { name: 'symbiosis', aliasOf: 'bookworm', description: 'Symbiosis (served by the Debian 12 bookworm image)' },
  { name: 'wheezy', aliasOf: 'bookworm', description: 'Debian (served by the Debian 12 bookworm image)' },
];

/** The entry that really backs a distribution name (an alias's target), or null when the name is unknown. */
export function imageEntry(name: string): ImageEntry | null {
  const entry = IMAGES.find((i) => i.name === name);
  if (!entry) return null;
  return entry.aliasOf ? IMAGES.find((i) => i.name === entry.aliasOf) ?? null : entry;
}

/** The image that really backs a distribution name, or null when the name is unknown. */
export function resolveImage(name: string): string | null {
  return imageEntry(name)?.name ?? null;
}
