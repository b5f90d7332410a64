import type { EventStore } from '../ports.ts';
import type { DecisionEvent } from './decision-event.ts';
import { type ConflictKind, conflictOf, type EventIdRecord, eventIdRecord } from './event-identity.ts';

/** An offered event refused because its id is recorded with other content or at another time. */
export interface RefusedEvent {
  /** Its position in the events given. */
  readonly index: number;
  readonly conflict: ConflictKind;
  readonly stored: EventIdRecord;
  readonly offered: EventIdRecord;
}

export interface StoreEventsOutcome {
  /** Ids stored for the first time by this call. */
  readonly written: readonly string[];
  /** Ids recorded before with the same content and time (written again, which heals a crash). */
  readonly alreadyStored: readonly string[];
  readonly conflicts: readonly RefusedEvent[];
  /** Events the store could not write even after retries; sending them again is safe. */
  readonly failed: readonly { readonly id: string; readonly reason: string }[];
}

/**
 * The one way events enter the store, write-once by id (event-identity.ts): claim every id, then
 * write the items of the events that claimed their id or repeat the recorded one exactly. Ingest
 * and the local stack's demo seeding both go through here, so no event item is ever written
 * without its id record.
 */
export async function storeEvents(
  store: EventStore,
  events: readonly DecisionEvent[],
): Promise<StoreEventsOutcome> {
  const offered = events.map(eventIdRecord);
  const claims = await store.claimEventIds(offered);
  const fresh = new Set<string>();
  const toWrite: DecisionEvent[] = [];
  const conflicts: RefusedEvent[] = [];
  const failed: { id: string; reason: string }[] = [];
  claims.forEach((claim, index) => {
    const event = events[index]!;
    if (claim.outcome === 'failed') {
      failed.push({ id: event.id, reason: claim.reason });
      return;
    }
    if (claim.outcome === 'claimed') {
      fresh.add(event.id);
      toWrite.push(event);
      return;
    }
    const conflict = conflictOf(claim.stored, offered[index]!);
    if (conflict === undefined) toWrite.push(event);
    else conflicts.push({ index, conflict, stored: claim.stored, offered: offered[index]! });
  });
  const put = toWrite.length === 0 ? { written: [], failed: [] } : await store.putEvents(toWrite);
  return {
    written: put.written.filter((id) => fresh.has(id)),
    alreadyStored: put.written.filter((id) => !fresh.has(id)),
    conflicts,
    failed: [...failed, ...put.failed],
  };
}
