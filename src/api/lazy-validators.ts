// Route validators compiled on a route's first request, not at start-up. Fastify compiles every
// route's params, querystring and body schemas while the app is built; with three dialects that was
// about a fifth of the server's start-up time (BENCHMARKS.md, "Issue 8, start-up and memory"), spent on
// routes a deployment may never serve. The compiler is still Fastify's own (@fastify/ajv-compiler, the same
// ajv options), so validation answers exactly as before; only the moment it compiles moves.
// A schema ajv cannot compile would now fail on first use: test/docs/route-validators.test.ts compiles
// every registered route's schemas, so it fails a test instead.
import { AjvCompiler } from '@fastify/ajv-compiler';
import type { FastifyServerOptions } from 'fastify';

type Factory = NonNullable<NonNullable<FastifyServerOptions['schemaController']>['compilersFactory']>;
type RouteValidator = ((data: unknown, context?: unknown) => unknown) & { errors?: unknown; schemaEnv?: unknown };
/** What Fastify hands a validator compiler: one part (params, querystring, body) of one route. */
type RoutePart = { schema: unknown; method: string; url: string; httpPart: string };

/** ajv's options for every route: bodies take real JSON types only (api/parameters.ts), nothing is added or dropped. */
export const ajvOptions = { customOptions: { coerceTypes: false, allErrors: true, removeAdditional: false, useDefaults: false } } as const;

// One pool, as Fastify keeps: every context with the same schemas and options shares one ajv.
const pool = AjvCompiler();
let compiledParts = 0;

/** How many route parts this process has compiled validators for (a test holds start-up to the few its own requests use). */
export function compiledValidatorCount(): number {
  return compiledParts;
}

// @fastify/ajv-compiler's types describe ajv's compile(schema); at run time it takes Fastify's RoutePart.
const compilerOf = (externalSchemas: unknown, options: unknown) => pool(externalSchemas as never, options as never) as unknown as (part: RoutePart) => RouteValidator;

function buildValidator(externalSchemas: Record<string, unknown>, options: unknown): (part: RoutePart) => RouteValidator {
  const compile = compilerOf(externalSchemas, options);
  return (part) => {
    let compiled: RouteValidator | undefined;
    const validate: RouteValidator = (data, context) => {
      if (!compiled) {
        compiled = compile(part);
        compiledParts++;
      }
      const result = compiled(data, context);
      validate.errors = compiled.errors;
      return result;
    };
    // Fastify passes the request as the parent (so ajv may replace a coerced root value) only to a
    // function with `schemaEnv`, which an ajv validator has: this one forwards it.
    validate.schemaEnv = true;
    return validate;
  };
}

/** Fastify's `schemaController.compilersFactory`: validators built lazily, as above. */
export const lazyValidators = { buildValidator } as unknown as Factory;

/** Compiles one part of a route now, as its first request would (the test does it for every route). */
export function compileRoutePart(part: RoutePart): RouteValidator {
  return compilerOf({}, ajvOptions)(part);
}
