export interface RetryPolicy {
  /** Attempts in total, the first included. */
  readonly attempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 4, baseDelayMs: 250, maxDelayMs: 5_000 };

/** Longest Retry-After the client honours; longer asks fail at once, saying when to try again. */
export const MAX_RETRY_AFTER_MS = 30_000;
/** The most one request waits as Retry-After headers ask, over all its attempts. */
export const MAX_TOTAL_RETRY_AFTER_MS = 60_000;

export function isRetryableStatus(status: number): boolean {
  return status === 429 || (status >= 500 && status !== 501 && status !== 505);
}

/**
 * "Full jitter" exponential backoff: a random delay in [0, min(max, base·2^retry)), so many
 * clients retrying at once spread out. `retry` counts from 0 for the first retry.
 */
export function backoffDelay(retry: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** retry);
  return Math.floor(random() * ceiling);
}

/**
 * A Retry-After header (seconds or HTTP date) in milliseconds, if present and sane; the caller
 * decides whether it is worth waiting (MAX_RETRY_AFTER_MS).
 */
export function retryAfterMs(header: string | null, now: number = Date.now()): number | undefined {
  if (header === null || header.trim() === '') return undefined;
  const seconds = Number(header);
  const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(header) - now;
  if (!Number.isFinite(ms) || ms < 0) return undefined;
  return ms;
}
