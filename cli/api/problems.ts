import { ApiError, AuthError, oneLine, type ProblemDetails, type ProblemFieldError } from '../errors.ts';
import type { AuthMode } from './config.ts';

/** Reads an error body as RFC 9457 problem details, tolerating missing or odd fields. */
export function parseProblem(body: unknown): ProblemDetails {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return {};
  const raw = body as Record<string, unknown>;
  const text = (value: unknown) => (typeof value === 'string' && value.trim() ? value : undefined);
  const errors: ProblemFieldError[] = Array.isArray(raw.errors)
    ? raw.errors.flatMap((entry): ProblemFieldError[] => {
        if (entry === null || typeof entry !== 'object') return [];
        const { field, rule } = entry as Record<string, unknown>;
        if (typeof rule !== 'string') return [];
        return [{ field: typeof field === 'string' ? field : '', rule }];
      })
    : [];
  return {
    ...(text(raw.type) !== undefined && { type: text(raw.type) }),
    ...(text(raw.title) !== undefined && { title: text(raw.title) }),
    ...(typeof raw.status === 'number' && { status: raw.status }),
    ...(text(raw.detail) !== undefined && { detail: text(raw.detail) }),
    ...(errors.length > 0 && { errors }),
    ...(typeof raw.retryAfter === 'number' &&
      Number.isFinite(raw.retryAfter) &&
      raw.retryAfter >= 0 && { retryAfter: Math.ceil(raw.retryAfter) }),
  };
}

const MAX_MESSAGE = 400;

/**
 * One line for a problem: the first offending field and how many more, else the detail, else
 * the title. `fieldLabel` lets a caller rename fields (e.g. `events[3]` → `line 1504`).
 */
export function renderProblem(
  problem: ProblemDetails,
  status: number,
  fieldLabel: (field: string) => string = (field) => field,
): string {
  const errors = problem.errors ?? [];
  const first = errors[0];
  let message: string;
  if (first !== undefined) {
    const field = first.field ? fieldLabel(first.field) : '';
    message = field ? `${field} ${first.rule}` : first.rule;
    const more = errors.length - 1;
    if (more > 0) message += ` (and ${more} more problem${more === 1 ? '' : 's'})`;
  } else if (problem.detail !== undefined) {
    message = problem.detail;
  } else if (problem.title !== undefined) {
    message = `${problem.title} (${status})`;
  } else {
    message = `the API answered ${status}${STATUS_TEXT[status] ? ` ${STATUS_TEXT[status]}` : ''}`;
  }
  message = oneLine(message);
  return message.length > MAX_MESSAGE ? `${message.slice(0, MAX_MESSAGE - 1)}…` : message;
}

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  409: 'Conflict',
  413: 'Content Too Large',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

/**
 * The CliError for a non-2xx answer: AuthError for 401/403, ApiError otherwise. `auth` says what
 * was refused, so the hint names what to check: the token, or the AWS credentials (an API
 * Gateway's own IAM refusal is `{"message": ...}`, not a problem, so that message is read too).
 */
export function errorForResponse(status: number, body: unknown, auth: AuthMode = 'bearer'): ApiError | AuthError {
  const problem = parseProblem(body);
  if ((status === 401 || status === 403) && auth === 'sigv4') {
    const reason = sentence(problem.detail ?? problem.title ?? gatewayMessage(body) ?? 'The request was not allowed');
    return new AuthError(
      `the API refused the SigV4-signed request (${status}): ${reason} Check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE), the clock, and the IAM policy on execute-api:Invoke.`,
      status,
    );
  }
  if (status === 401 || status === 403) {
    const reason = sentence(
      problem.detail ??
        problem.title ??
        (status === 401
          ? 'The API token is missing, malformed, unknown, expired or revoked'
          : 'The token is not allowed to do this'),
    );
    const hint =
      status === 401
        ? 'Check KEEPTRUSTS_API_TOKEN.'
        : 'Use a token with the needed scope (check KEEPTRUSTS_API_TOKEN).';
    return new AuthError(`the API refused the token (${status}): ${reason} ${hint}`, status);
  }
  if (status === 429 && problem.retryAfter !== undefined) {
    // A limit (exports running at once, say): what it is, and when the same command may succeed.
    const message = renderProblem(problem, status).replace(/[.…]+$/, '');
    return new ApiError(`${message}; try again in ${problem.retryAfter} s`, status, problem);
  }
  return new ApiError(renderProblem(problem, status), status, problem);
}

function gatewayMessage(body: unknown): string | undefined {
  const message = (body as { message?: unknown } | null | undefined)?.message;
  return typeof message === 'string' && message.trim() !== '' ? message.slice(0, MAX_MESSAGE) : undefined;
}

function sentence(text: string): string {
  const line = oneLine(text);
  return /[.!?]$/.test(line) ? line : `${line}.`;
}

/**
 * Runs a request whose 400 problem names body fields, and says the CLI flags that set them
 * instead (`from` → `--from`), so a usage mistake reads in the words the user typed.
 */
export async function withFlagNames<T>(flagFor: Readonly<Record<string, string>>, request: Promise<T>): Promise<T> {
  try {
    return await request;
  } catch (error) {
    if (!(error instanceof ApiError) || error.errors.length === 0) throw error;
    const message = renderProblem(error.problem, error.status, (field) => flagFor[field] ?? field);
    throw new ApiError(message, error.status, error.problem, { cause: error });
  }
}
