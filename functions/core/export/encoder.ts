import type { StoredEvent } from '../events/stored-event.ts';
import type { ExportFormat, ExportMetadata } from './export-metadata.ts';

/**
 * Writes one artifact format in pieces: header, then each event, then trailer. Every method is a
 * pure function of its arguments, so an export can stop after any event and another process can
 * carry on knowing only how many events were already written.
 *
 * The artifact is exactly `header(meta) + encode(e0, 0) + … + encode(eN-1, N-1) + trailer(meta, N)`.
 */
export interface ExportEncoder {
  readonly format: ExportFormat;
  /** Media type for the stored artifact and its download. */
  readonly contentType: string;
  header(meta: ExportMetadata): string;
  /** `index` is the event's 0-based position in the whole export, not in the current run. */
  encode(event: StoredEvent, index: number): string;
  /** `recordCount` is the total number of events encoded across all runs. */
  trailer(meta: ExportMetadata, recordCount: number): string;
}
