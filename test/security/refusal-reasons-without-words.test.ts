// Every reason core gives for a refusal has BigV words. Core throws DomainErrors with a `reason`
// (`forbidden('cancel_operation')`, `refused('powerOn', 'vm_not_placed')`, `conflict('cancel_…')`, a throttling's);
// BigV's renderer (src/api/bigv/errors.ts) words them from tables, and a reason missing from a table
// falls back to a generic message ("You do not have permission to do that", "is invalid") or, for a
// conflict, to a body with no error at all. This scans src/ for every reason given (the cancel
// refusals through their type) and renders each, so a new reason cannot ship without its words.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DomainError, conflict, forbidden, preconditionFailed, unauthorized, unavailable } from '../../src/core/errors.js';
import { fieldMessage, renderDomainError } from '../../src/api/bigv/errors.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const SRC = path.join(ROOT, 'src');

function sources(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    return e.isDirectory() ? sources(full) : e.name.endsWith('.ts') ? [full] : [];
  });
}

// Not the drivers': their `reason`s are a host check's, never a DomainError's.
const text = sources(SRC).filter((f) => !f.endsWith(path.join('core', 'errors.ts')) && !f.includes(`${path.sep}drivers${path.sep}`)).map((f) => fs.readFileSync(f, 'utf8')).join('\n');
const found = (re: RegExp) => [...new Set([...text.matchAll(re)].map((m) => m[1]!))].sort();
const error = (e: DomainError) => (renderDomainError(e, null).body as { error?: unknown }).error;

test('every forbidden, unauthorized, conflict, precondition and unavailable reason in src/ has BigV words of its own', () => {
  const generic = error(forbidden('no such reason'));
  const forbids = found(/\bforbidden\('([a-z_]+)'/g);
  assert.ok(forbids.includes('cancel_operation') && forbids.includes('read_audit'), `the scan sees the reasons: ${forbids.join(' ')}`);
  assert.deepEqual(forbids.filter((r) => error(forbidden(r)) === generic), [], 'forbidden reasons worded generically');
  const missing = error(unauthorized('missing'));
  assert.deepEqual(found(/\bunauthorized\('([a-z_]+)'/g).filter((r) => r !== 'missing' && error(unauthorized(r)) === missing), [], 'unauthorized reasons worded as "missing"');
  const refusals = /export type CancelRefusal = ([^;]+);/.exec(text)?.[1]?.match(/'([a-z]+)'/g)?.map((s) => `cancel_${s.slice(1, -1)}`) ?? [];
  assert.ok(refusals.length >= 5, `the cancel refusals: ${refusals.join(' ')}`);
  const requests: [string, DomainError][] = [
    ...[...found(/\bconflict\('([a-z_]+)'/g), ...refusals].map((r): [string, DomainError] => [r, conflict(r, '00000000-0000-4000-8000-000000000000')]),
    ...found(/\bpreconditionFailed\('([a-z_]+)'/g).map((r): [string, DomainError] => [r, preconditionFailed(r)]),
    ...found(/\bunavailable\('([a-z_]+)'/g).map((r): [string, DomainError] => [r, unavailable(r)]),
  ];
  const throttles = found(/code: 'throttled', params: \{ reason: '([a-z_]+)'/g);
  assert.ok(throttles.includes('event_streams'), `the throttling reasons: ${throttles.join(' ')}`);
  const tooMany = error(new DomainError({ code: 'throttled', params: { retryAfter: 1 } }));
  requests.push(...throttles.filter((r) => error(new DomainError({ code: 'throttled', params: { reason: r, retryAfter: 1 } })) === tooMany)
    .map((r): [string, DomainError] => [r, new DomainError({ code: 'throttled', params: { reason: r } })]));
  assert.deepEqual(requests.filter(([, e]) => e.code === 'throttled' || typeof error(e) !== 'string' || error(e) === '').map(([r]) => r), [],
    'conflict, precondition, unavailable and throttling reasons without words of their own');
});

test('every field refusal reason in src/ has BigV words of its own', () => {
  const reasons = [...new Set([...found(/\brefused\([^,()]+,\s*'([a-z_]+)'/g), ...found(/\.add\([^;]*\breason: '([a-z_]+)'/g)])];
  assert.ok(reasons.includes('vm_not_placed') && reasons.includes('idempotency_reused'), `the scan sees the reasons: ${reasons.join(' ')}`);
  const generic = fieldMessage({ code: 'invalid', params: { reason: 'no such reason' } }, 'field');
  assert.deepEqual(reasons.filter((r) => fieldMessage({ code: 'invalid', params: { reason: r } }, 'field') === generic), [], 'field reasons worded generically');
});
