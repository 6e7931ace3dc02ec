// A VM's version on the wire: a strong ETag `"v<version>"` on reads, If-Match on updates (RFC 9110
// §13.1.1: If-Match compares strongly, so a weak tag never matches; `*` matches any existing VM).
export function versionTag(version: number): string {
  return `"v${version}"`;
}

/** The versions an If-Match header accepts; undefined when any will do (no header, or `*`). */
export function ifMatchVersions(header: string | undefined): number[] | undefined {
  if (header === undefined || header.trim() === '*') return undefined;
  const versions: number[] = [];
  for (const tag of header.split(',')) {
    const m = /^"v(\d{1,15})"$/.exec(tag.trim());
    if (m) versions.push(Number(m[1]));
  }
  return versions;
}
