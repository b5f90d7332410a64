import { AppError, DependencyError } from '../core/errors.ts';

/**
 * The one way adapters call AWS: a failure becomes a DependencyError naming what was being done
 * (the workflow's Retry and the API's 503 both key on it), throttling and server-side errors are
 * told apart from the rest, and retries back off with full jitter.
 */

const RETRYABLE_NAMES = new Set([
  'ProvisionedThroughputExceededException',
  'ThrottlingException',
  'RequestLimitExceeded',
  'InternalServerError',
  'ServiceUnavailable',
  'TimeoutError',
  'RequestTimeout',
]);
const RETRYABLE_CODES = new Set(['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN']);

/** Throttling, server-side and connection-drop errors may pass; anything else will fail again. */
export function isRetryable(error: unknown): boolean {
  if (error instanceof AppError || typeof error !== 'object' || error === null) return false;
  const e = error as {
    name?: unknown;
    code?: unknown;
    $retryable?: unknown;
    $metadata?: { httpStatusCode?: number };
  };
  return (
    Boolean(e.$retryable) ||
    RETRYABLE_NAMES.has(String(e.name)) ||
    RETRYABLE_CODES.has(String(e.code)) ||
    (e.$metadata?.httpStatusCode ?? 0) >= 500
  );
}

/** `Name: message` of an error, for the reason a DependencyError gives. */
export function describe(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}

/**
 * The wait before retry `attempt` (1, 2, ...): full jitter under an exponential ceiling, so
 * callers throttled together do not retry together.
 */
export function backoffMs(attempt: number, baseMs: number, maxMs: number): number {
  return Math.random() * Math.min(maxMs, baseMs * 2 ** attempt);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export interface CallOptions {
  /** Attempts in all, the first included. @default 1 (the SDK client already retries) */
  readonly attempts?: number;
  /** @default 50 */
  readonly baseDelayMs?: number;
  /** @default 2000 */
  readonly maxDelayMs?: number;
}

/**
 * Runs one AWS call. Errors the core understands (AppError) pass as they are; any other becomes
 * a DependencyError that starts with `what`, after retrying those that may pass.
 */
export async function callAws<T>(what: string, run: () => Promise<T>, options: CallOptions = {}): Promise<T> {
  const attempts = options.attempts ?? 1;
  for (let attempt = 1; ; attempt++) {
    try {
      return await run();
    } catch (error) {
      if (error instanceof AppError) throw error;
      if (attempt >= attempts || !isRetryable(error)) {
        throw new DependencyError(`${what} failed: ${describe(error)}`, { cause: error });
      }
      await sleep(backoffMs(attempt, options.baseDelayMs ?? 50, options.maxDelayMs ?? 2000));
    }
  }
}

/** The error's name, compared by name: a class from another copy of the SDK would fail instanceof. */
export function errorName(error: unknown): string | undefined {
  return error instanceof Error ? error.name : undefined;
}
