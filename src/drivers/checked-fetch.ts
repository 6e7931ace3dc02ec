// The head's own check of a URL handed to it, and a GET that holds to it. The brain's check is not
// trusted alone: here the head resolves the host itself, refuses it unless every address is public
// or allow-listed (src/core/urls.ts), then connects to exactly those addresses (a `lookup` that
// answers with them: no second DNS answer between check and connect), and follows redirects by
// hand, checking each hop the same way.
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import dns from 'node:dns/promises';
import type { LookupFunction } from 'node:net';
import { addressRefusal, bareHost, hostAllowed, type UrlPolicy } from '../core/urls.js';

/** A host name's addresses (injectable so tests can play DNS). */
export type Resolver = (host: string) => Promise<string[]>;

const systemResolver: Resolver = async (host) => (await dns.lookup(host, { all: true, verbatim: true })).map((a) => a.address);

/** A URL the head will not fetch; the message says why. */
export class UrlRefused extends Error {}

export interface CheckedGetOptions {
  policy: UrlPolicy;
  resolve?: Resolver;
  signal?: AbortSignal;
  maxRedirects?: number;
}

const SCHEMES = new Set(['http:', 'https:']);

/** The addresses the head may connect to for this URL; throws UrlRefused when any is internal. */
export async function checkedAddresses(url: URL, policy: UrlPolicy, resolve: Resolver = systemResolver): Promise<string[]> {
  if (!SCHEMES.has(url.protocol)) throw new UrlRefused(`unsupported scheme ${url.protocol.replace(/:$/, '')}`);
  const host = bareHost(url);
  if (net.isIP(host)) {
    const refusal = addressRefusal(host, policy);
    if (refusal) throw new UrlRefused(refusal);
    return [host];
  }
  let addresses: string[];
  try {
    addresses = await resolve(host);
  } catch (err) {
    throw new UrlRefused(`cannot resolve ${host}: ${(err as Error).message}`);
  }
  if (addresses.length === 0) throw new UrlRefused(`cannot resolve ${host}`);
  if (hostAllowed(host, policy)) return addresses;
  for (const a of addresses) {
    if (addressRefusal(a, policy)) throw new UrlRefused(`${host} resolves to an internal address (${a})`);
  }
  return addresses;
}

/** A lookup that answers only with the addresses already checked. */
function pinnedLookup(addresses: string[]): LookupFunction {
  const entries = addresses.map((address) => ({ address, family: net.isIPv6(address) ? 6 : 4 }));
  return ((_host: string, options: { all?: boolean }, cb: (...args: unknown[]) => void) => {
    if (options.all) cb(null, entries);
    else cb(null, entries[0]!.address, entries[0]!.family);
  }) as LookupFunction;
}

function get(url: URL, addresses: string[], signal: AbortSignal | undefined): Promise<http.IncomingMessage> {
  const request = url.protocol === 'https:' ? https.request : http.request;
  return new Promise((resolve, reject) => {
    // agent: false: a fresh connection, never a pooled socket opened for an earlier answer.
    const req = request(url, { method: 'GET', agent: false, lookup: pinnedLookup(addresses), ...(signal ? { signal } : {}) }, resolve);
    req.once('error', reject);
    req.end();
  });
}

/**
 * GET a URL, checking it and every redirect before connecting. Resolves with the final response
 * (any status but a redirect); the caller reads or discards its body.
 */
export async function checkedGet(start: string, opts: CheckedGetOptions): Promise<http.IncomingMessage> {
  const maxRedirects = opts.maxRedirects ?? 5;
  let url = new URL(start);
  for (let hop = 0; ; hop++) {
    let addresses: string[];
    try {
      addresses = await checkedAddresses(url, opts.policy, opts.resolve);
    } catch (err) {
      if (err instanceof UrlRefused && hop > 0) throw new UrlRefused(`redirect to ${url.href}: ${err.message}`);
      throw err;
    }
    const res = await get(url, addresses, opts.signal);
    const location = res.headers.location;
    if (!(res.statusCode && [301, 302, 303, 307, 308].includes(res.statusCode) && location)) return res;
    res.resume();
    if (hop >= maxRedirects) throw new UrlRefused(`too many redirects (more than ${maxRedirects})`);
    try {
      url = new URL(location, url);
    } catch {
      throw new UrlRefused(`redirect to an invalid URL ${location}`);
    }
  }
}
