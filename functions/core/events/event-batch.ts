import { z } from 'zod';
import { type FieldIssue, ValidationError } from '../errors.ts';
import { parseRequest, requestObject } from '../request-schema.ts';
import {
  canonicalEventJson,
  type DecisionEvent,
  MAX_BATCH_EVENTS,
  parseDecisionEvent,
} from './decision-event.ts';

/** The `POST /v1/events` envelope; each event is checked by decisionEventSchema on its own. */
export const eventBatchSchema = requestObject(
  {
    events: z
      .array(z.unknown(), { error: 'must be an array' })
      .min(1, { error: (issue) => eventCountRule(issue.input) })
      .max(MAX_BATCH_EVENTS, { error: (issue) => eventCountRule(issue.input) }),
  },
  { unknown: () => 'is not a known field; the only field is events' },
);

function eventCountRule(events: unknown): string {
  return `must hold 1 to ${MAX_BATCH_EVENTS} events (has ${Array.isArray(events) ? events.length : 0})`;
}

/**
 * Validates an ingest request body `{ "events": [...] }` as a whole: one bad event rejects the
 * batch, with a reason for every bad event, so a batch is never half stored. An event repeated
 * with identical content counts once; the same id with different content is an error.
 */
export function parseEventBatch(body: unknown): DecisionEvent[] {
  if (body === null || typeof body !== 'object' || Array.isArray(body) || !Object.hasOwn(body, 'events')) {
    throw new ValidationError('The request body must be a JSON object with an "events" array.', [
      { field: 'events', rule: 'is required' },
    ]);
  }
  const { events } = parseRequest(eventBatchSchema, body, 'The request body is invalid.');

  const issues: FieldIssue[] = [];
  const byId = new Map<string, { index: number; json: string; event: DecisionEvent }>();
  events.forEach((value, index) => {
    const parsed = parseDecisionEvent(value, `events[${index}]`);
    if (!parsed.ok) {
      issues.push(...parsed.issues);
      return;
    }
    const json = canonicalEventJson(parsed.event);
    const seen = byId.get(parsed.event.id);
    if (seen === undefined) {
      byId.set(parsed.event.id, { index, json, event: parsed.event });
    } else if (seen.json !== json) {
      issues.push({
        field: `events[${index}].id`,
        rule: `repeats the id of events[${seen.index}] with different content`,
      });
    }
  });
  if (issues.length > 0) {
    const bad = new Set(issues.map((i) => i.field.match(/^events\[(\d+)\]/)?.[1])).size;
    throw new ValidationError(`${bad} of ${events.length} events are invalid; nothing was stored.`, issues);
  }
  return [...byId.values()].map((entry) => entry.event);
}
