import type { Principal } from '../auth/token-record.ts';
import { ForbiddenError } from '../errors.ts';
import type { EventStore } from '../ports.ts';
import { parseEventBatch } from './event-batch.ts';

export interface IngestResult {
  /** Distinct events in the request (identical repeats count once). */
  readonly received: number;
  readonly written: number;
  /** Events the store could not write even after retries; resending them is safe. */
  readonly failed: readonly { readonly id: string; readonly reason: string }[];
}

/**
 * Validates the whole batch first (nothing is written if any event is bad), then stores it.
 * A token restricted to one team may only write that team's events.
 */
export async function ingestEvents(store: EventStore, body: unknown, principal: Principal): Promise<IngestResult> {
  const events = parseEventBatch(body);
  const foreign = principal.team === undefined ? undefined : events.find((e) => e.team !== principal.team);
  if (foreign !== undefined) {
    throw new ForbiddenError(
      `This token may only write events of team ${principal.team}; event ${foreign.id} belongs to ${foreign.team}.`,
    );
  }
  const result = await store.putEvents(events);
  return { received: events.length, written: result.written.length, failed: result.failed };
}
