// Query-string and path parameters, shared by every dialect. Every route declares both schemas and
// Fastify validates them before the handler, so a handler never sees a repeated parameter as an
// array, a boolean as a word, or a segment longer than any id or name.
//
// Repeats are refused, never "last one wins": `?purge=true&purge=false` has no honest reading, so a
// declared parameter given twice is a 400 naming it. Undeclared parameters are allowed and ignored:
// the real clients send some (`view=overview` where it changes nothing).
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';

const TRUE = ['true', 'yes', 'on', '1'];
const FALSE = ['false', 'no', 'off', '0'];

/** The words a query boolean accepts, for messages. */
export const QUERY_BOOL_WORDS = `${TRUE.map((t, i) => `${t}/${FALSE[i]}`).join(', ')} (in any case)`;

/**
 * A boolean in a query string. JSON bodies take JSON's true and false; a query string can only
 * spell them, so `true`/`false` in any case (bytemark-client, bigv-python's `True`/`False`) and
 * the words Ansible and friends send (`yes`/`no`, `on`/`off`, `1`/`0`). Anything else is a 400,
 * never a silent false. The schema says boolean; `installQueryBooleans` turns the words into one
 * before validation, guided by this schema.
 */
export const QueryBool = Type.Boolean({ description: `one of ${QUERY_BOOL_WORDS}` });

/** A path segment naming a row by id or name; every id and name is shorter, so a longer one names nothing (404). */
export const Segment = Type.String({ maxLength: 128 });

/** A query parameter naming a row by id or name (an account, group, VM or user): never blank, no punctuation beyond `_.-`. */
export const QueryRef = Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]*$' });

/** For routes that read no query parameters (any given are ignored) or have no path parameters. */
export const NoQuery = Type.Object({});
export const NoParams = Type.Object({});

const WORDS = new Map<string, boolean>([...TRUE.map((w) => [w, true] as const), ...FALSE.map((w) => [w, false] as const)]);

/**
 * Before validation, turn the words of every query parameter the route's schema declares as a
 * boolean into true or false. Anything else (garbage, a repeated parameter) is left for the schema
 * to refuse. This keeps ajv's type coercion off: bodies take real JSON types only.
 */
export function installQueryBooleans(app: FastifyInstance): void {
  app.addHook('preValidation', async (req) => {
    const schema = req.routeOptions.schema?.querystring as { properties?: Record<string, { type?: unknown }> } | undefined;
    const query = req.query as Record<string, unknown>;
    if (!schema?.properties || !query) return;
    for (const [name, prop] of Object.entries(schema.properties)) {
      const value = query[name];
      if (prop.type !== 'boolean' || typeof value !== 'string') continue;
      const word = WORDS.get(value.toLowerCase());
      if (word !== undefined) query[name] = word;
    }
  });
}
