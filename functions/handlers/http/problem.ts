import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import {
  type ErrorCode,
  type FieldIssue,
  isAppError,
  LimitExceededError,
  MethodNotAllowedError,
  ValidationError,
} from '../../core/errors.ts';

/** RFC 9457 problem details, with the offending fields for validation problems. */
export interface ProblemDetails {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail: string;
  readonly errors?: readonly FieldIssue[];
  /** Seconds after which the same request may succeed (429); also sent as Retry-After. */
  readonly retryAfter?: number;
  /** The methods the path takes (405); also sent as Allow. */
  readonly allow?: readonly string[];
}

/** The one mapping from domain errors to HTTP. */
const BY_CODE: Record<ErrorCode, { readonly status: number; readonly title: string }> = {
  validation: { status: 400, title: 'Invalid request' },
  unauthenticated: { status: 401, title: 'Unauthenticated' },
  forbidden: { status: 403, title: 'Forbidden' },
  not_found: { status: 404, title: 'Not found' },
  method_not_allowed: { status: 405, title: 'Method not allowed' },
  timeout: { status: 408, title: 'Request timeout' },
  conflict: { status: 409, title: 'Conflict' },
  too_large: { status: 413, title: 'Content too large' },
  headers_too_large: { status: 431, title: 'Request header fields too large' },
  rate_limited: { status: 429, title: 'Too many requests' },
  unavailable: { status: 503, title: 'Service unavailable' },
  internal: { status: 500, title: 'Internal error' },
};

const TITLES_BY_STATUS = new Map<number, ErrorCode>(
  Object.entries(BY_CODE).map(([code, { status }]) => [status, code as ErrorCode]),
);

const problemType = (code: string) => `urn:keeptrusts:problem:${code}`;

/** Middy's own HTTP errors (e.g. the router's 404) carry a status and are safe to expose. */
function isExposedHttpError(error: unknown): error is Error & { statusCode: number; expose: true } {
  return (
    error instanceof Error &&
    typeof (error as { statusCode?: unknown }).statusCode === 'number' &&
    (error as { expose?: unknown }).expose === true
  );
}

export function problemFor(error: unknown): ProblemDetails {
  if (isAppError(error)) {
    const { status, title } = BY_CODE[error.code];
    return {
      type: problemType(error.code),
      title,
      status,
      detail: error.message,
      ...(error instanceof ValidationError && error.issues.length > 0 ? { errors: error.issues } : {}),
      ...(error instanceof LimitExceededError ? { retryAfter: error.retryAfterSeconds } : {}),
      ...(error instanceof MethodNotAllowedError ? { allow: error.allowed } : {}),
    };
  }
  if (isExposedHttpError(error)) {
    const code = TITLES_BY_STATUS.get(error.statusCode) ?? 'internal';
    return {
      type: problemType(code),
      title: BY_CODE[code].title,
      status: error.statusCode,
      detail: error.message,
    };
  }
  // Anything else is a defect: say nothing about its internals.
  return {
    type: problemType('internal'),
    title: BY_CODE.internal.title,
    status: 500,
    detail: 'The request failed on the server. It has been logged; retrying may help.',
  };
}

export function problemResponse(problem: ProblemDetails): APIGatewayProxyStructuredResultV2 {
  return {
    statusCode: problem.status,
    headers: {
      'content-type': 'application/problem+json',
      ...(problem.retryAfter === undefined ? {} : { 'retry-after': String(problem.retryAfter) }),
      ...(problem.allow === undefined ? {} : { allow: problem.allow.join(', ') }),
    },
    body: JSON.stringify(problem),
  };
}
