import type { TimeRange } from '../events/time-range.ts';

/** Every format the product documents (the tutorial's `--format`), written yet or not. */
export const DOCUMENTED_FORMATS = ['json', 'csv', 'pdf'] as const;

export type DocumentedFormat = (typeof DOCUMENTED_FORMATS)[number];

/** Artifact formats this build writes (a PDF job also writes a companion CSV: encoders.ts). */
export const EXPORT_FORMATS = ['json', 'csv', 'pdf'] as const satisfies readonly DocumentedFormat[];

export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/** Exact-match filters an export was created with; an absent filter selects everything. */
export interface ExportFilters {
  readonly team?: string;
  readonly policy?: string;
}

/** What an artifact says about itself: enough for a reader to know which events it holds and why. */
export interface ExportMetadata {
  readonly id: string;
  readonly title?: string;
  readonly range: TimeRange;
  readonly filters: ExportFilters;
  readonly format: ExportFormat;
  /** ISO 8601 UTC; fixed when the export is created so a resumed run writes the same bytes. */
  readonly generated_at: string;
}
