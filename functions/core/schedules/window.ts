import { createHash } from 'node:crypto';
import { ValidationError } from '../errors.ts';
import type { TimeRange } from '../events/time-range.ts';
import { FRACTION_DIGITS } from '../events/time-range.ts';
import { EXPORT_ID_PREFIX } from '../export/export-id.ts';
import { DEFAULT_MAX_RANGE_DAYS } from '../export/export-request.ts';

/**
 * The rolling window a scheduled run exports, and the run's identity. A run for scheduled time T
 * exports the half-open window [T - window, T): as an inclusive range at nanosecond precision that
 * is [T - window, T - 1 ns], so the next run's window starts exactly where this one stopped and an
 * event on a boundary (at T) belongs to the later run only.
 */

const HOUR_MS = 3_600_000;
const UNIT_MS: Readonly<Record<string, number>> = { h: HOUR_MS, d: 24 * HOUR_MS, w: 7 * 24 * HOUR_MS };
const UNIT_WORDS: Readonly<Record<string, string>> = { h: 'hour', d: 'day', w: 'week' };
const WINDOW = /^([1-9]\d{0,5})([hdw])$/;

export interface ScheduleWindow {
  /** As written: `7d`, `12h`, `2w`. */
  readonly text: string;
  readonly ms: number;
}

export const WINDOW_RULE = 'must be a whole number of hours, days or weeks, such as 24h, 7d or 2w';
// Room for spaces around the longest window `999999w`; anything longer is not a window.
const MAX_WINDOW_CHARS = 32;

/** The length of a window as written (`7d`, ` 24h `), or undefined when it is not one. */
export function windowMs(text: string): number | undefined {
  const match = text.length <= MAX_WINDOW_CHARS ? WINDOW.exec(text.trim()) : null;
  return match === null ? undefined : Number(match[1]) * UNIT_MS[match[2]!]!;
}

/** The rule a window longer than `maxDays` breaks. */
export function windowTooLongRule(maxDays: number): string {
  return `must be at most ${maxDays} days`;
}

/** `Nh`, `Nd` or `Nw`, at most DEFAULT_MAX_RANGE_DAYS (or `maxDays`) long. */
export function parseWindow(input: unknown, maxDays = DEFAULT_MAX_RANGE_DAYS): ScheduleWindow {
  const invalid = (rule: string) =>
    new ValidationError(`The schedule's window ${rule}.`, [{ field: 'window', rule }]);
  if (input === undefined) throw invalid('is required');
  const ms = typeof input === 'string' ? windowMs(input) : undefined;
  if (ms === undefined) throw invalid(WINDOW_RULE);
  if (ms > maxDays * 24 * HOUR_MS) throw invalid(windowTooLongRule(maxDays));
  const match = WINDOW.exec((input as string).trim())!;
  return { text: `${match[1]}${match[2]}`, ms };
}

/** `7d` → `7 days`, `1w` → `1 week`. */
export function describeWindow(text: string): string {
  const match = WINDOW.exec(text);
  if (match === null) return text;
  const count = Number(match[1]);
  return `${count} ${UNIT_WORDS[match[2]!]}${count === 1 ? '' : 's'}`;
}

/** [T - window, T) as the inclusive nanosecond range exports use; T must be a whole second. */
export function runRange(scheduledAt: Date, windowMs: number): TimeRange {
  const t = scheduledAt.getTime();
  if (t % 1000 !== 0) throw new RangeError('a scheduled time is a whole second');
  return {
    from: wholeSecond(t - windowMs),
    // The last nanosecond before T.
    to: `${wholeSecond(t - 1000).slice(0, -1)}.${'9'.repeat(FRACTION_DIGITS)}Z`,
  };
}

// Crockford's lowercase base32, as export ids use.
const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';

/**
 * The export id of the run of `schedule` for scheduled time T: the same every time, so a second
 * fire or a retry finds the first run's job instead of creating another. `created` (when the
 * schedule was made) tells a schedule deleted and made again under the same name from the old
 * one, whose runs are not the new one's. 20 base32 characters of SHA-256 (100 bits), the shape of
 * every export id.
 */
export function scheduledExportId(schedule: string, scheduledAt: Date, created = ''): string {
  const digest = createHash('sha256')
    .update(`schedule-run\n${schedule}\n${created}\n${scheduledAt.toISOString()}`)
    .digest();
  let id = EXPORT_ID_PREFIX;
  for (let i = 0; i < 20; i++) id += ALPHABET[digest[i]! & 31];
  return id;
}

function wholeSecond(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 19)}Z`;
}
