import type { Sha256State } from '../digest/resumable-sha256.ts';
import type { ReportSummary } from './report/report-summary.ts';

/** One uploaded part of a multipart artifact upload. */
export interface UploadedPart {
  readonly partNumber: number;
  readonly etag: string;
}

/**
 * How far a running export has got, saved on the job after every uploaded part. It describes
 * only what is durably in S3: the events in the uploaded parts, the digest of exactly those bytes
 * and the position to read on from. An invocation that dies after a part's upload but before
 * saving this is redone from the previous checkpoint; it re-uploads the same part number with
 * the same bytes, which S3 simply replaces, so nothing is written twice or skipped.
 */
export interface ExportCheckpoint {
  readonly artifactKey: string;
  readonly uploadId: string;
  readonly parts: readonly UploadedPart[];
  /** Events in the uploaded parts. */
  readonly records: number;
  /** Bytes in the uploaded parts (header included). */
  readonly bytes: number;
  /** The sort key of the last event in the uploaded parts; absent before the first part. */
  readonly afterSortKey?: string;
  /** SHA-256 state over the uploaded bytes, carried from one invocation to the next. */
  readonly digest: Sha256State;
  /** The records digest (evidence/records-digest.ts) over the records in the uploaded parts. */
  readonly recordsDigest: Sha256State;
  /** Every event, and the trailer, is uploaded: only completing the upload remains. */
  readonly done: boolean;
  /**
   * PDF jobs: the report's summaries over the events in the uploaded parts (whose upload is the
   * companion CSV), saved with each part so a resumed page counts every event exactly once.
   */
  readonly summary?: ReportSummary;
  /** PDF jobs: the report's own upload, once RenderReport has started it. */
  readonly report?: ReportCheckpoint;
  /**
   * When Finalize claimed to publish: saved (conditionally, like every save) after its
   * completeness check and before it completes any upload. From then on the export can no longer
   * be cancelled (export-job.ts cancelJob), so no artifact or manifest is ever published for a
   * cancelled export; each Finalize attempt claims afresh.
   */
  readonly publishing?: string;
}

/**
 * The PDF report's multipart upload. RenderReport draws the whole report in one invocation (a
 * PDF cannot be resumed half-way), so this is either started (a retry aborts it and starts
 * again) or done, with the parts Finalize completes once the completeness check passes.
 */
export interface ReportCheckpoint {
  readonly artifactKey: string;
  readonly uploadId: string;
  readonly done: boolean;
  readonly parts?: readonly UploadedPart[];
  readonly bytes?: number;
  /** Lowercase hex SHA-256 of the report's bytes. */
  readonly sha256?: string;
  readonly pages?: number;
  /** Event rows the report's table shows (at most the deployment's cap). */
  readonly rowsShown?: number;
  /** Characters no embedded font has, drawn as □. */
  readonly missingCharacters?: number;
}
