/**
 * The PDF report's summaries, accumulated by ExportPage while it writes the companion CSV and
 * saved in the export checkpoint after every part, so a retried or resumed page carries on from
 * the counts of exactly the events already uploaded. RenderReport reads them back: the summary
 * pages are written before the event table, and must cover every record however many rows the
 * table shows.
 *
 * The checkpoint lives in the job item (DynamoDB allows 400 KB), so each breakdown itemises at
 * most MAX_ITEMISED_VALUES distinct values (the first ones seen); events with any further value are
 * counted together under `others`. Every total still covers every record: nothing is dropped,
 * only not named, and the report says so.
 */

export const SUMMARY_DIMENSIONS = ['action', 'result', 'policy', 'team', 'model'] as const;

export type SummaryDimension = (typeof SUMMARY_DIMENSIONS)[number];

/** 5 breakdowns × 50 values × 256 characters stays far below the job item's 400 KB. */
export const MAX_ITEMISED_VALUES = 50;

export interface Breakdown {
  /** Value → events, for the first MAX_ITEMISED_VALUES distinct values. */
  readonly counts: Readonly<Record<string, number>>;
  /** Events whose value is not itemised. */
  readonly others: number;
}

export interface ReportSummary {
  readonly records: number;
  readonly breakdowns: Readonly<Record<SummaryDimension, Breakdown>>;
  /** `YYYY-MM-DD` (UTC) → events that day. At most 367 days (the longest range). */
  readonly perDay: Readonly<Record<string, number>>;
  readonly tokens: number;
  /** Sum of latency_ms, for the mean. */
  readonly latencyMs: number;
}

export function emptySummary(): ReportSummary {
  const breakdowns = {} as Record<SummaryDimension, Breakdown>;
  for (const dimension of SUMMARY_DIMENSIONS) breakdowns[dimension] = { counts: {}, others: 0 };
  return { records: 0, breakdowns, perDay: {}, tokens: 0, latencyMs: 0 };
}

/** Adds records to a summary in place of copying it per event: ExportPage adds millions. */
export class SummaryAccumulator {
  private records: number;
  private tokens: number;
  private latencyMs: number;
  private readonly counts: Record<SummaryDimension, Map<string, number>>;
  private readonly others: Record<SummaryDimension, number>;
  private readonly perDay: Map<string, number>;

  constructor(from: ReportSummary = emptySummary()) {
    this.records = from.records;
    this.tokens = from.tokens;
    this.latencyMs = from.latencyMs;
    this.counts = {} as Record<SummaryDimension, Map<string, number>>;
    this.others = {} as Record<SummaryDimension, number>;
    for (const dimension of SUMMARY_DIMENSIONS) {
      const breakdown = from.breakdowns[dimension];
      this.counts[dimension] = new Map(Object.entries(breakdown.counts));
      this.others[dimension] = breakdown.others;
    }
    this.perDay = new Map(Object.entries(from.perDay));
  }

  add(record: Readonly<Record<string, unknown>>): void {
    this.records += 1;
    for (const dimension of SUMMARY_DIMENSIONS) {
      const value = record[dimension];
      const key = typeof value === 'string' ? value : String(value ?? '');
      const counts = this.counts[dimension];
      const count = counts.get(key);
      if (count !== undefined) counts.set(key, count + 1);
      else if (counts.size < MAX_ITEMISED_VALUES) counts.set(key, 1);
      else this.others[dimension] += 1;
    }
    const timestamp = record.timestamp;
    const day = typeof timestamp === 'string' ? timestamp.slice(0, 10) : '';
    this.perDay.set(day, (this.perDay.get(day) ?? 0) + 1);
    if (typeof record.tokens === 'number') this.tokens += record.tokens;
    if (typeof record.latency_ms === 'number') this.latencyMs += record.latency_ms;
  }

  summary(): ReportSummary {
    const breakdowns = {} as Record<SummaryDimension, Breakdown>;
    for (const dimension of SUMMARY_DIMENSIONS) {
      breakdowns[dimension] = {
        counts: Object.fromEntries(this.counts[dimension]),
        others: this.others[dimension],
      };
    }
    return {
      records: this.records,
      breakdowns,
      perDay: Object.fromEntries(this.perDay),
      tokens: this.tokens,
      latencyMs: this.latencyMs,
    };
  }
}
