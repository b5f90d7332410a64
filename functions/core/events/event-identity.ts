import { createHash } from 'node:crypto';
import { canonicalEventJson, type DecisionEvent } from './decision-event.ts';
import { sortableInstant } from './time-range.ts';

/**
 * Decision events are write-once by id. Before an event item is written, the store records its id
 * with a digest of its content, in a write that succeeds only if the id was never recorded (a
 * conditional put of an id record; the DynamoDB store sends them 100 to a transaction).
 * Whoever records an id first owns it; every later writer of that id is compared with the record:
 * the same digest is a harmless repeat, anything else is a conflict that changes nothing.
 *
 * Because the record is written before the event item, a writer that dies between the two leaves
 * a record without an item; its retry finds its own digest and writes the item then.
 */

/** What the store keeps of an id, once: enough to tell a repeat from a conflict. */
export interface EventIdRecord {
  readonly id: string;
  /** Lowercase hex SHA-256 of canonicalEventJson(event). */
  readonly digest: string;
  /** The timestamp exactly as ingested. */
  readonly timestamp: string;
  readonly team: string;
}

/** What claiming an id found: it was free (now ours), or recorded before, or the store failed. */
export type EventIdClaim =
  | { readonly outcome: 'claimed' }
  | { readonly outcome: 'recorded'; readonly stored: EventIdRecord }
  | { readonly outcome: 'failed'; readonly reason: string };

export type ConflictKind = 'time' | 'content';

export function eventDigest(event: DecisionEvent): string {
  return createHash('sha256').update(canonicalEventJson(event), 'utf8').digest('hex');
}

export function eventIdRecord(event: DecisionEvent): EventIdRecord {
  return { id: event.id, digest: eventDigest(event), timestamp: event.timestamp, team: event.team };
}

/**
 * How an offered event differs from the one recorded under its id; undefined when it is the same
 * event (an idempotent repeat). Time is named first: an event moved in time is the worse tamper.
 */
export function conflictOf(stored: EventIdRecord, offered: EventIdRecord): ConflictKind | undefined {
  if (sortableInstant(stored.timestamp) !== sortableInstant(offered.timestamp)) return 'time';
  if (stored.digest !== offered.digest) return 'content';
  return undefined;
}
