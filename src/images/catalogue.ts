// The OS images Hangar knows how to build (BigV `definitions` distributions). A name either is an
// image of its own or an alias that real clients send by default (docker-machine asks for
// `stretch`, bytemark-client for `symbiosis`, bigv-python for `wheezy`), served by a real image.
export interface ImageEntry { name: string; description: string; aliasOf?: string }

export const IMAGES: readonly ImageEntry[] = [
  { name: 'tiny', description: 'Hangar tiny: busybox + dropbear (boots in seconds)' },
  { name: 'bookworm', description: 'Debian 12 bookworm (64 bit)' },
  { name: 'stretch', aliasOf: 'bookworm', description: 'Debian (served by the Debian 12 bookworm image)' },
  { name: 'symbiosis', aliasOf: 'bookworm', description: 'Symbiosis (served by the Debian 12 bookworm image)' },
  { name: 'wheezy', aliasOf: 'bookworm', description: 'Debian (served by the Debian 12 bookworm image)' },
];

/** The image that really backs a distribution name, or null when the name is unknown. */
export function resolveImage(name: string): string | null {
  const entry = IMAGES.find((i) => i.name === name);
  if (!entry) return null;
  return entry.aliasOf ?? entry.name;
}
