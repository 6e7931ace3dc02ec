// The config drive of docs/config-drive.md: an ISO9660 volume labelled `cidata` carrying the
// first-boot configuration. Its content is a pure function of the spec and the stored FirstBoot;
// the ISO is rewritten with genisoimage (~15 ms) only when that content changes.
import crypto from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import os from 'node:os';
import type { FirstBoot, MachineSpec, NicSpec } from '../driver.js';
import { run } from './exec.js';
import { makePrivate } from '../../core/private-files.js';

/** The `network` file: shell variables describing the first NIC. */
export function networkFile(nic: NicSpec | undefined): string {
  if (!nic) return 'MODE=none\n';
  const lines: string[] = [];
  const ipv4 = nic.ipv4[0];
  if (nic.network.mode === 'bridge' && ipv4 && nic.prefix4 !== null) {
    lines.push('MODE=static', `MAC='${nic.mac}'`, `IPV4='${ipv4}/${nic.prefix4}'`);
    if (nic.gateway4) lines.push(`GATEWAY4='${nic.gateway4}'`);
    const ipv6 = nic.ipv6[0];
    if (ipv6) lines.push(`IPV6='${ipv6.includes('/') ? ipv6 : `${ipv6}/64`}'`);
  } else {
    lines.push('MODE=dhcp', `MAC='${nic.mac}'`);
  }
  return lines.join('\n') + '\n';
}

/** cloud-init's NoCloud takes a drive that has both `meta-data` and `user-data`; its instance-id is
 *  the drive's (YAML: JSON strings are YAML strings). */
export function metaData(instanceId: string, hostname: string): string {
  return `instance-id: ${JSON.stringify(instanceId)}\nlocal-hostname: ${JSON.stringify(hostname)}\n`;
}

/** File name → content of the config drive. Files without content are left out. */
export function configDriveFiles(spec: MachineSpec, firstBoot: FirstBoot | null): Record<string, string> {
  const instanceId = firstBoot?.instanceId ?? `hangar-vm${spec.vmId}-unimaged`;
  const files: Record<string, string> = {
    'instance-id': instanceId + '\n',
    'meta-data': metaData(instanceId, spec.hostname),
    hostname: spec.hostname + '\n',
    network: networkFile(spec.nics[0]),
  };
  if (firstBoot?.rootPasswordHash) files['root-password-hash'] = firstBoot.rootPasswordHash + '\n';
  if (firstBoot?.authorizedKeys.trim()) files.authorized_keys = firstBoot.authorizedKeys.trim() + '\n';
  if (firstBoot?.firstbootScript.trim()) files['user-data'] = firstBoot.firstbootScript;
  return files;
}

function readOr(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

/** Write the ISO at `isoPath` (atomically: a reader never sees half a file), unless the one there
 *  already holds these files (its content hash is kept beside it). Returns whether it was written. */
export async function writeConfigDrive(isoPath: string, files: Record<string, string>, genisoimage = 'genisoimage'): Promise<boolean> {
  const hash = crypto.createHash('sha256').update(JSON.stringify(Object.entries(files).sort(([a], [b]) => a.localeCompare(b)))).digest('hex');
  const hashFile = `${isoPath}.sha256`;
  // Checked synchronously (two small system calls): this is on every power-on's path.
  if (readOr(hashFile) === hash && existsSync(isoPath)) return false;
  await fs.rm(hashFile, { force: true });
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'hangar-cidata-'));
  try {
    const tree = path.join(dir, 'tree');
    await fs.mkdir(tree, { mode: 0o700 });
    for (const [name, content] of Object.entries(files)) {
      await fs.writeFile(path.join(tree, name), content, { mode: 0o600 });
    }
    const tmp = `${isoPath}.tmp`;
    await run(genisoimage, ['-quiet', '-output', tmp, '-volid', 'cidata', '-joliet', '-rock', tree]);
    await makePrivate(tmp); // it carries the root password hash and the firstboot script
    await fs.rename(tmp, isoPath);
    await fs.writeFile(hashFile, hash, { mode: 0o600 });
    return true;
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}
