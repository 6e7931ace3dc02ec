// Names of accounts, groups and VMs become DNS labels in `name.group.account.<cluster>`.
import { invalid, refused } from './errors.js';
import { uniqueViolation } from '../store/dialect.js';
import { checkNotId } from './ids.js';

const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

export function checkName(field: string, value: unknown): string {
  if (value === undefined || value === null || value === '') throw invalid(field, 'required');
  if (typeof value !== 'string') throw invalid(field, 'invalid');
  // Kept exactly as given: a client that lowercased nothing must find its machine by the same name.
  const name = value;
  if (name !== name.toLowerCase()) throw refused(field, 'name_case');
  if (!LABEL.test(name)) throw refused(field, 'dns_label');
  return checkNotId(field, name);
}

export function hostname(vm: string, group: string, account: string, clusterDomain: string): string {
  return `${vm}.${group}.${account}.${clusterDomain}`;
}

/** Two requests both found a VM name free in a group; the store's unique key refused the second. */
export function nameTaken(err: unknown): never {
  if (uniqueViolation(err) === 'vms(group_id, name)') throw invalid('name', 'taken');
  throw err;
}
