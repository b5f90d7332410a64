import { ValidationError } from '../../functions/core/errors.ts';
import { parseTimeRange, type TimeRange } from '../../functions/core/events/time-range.ts';
import { isExportId } from '../../functions/core/export/export-id.ts';
import { oneLine, UsageError } from '../errors.ts';

/**
 * Checks of `kt export` flag values that commander cannot express. Each failure is a UsageError
 * (exit 2) that names the flag, so nothing is sent to the API for a command line that is wrong.
 */

/** An id in the shape the API issues, used in help text and messages. */
export const EXAMPLE_EXPORT_ID = 'exp_01jq8m3k7b5x9c2d4f6h';

/** `--id`: an export id; anything else cannot name a job, so it is refused before any request. */
export function exportIdFlag(value: string): string {
  const id = value.trim();
  if (!isExportId(id)) {
    throw new UsageError(
      `--id must be an export id: exp_ and 20 characters of 0-9 and a-z without i, l, o, u, such as ${EXAMPLE_EXPORT_ID} (got "${oneLine(value)}")`,
    );
  }
  return id;
}

/** `--from` / `--to`: ISO 8601 UTC instants, from not after to (the API's own rule, checked early). */
export function rangeFlags(from: string, to: string): TimeRange {
  try {
    return parseTimeRange(from, to);
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    const issue = error.issues[0];
    if (issue === undefined) throw new UsageError('--from and --to do not form a valid time range');
    if (issue.rule === 'must not be later than to') {
      throw new UsageError(`--from must not be later than --to (got ${oneLine(from)} → ${oneLine(to)})`);
    }
    const given = issue.field === 'to' ? to : from;
    throw new UsageError(`--${issue.field} ${issue.rule} (got "${oneLine(given)}")`);
  }
}

/**
 * A filter given as `--filter-<name>` or its short alias `--<name>` (the tutorial uses both
 * spellings). Both with different values would make the export's scope a guess, so it is refused.
 */
export function filterFlag(
  name: 'team' | 'policy',
  long: string | undefined,
  alias: string | undefined,
): string | undefined {
  if (long !== undefined && alias !== undefined && long !== alias) {
    throw new UsageError(
      `--filter-${name} and --${name} are the same filter; give it once (got "${oneLine(long)}" and "${oneLine(alias)}")`,
    );
  }
  const value = long ?? alias;
  if (value !== undefined && value.trim() === '') {
    throw new UsageError(`--filter-${name} must not be empty`);
  }
  return value;
}

/** `--title`: the API checks its length and characters; an empty one is a slip caught here. */
export function titleFlag(value: string | undefined): string | undefined {
  if (value !== undefined && value.trim() === '') throw new UsageError('--title must not be empty');
  return value;
}

/**
 * `--s3-bucket`, `--s3-prefix`, `--s3-region`: delivery to a customer bucket. The API checks the
 * bucket against the deployment's allow-list and the prefix's rules; a prefix or region without
 * a bucket would be silently ignored, so it is refused here.
 */
export function deliveryFlags(flags: {
  readonly s3Bucket?: string;
  readonly s3Prefix?: string;
  readonly s3Region?: string;
}): { s3Bucket: string; s3Prefix?: string; s3Region?: string } | undefined {
  if (flags.s3Bucket === undefined) {
    if (flags.s3Prefix !== undefined) throw new UsageError('--s3-prefix needs --s3-bucket');
    if (flags.s3Region !== undefined) throw new UsageError('--s3-region needs --s3-bucket');
    return undefined;
  }
  if (flags.s3Bucket.trim() === '') throw new UsageError('--s3-bucket must name a bucket');
  if (flags.s3Region !== undefined && flags.s3Region.trim() === '') {
    throw new UsageError('--s3-region must name a region, such as us-east-1');
  }
  return {
    s3Bucket: flags.s3Bucket,
    // As given: the API names the prefix in its message when a rule refuses it.
    ...(flags.s3Prefix !== undefined && { s3Prefix: flags.s3Prefix }),
    ...(flags.s3Region !== undefined && { s3Region: flags.s3Region }),
  };
}

/** `--output`: a path; an empty one (an unset shell variable) must not mean the current directory. */
export function outputFlag(value: string | undefined): string | undefined {
  if (value !== undefined && value.trim() === '')
    throw new UsageError('--output must name a file or directory');
  return value;
}

// The key travels as an HTTP header value: visible ASCII only, and a sane length.
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

/** `--idempotency-key`: the caller's own key, so a re-run script creates the job only once. */
export function idempotencyKeyFlag(value: string): string {
  if (!IDEMPOTENCY_KEY.test(value)) {
    throw new UsageError(
      '--idempotency-key must be 1 to 255 visible ASCII characters (no spaces), such as a UUID',
    );
  }
  return value;
}

/** `--cursor`: the opaque value a previous `kt export list` printed. */
export function cursorFlag(value: string | undefined): string | undefined {
  if (value !== undefined && value.trim() === '') {
    throw new UsageError('--cursor must be the value a previous `kt export list` printed');
  }
  return value?.trim();
}
