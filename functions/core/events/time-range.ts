import { ValidationError } from '../errors.ts';
import { isoUtcTimestamp } from './decision-event.ts';

/** An inclusive time range [from, to] of ISO 8601 UTC timestamps. */
export interface TimeRange {
  readonly from: string;
  readonly to: string;
}

const DAY_MS = 86_400_000;

/** Validates a range from untrusted input; `field` names the fields in errors (e.g. `from`). */
export function parseTimeRange(from: unknown, to: unknown): TimeRange {
  const issues = [];
  const f = isoUtcTimestamp.safeParse(from);
  if (!f.success)
    issues.push({ field: 'from', rule: from === undefined ? 'is required' : f.error.issues[0]!.message });
  const t = isoUtcTimestamp.safeParse(to);
  if (!t.success)
    issues.push({ field: 'to', rule: to === undefined ? 'is required' : t.error.issues[0]!.message });
  if (f.success && t.success && sortableInstant(f.data) > sortableInstant(t.data)) {
    issues.push({ field: 'from', rule: 'must not be later than to' });
  }
  if (issues.length > 0 || !f.success || !t.success) {
    throw new ValidationError('The time range is invalid.', issues);
  }
  return { from: f.data, to: t.data };
}

/** `YYYY-MM-DD` of the UTC day an instant falls on. */
export function dayOf(timestamp: string): string {
  // Validated timestamps are UTC with a real date, so the day is spelled by the first 10 characters.
  return timestamp.slice(0, 10);
}

/** Every UTC day the range touches, oldest first: a range query reads these days and no others. */
export function daysInRange(range: TimeRange): string[] {
  const days: string[] = [];
  const last = Date.parse(`${dayOf(range.to)}T00:00:00Z`);
  for (let day = Date.parse(`${dayOf(range.from)}T00:00:00Z`); day <= last; day += DAY_MS) {
    days.push(new Date(day).toISOString().slice(0, 10));
  }
  return days;
}

/** Digits after the second that ingest accepts and that every comparison keeps: nanoseconds. */
export const FRACTION_DIGITS = 9;

/**
 * A fixed-width spelling of an instant at full nanosecond precision, so that text order equals
 * time order: `2026-04-20T09:15:32Z` and `2026-04-20T09:15:32.5Z` would otherwise sort the wrong
 * way. Range bounds, sort keys and export order all compare this one spelling, so an event 1 ns
 * past `to` is outside the range and two events in the same millisecond keep their time order.
 */
export function sortableInstant(timestamp: string): string {
  const dot = timestamp.indexOf('.', 19);
  const fraction = dot === -1 ? '' : timestamp.slice(dot + 1, -1);
  return `${timestamp.slice(0, 19)}.${fraction.padEnd(FRACTION_DIGITS, '0')}Z`;
}

const NS_PER_SECOND = 1_000_000_000n;
const NS_PER_DAY = 86_400n * NS_PER_SECOND;

/** Nanoseconds from `from` to `to` of a validated range, at full precision (never rounded to ms). */
export function rangeNanoseconds(range: TimeRange): bigint {
  return epochNanoseconds(range.to) - epochNanoseconds(range.from);
}

/** Whether a validated range spans more than `days` whole days: 1 ns more is more. */
export function isLongerThanDays(range: TimeRange, days: number): boolean {
  return rangeNanoseconds(range) > BigInt(days) * NS_PER_DAY;
}

function epochNanoseconds(timestamp: string): bigint {
  const sortable = sortableInstant(timestamp);
  const seconds = Date.parse(`${sortable.slice(0, 19)}Z`) / 1000;
  return BigInt(seconds) * NS_PER_SECOND + BigInt(sortable.slice(20, 20 + FRACTION_DIGITS));
}

/** The position of an event in export order: (timestamp, id). */
export function eventSortKey(event: { readonly timestamp: string; readonly id: string }): string {
  return `${sortableInstant(event.timestamp)}#${event.id}`;
}
