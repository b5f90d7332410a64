import type { TimeRange } from './time-range.ts';

/** Which events a query or export selects: a time range and optional exact-match filters. */
export interface EventFilter extends TimeRange {
  readonly team?: string;
  readonly policy?: string;
}
