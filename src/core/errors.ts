// Domain errors. Core throws these; each dialect turns them into its own wire shape.

/** 400: input the caller can fix. `fields` maps an attribute to its messages (Rails style). */
export class Invalid extends Error {
  constructor(readonly fields: Record<string, unknown>, readonly status = 400) {
    super(Object.entries(fields).map(([k, v]) => `${k} ${Array.isArray(v) ? v.join(', ') : JSON.stringify(v)}`).join('; '));
    this.name = 'Invalid';
  }
  static field(field: string, message: string): Invalid {
    return new Invalid({ [field]: [message] });
  }
}

/** 404: absent, or not readable by the caller. The two are never told apart. */
export class NotFound extends Error {
  constructor(readonly what: string) {
    super(`${what} not found`);
    this.name = 'NotFound';
  }
}

/** 403: the caller can read the object but may not make this change. */
export class Forbidden extends Error {
  constructor(message = 'You do not have permission to do that') {
    super(message);
    this.name = 'Forbidden';
  }
}

/** 412: the caller's precondition (the version it last read, If-Match) no longer holds; nothing was changed. */
export class PreconditionFailed extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PreconditionFailed';
  }
}

/** 401: no valid credentials. */
export class Unauthorized extends Error {
  constructor(message = 'Authentication required') {
    super(message);
    this.name = 'Unauthorized';
  }
}

/** 409: an imperative act that conflicts with an operation not yet ended on the same object
 *  (a reimage while one is queued or running); `operation` is that operation's public id. */
export class Conflict extends Error {
  constructor(message: string, readonly operation: string) {
    super(message);
    this.name = 'Conflict';
  }
}

/** 503: a head needed for the request did not answer in time. */
export class Unavailable extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'Unavailable';
  }
}

/** 429: too many failed credential checks from this address (or for this username from it). */
export class Throttled extends Error {
  constructor(readonly retryAfter: number) {
    super(`Too many failed attempts: try again in ${retryAfter} second${retryAfter === 1 ? '' : 's'}`);
    this.name = 'Throttled';
  }
}
