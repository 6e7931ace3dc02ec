// Names of accounts, groups and VMs become DNS labels in `name.group.account.<cluster>`.
import { Invalid } from './errors.js';
import { uniqueViolation } from '../store/dialect.js';
import { checkNotId } from './ids.js';

const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

export function checkName(field: string, value: unknown): string {
  if (value === undefined || value === null || value === '') throw Invalid.field(field, "can't be blank");
  if (typeof value !== 'string') throw Invalid.field(field, 'is invalid');
  // Kept exactly as given: a client that lowercased nothing must find its machine by the same name.
  const name = value;
  if (name !== name.toLowerCase()) throw Invalid.field(field, 'is invalid: use lower-case letters (names are DNS labels)');
  if (!LABEL.test(name)) throw Invalid.field(field, 'is invalid: use letters, digits and hyphens (a DNS label, at most 63 characters)');
  return checkNotId(field, name);
}

export function hostname(vm: string, group: string, account: string, clusterDomain: string): string {
  return `${vm}.${group}.${account}.${clusterDomain}`;
}

/** Two requests both found a VM name free in a group; the store's unique key refused the second. */
export function nameTaken(err: unknown): never {
  if (uniqueViolation(err) === 'vms(group_id, name)') throw Invalid.field('name', 'has already been taken');
  throw err;
}
