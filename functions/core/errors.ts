/**
 * Named domain errors. Each carries a stable `code`; the HTTP mapping lives in
 * functions/handlers/http/problem.ts and the CLI exit-code mapping in cli/errors.ts.
 */

export type ErrorCode =
  | 'validation'
  | 'unauthenticated'
  | 'forbidden'
  | 'not_found'
  | 'method_not_allowed'
  | 'conflict'
  | 'timeout'
  | 'too_large'
  | 'headers_too_large'
  | 'rate_limited'
  | 'unavailable'
  | 'internal';

/** One offending field: `field` is a path such as `events[3].timestamp`, `rule` says what it must be. */
export interface FieldIssue {
  readonly field: string;
  readonly rule: string;
}

export abstract class AppError extends Error {
  abstract readonly code: ErrorCode;

  constructor(message: string, options?: { readonly cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The caller sent something that breaks a rule; nothing was written. */
export class ValidationError extends AppError {
  readonly code = 'validation';

  constructor(
    message: string,
    readonly issues: readonly FieldIssue[] = [],
    options?: { readonly cause?: unknown },
  ) {
    super(message, options);
  }
}

/** No credentials, or credentials that do not identify a live token. */
export class AuthenticationError extends AppError {
  readonly code = 'unauthenticated';
}

/** The caller is known but its token lacks the scope (or team) for this action. */
export class ForbiddenError extends AppError {
  readonly code = 'forbidden';
}

export class NotFoundError extends AppError {
  readonly code = 'not_found';

  constructor(
    readonly resource: string,
    readonly id: string,
    options?: { readonly cause?: unknown },
  ) {
    super(`${resource} ${id} was not found`, options);
  }
}

/** The path names a route, but not for this method; `allowed` lists the methods it takes. */
export class MethodNotAllowedError extends AppError {
  readonly code = 'method_not_allowed';

  constructor(
    message: string,
    readonly allowed: readonly string[],
    options?: { readonly cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The request did not arrive whole in time (its headers or body stalled); nothing was read. */
export class RequestTimeoutError extends AppError {
  readonly code = 'timeout';
}

/** The request conflicts with the current state (e.g. the same idempotency key with another body). */
export class ConflictError extends AppError {
  readonly code = 'conflict';
}

/** The request (its body) is larger than this deployment accepts; nothing was read or written. */
export class PayloadTooLargeError extends AppError {
  readonly code = 'too_large';
}

/** The request's headers are larger than the front accepts. */
export class HeadersTooLargeError extends AppError {
  readonly code = 'headers_too_large';
}

/**
 * A limit against runaway cost was reached (e.g. exports running at once for one principal).
 * Nothing was written; the same request may succeed after `retryAfterSeconds`.
 */
export class LimitExceededError extends AppError {
  readonly code = 'rate_limited';

  constructor(
    message: string,
    readonly retryAfterSeconds: number,
    options?: { readonly cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A dependency (DynamoDB, S3, Step Functions) failed or throttled; retrying may succeed. */
export class DependencyError extends AppError {
  readonly code = 'unavailable';
}

export function isAppError(error: unknown): error is AppError {
  return error instanceof AppError;
}

/** Stored data does not match what was written (e.g. an artifact's size); never retried blindly. */
export class IntegrityError extends AppError {
  readonly code = 'internal';
}
