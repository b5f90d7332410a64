import { z } from 'zod';
import { type FieldIssue, ValidationError } from '../errors.ts';
import { fieldIssuesOf } from '../request-schema.ts';

/**
 * The decision event the gateway records for every governed request. One schema serves the
 * ingest API, the store and the CLI (which validates a file before it uploads any of it).
 */

/** Fields every event has, in the order exports write them. */
export const CORE_FIELDS = [
  'id',
  'timestamp',
  'model',
  'policy',
  'action',
  'result',
  'tokens',
  'latency_ms',
  'team',
] as const;

export const MAX_EVENT_BYTES = 16 * 1024;
export const MAX_BATCH_EVENTS = 500;
/**
 * The largest `POST /v1/events` body. Lambda takes at most 6 MB per synchronous invocation, for
 * the whole API Gateway event (body, headers, context), so a bigger batch would never reach the
 * handler on AWS and get the gateway's bare answer instead; 500 of the largest events would not
 * fit. `kt events import` cuts its batches at this size as well as at MAX_BATCH_EVENTS.
 */
export const MAX_BATCH_BYTES = 5 * 1024 * 1024;

const EVENT_ID = /^evt_[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;
// UTC only (trailing Z) so that the same instant has one spelling and sorts as text.
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$/;
// Control characters would corrupt CSV cells and terminal output; they never occur in real names.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f]/;
// Keys that would reach an object's prototype when copied.
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

const label = z
  .string({ error: 'must be a string' })
  .min(1, { error: 'must not be empty' })
  .max(256, { error: 'must be at most 256 characters' })
  .refine((v) => !CONTROL.test(v), { error: 'must not contain control characters' });

// The date is checked only once the spelling is right, so a value breaks one rule or the other;
// nothing aborts, so a request's rules that span fields still run beside a bad timestamp.
export const isoUtcTimestamp = z
  .string({ error: 'must be an ISO 8601 UTC timestamp such as 2026-04-20T09:15:32Z' })
  .regex(ISO_UTC, { error: 'must be an ISO 8601 UTC timestamp such as 2026-04-20T09:15:32Z' })
  .refine((v) => !ISO_UTC.test(v) || isRealInstant(v), { error: 'must be a real calendar date and time' });

export const decisionEventSchema = z
  .object({
    id: z
      .string({ error: 'must be a string' })
      .regex(EVENT_ID, { error: 'must look like evt_<letters, digits, _ or ->, at most 132 characters' }),
    timestamp: isoUtcTimestamp,
    model: label,
    policy: label,
    action: label,
    result: label,
    tokens: z
      .number({ error: 'must be a number' })
      .int({ error: 'must be a whole number' })
      .min(0, { error: 'must be 0 or more' })
      .max(2_147_483_647, { error: 'must be at most 2147483647' }),
    latency_ms: z
      .number({ error: 'must be a number' })
      .min(0, { error: 'must be 0 or more' })
      .max(86_400_000, { error: 'must be at most 86400000 (one day)' }),
    team: label,
  })
  // The gateway may add fields of its own; JSON exports keep them.
  .catchall(z.json());

export type DecisionEvent = z.infer<typeof decisionEventSchema>;

/** The core fields alone, as the CSV columns and summaries use them. */
export type DecisionEventCore = Pick<DecisionEvent, (typeof CORE_FIELDS)[number]>;

function isRealInstant(value: string): boolean {
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) return false;
  // Date.parse rolls 2026-02-30 over to March; a real date survives the round trip.
  return new Date(ms).toISOString().slice(0, 19) === value.slice(0, 19);
}

/** Milliseconds since the epoch of a timestamp already validated by the schema. */
export function instantOf(timestamp: string): number {
  return Date.parse(timestamp);
}

/**
 * Validates one untrusted value as a decision event. Field paths in the issues are prefixed
 * with `path` (e.g. `events[3]`), so a batch error names the exact event and field.
 */
export function parseDecisionEvent(
  value: unknown,
  path = '',
): { ok: true; event: DecisionEvent } | { ok: false; issues: FieldIssue[] } {
  const prefix = (field: string) => (path ? (field ? `${path}.${field}` : path) : field || '(event)');
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return { ok: false, issues: [{ field: prefix(''), rule: 'must be a JSON object' }] };
  }
  const forbidden = Object.keys(value).find((key) => FORBIDDEN_KEYS.has(key));
  if (forbidden !== undefined) {
    return { ok: false, issues: [{ field: prefix(forbidden), rule: 'is a reserved name and not allowed' }] };
  }
  const parsed = decisionEventSchema.safeParse(value, { reportInput: true });
  if (!parsed.success) {
    return { ok: false, issues: fieldIssuesOf(decisionEventSchema, parsed.error.issues, { at: path, whole: '(event)' }) };
  }
  const size = Buffer.byteLength(canonicalEventJson(parsed.data));
  if (size > MAX_EVENT_BYTES) {
    return {
      ok: false,
      issues: [{ field: prefix(''), rule: `must be at most ${MAX_EVENT_BYTES} bytes as JSON (is ${size})` }],
    };
  }
  return { ok: true, event: parsed.data };
}

/** Like parseDecisionEvent, but throws a ValidationError naming every offending field. */
export function assertDecisionEvent(value: unknown, path = ''): DecisionEvent {
  const result = parseDecisionEvent(value, path);
  if (!result.ok) throw new ValidationError('The decision event is invalid.', result.issues);
  return result.event;
}

/**
 * The one JSON spelling of an event: core fields in CORE_FIELDS order, then the gateway's extra
 * fields in the order they came. The store keeps these bytes so re-running an export yields the
 * same output.
 */
export function canonicalEventJson(event: DecisionEvent): string {
  // Written member by member: an object would list integer-like keys (e.g. "7") before the rest.
  const members: string[] = [];
  for (const field of CORE_FIELDS) members.push(`${JSON.stringify(field)}:${JSON.stringify(event[field])}`);
  for (const [key, value] of Object.entries(event)) {
    if (!(CORE_FIELDS as readonly string[]).includes(key))
      members.push(`${JSON.stringify(key)}:${JSON.stringify(value)}`);
  }
  return `{${members.join(',')}}`;
}
