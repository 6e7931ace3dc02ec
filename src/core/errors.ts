// The domain's one error type. Core throws a DomainError: one or more issues, each a code from a
// closed list, the field it is about (a path such as `discs[1].size`) and parameters (limits, ids,
// a `reason` naming which rule refused). No sentences and no HTTP statuses: each dialect renders
// the codes in its own shape and words (BigV: src/api/bigv/errors.ts).

export type ErrorCode =
  // The input, field by field: the caller can fix it.
  | 'required' // absent or empty
  | 'invalid' // malformed (params.reason says which rule, when there are several)
  | 'not_a_number'
  | 'not_in_list' // not one of the allowed values
  | 'out_of_range' // params.min / params.max (inclusive), params.gt (exclusive), params.unit
  | 'too_short' // params.min characters
  | 'too_long' // params.max characters
  | 'too_many' // params.max items
  | 'taken' // unique within its scope, and already used
  | 'state' // valid, but the object's state refuses it now (powered on, deleted ...): params.reason
  | 'no_capacity' // no room left (compute, disc space, addresses): params.reason
  | 'failed' // the head could not do what was asked: params.detail (the head's own report)
  // The request as a whole.
  | 'not_found' // absent or not readable by the caller, never told apart: params.entity
  | 'forbidden' // readable, but the caller may not do this: params.reason
  | 'unauthorized' // no valid credentials: params.reason
  | 'conflict' // an operation not yet ended stands in the way: params.operation (its public id)
  | 'precondition_failed' // the version the caller read is no longer the current one
  | 'reused' // an idempotency key given again with another request
  | 'unavailable' // a head needed did not answer in time
  | 'throttled'; // too many failed attempts: params.retryAfter (seconds)

export type ErrorParams = Record<string, string | number | boolean | null>;

export interface Issue { code: ErrorCode; field?: string; params?: ErrorParams }

export class DomainError extends Error {
  readonly issues: readonly Issue[];
  constructor(issues: Issue | readonly Issue[]) {
    const list = Array.isArray(issues) ? issues as readonly Issue[] : [issues as Issue];
    if (list.length === 0) throw new TypeError('a DomainError needs an issue');
    // For logs only: dialects render the issues, never this text.
    super(list.map((i) => [i.code, i.field, i.params && JSON.stringify(i.params)].filter(Boolean).join(' ')).join('; '));
    this.name = 'DomainError';
    this.issues = list;
  }
  /** The first issue's: a request refused as a whole has exactly one. */
  get code(): ErrorCode { return this.issues[0]!.code; }
  get field(): string | undefined { return this.issues[0]!.field; }
  get params(): ErrorParams { return this.issues[0]!.params ?? {}; }
}

/** One issue about a field of the input. */
export function invalid(field: string, code: ErrorCode, params?: ErrorParams): DomainError {
  return new DomainError({ code, field, ...(params ? { params } : {}) });
}

/** A field refused for a named reason (its code: `invalid` unless given). */
export function refused(field: string, reason: string, params: ErrorParams = {}, code: ErrorCode = 'invalid'): DomainError {
  return invalid(field, code, { reason, ...params });
}

export function notFound(entity: string): DomainError {
  return new DomainError({ code: 'not_found', params: { entity } });
}

export function forbidden(reason: string, params: ErrorParams = {}): DomainError {
  return new DomainError({ code: 'forbidden', params: { reason, ...params } });
}

export function unauthorized(reason: string): DomainError {
  return new DomainError({ code: 'unauthorized', params: { reason } });
}

/** An imperative act refused while `operation` (a public id) has not ended. */
export function conflict(reason: string, operation: string): DomainError {
  return new DomainError({ code: 'conflict', params: { reason, operation } });
}

export function preconditionFailed(reason: string): DomainError {
  return new DomainError({ code: 'precondition_failed', params: { reason } });
}

export function unavailable(reason: string): DomainError {
  return new DomainError({ code: 'unavailable', params: { reason } });
}

export function throttled(retryAfter: number): DomainError {
  return new DomainError({ code: 'throttled', params: { retryAfter } });
}

/** The ways a login (or an impersonation) fails; each dialect's auth endpoint words them its own way. */
export type LoginFailure = 'malformed' | 'bad_credentials' | 'second_factor_missing' | 'second_factor_bad' | 'not_admin' | 'no_such_user';

const LOGIN_CODES: Record<LoginFailure, ErrorCode> = {
  malformed: 'invalid', no_such_user: 'invalid', bad_credentials: 'unauthorized', second_factor_bad: 'unauthorized',
  second_factor_missing: 'forbidden', not_admin: 'forbidden',
};

export function loginFailed(reason: LoginFailure): DomainError {
  return new DomainError({ code: LOGIN_CODES[reason], field: 'login', params: { reason } });
}

export function isCode(err: unknown, code: ErrorCode): err is DomainError {
  return err instanceof DomainError && err.code === code;
}

/** Collects the issues of one request, so it is refused with all of them at once. */
export class Issues {
  private readonly list: Issue[] = [];
  add(field: string, code: ErrorCode, params?: ErrorParams): void {
    this.list.push({ code, field, ...(params ? { params } : {}) });
  }
  /** Adds the issues of a check that throws (e.g. checkName); other errors still fail. */
  catch<T>(f: () => T): T | undefined {
    try {
      return f();
    } catch (err) {
      if (!(err instanceof DomainError)) throw err;
      this.list.push(...err.issues);
      return undefined;
    }
  }
  get empty(): boolean { return this.list.length === 0; }
  throwIfAny(): void {
    if (this.list.length) throw new DomainError(this.list);
  }
}
