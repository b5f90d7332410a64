import type { DecisionEvent } from './events/decision-event.ts';
import type { TimeRange } from './events/time-range.ts';
import type { TokenRecord } from './auth/token-record.ts';

/**
 * What the core needs from the outside world. Adapters in functions/adapters implement these
 * against AWS (or the embedded local servers); tests may implement them in memory.
 */

/** Which events a query or export selects: a time range and optional exact-match filters. */
export interface EventFilter extends TimeRange {
  readonly team?: string;
  readonly policy?: string;
}

/** An event as stored: its position in export order and its canonical JSON bytes. */
export interface StoredEvent {
  /** `<sortable instant>#<id>`; strictly increasing along a stream. */
  readonly sortKey: string;
  /** canonicalEventJson(event) */
  readonly json: string;
}

export interface EventPage {
  readonly events: readonly DecisionEvent[];
  /** Present when more events may follow; pass it back to continue after the last one. */
  readonly cursor?: string;
}

/** Outcome of writing a batch: every id is in exactly one of the two lists. */
export interface PutEventsResult {
  readonly written: readonly string[];
  readonly failed: readonly { readonly id: string; readonly reason: string }[];
}

export interface EventStore {
  /** Writes validated events; idempotent by event id (a repeat overwrites the same item). */
  putEvents(events: readonly DecisionEvent[]): Promise<PutEventsResult>;
  /**
   * Streams matching events in (timestamp, id) order, starting after `afterSortKey` when given.
   * Reads only the days in range, and only matching events when a filter is set.
   */
  streamEvents(filter: EventFilter, options?: { readonly afterSortKey?: string }): AsyncIterable<StoredEvent>;
  /** One page of matching events, in order; `cursor` continues a previous page. */
  queryEvents(filter: EventFilter, options: { readonly limit: number; readonly cursor?: string }): Promise<EventPage>;
}

export interface TokenStore {
  putToken(record: TokenRecord): Promise<void>;
  getTokenByHash(tokenHash: string): Promise<TokenRecord | undefined>;
}
