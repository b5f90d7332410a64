import type { Sha256State } from '../digest/resumable-sha256.ts';

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
}
