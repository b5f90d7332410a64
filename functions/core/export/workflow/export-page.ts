import { ResumableSha256 } from '../../digest/resumable-sha256.ts';
import { ConflictError } from '../../errors.ts';
import { encoderFor } from '../encoders.ts';
import { eventFilterOf, exportMetadataOf } from '../export-artifact.ts';
import type { ExportCheckpoint } from '../export-checkpoint.ts';
import { type ExportJob, recordProgress } from '../export-job.ts';
import { type ExportStepState, type ExportWorkflowDeps, requireJob } from './workflow-deps.ts';

/** S3's smallest part (all but the last part of an upload must be at least this big). */
export const MIN_PART_BYTES = 5 * 1024 * 1024;
export const DEFAULT_PART_BYTES = 8 * 1024 * 1024;
/** S3 allows 10,000 parts; growing the part size every 1,000 parts keeps far below that. */
const PARTS_PER_SIZE_STEP = 1000;

export interface ExportPageOptions {
  /**
   * How much of this invocation's time budget is left; checked after every part, and once it is
   * 0 or less no new part is started and the step returns `done: false`.
   */
  readonly timeLeftMs: () => number;
  /** @default DEFAULT_PART_BYTES */
  readonly partBytes?: number;
}

/** The size a part must reach before it is uploaded: it grows so 10,000 parts hold 400+ GB. */
export function partThreshold(partNumber: number, base: number): number {
  return base * (1 + Math.floor((partNumber - 1) / PARTS_PER_SIZE_STEP));
}

/**
 * ExportPage: reads events after the checkpoint, encodes them and uploads them part by part,
 * saving the checkpoint after every part, until the events run out (the last part, with the
 * trailer, is uploaded: `done: true`) or the time budget runs out (`done: false`: call again).
 *
 * Memory holds at most one part. Parts are cut at event boundaries and only once the text
 * reaches the threshold in UTF-16 units, which is never more than its UTF-8 byte length, so
 * every part but the last is at least the threshold in bytes.
 */
export async function exportPage(
  deps: ExportWorkflowDeps,
  exportId: string,
  options: ExportPageOptions,
): Promise<ExportStepState> {
  const partBytes = options.partBytes ?? DEFAULT_PART_BYTES;
  if (!Number.isSafeInteger(partBytes) || partBytes < MIN_PART_BYTES) {
    throw new RangeError(`partBytes must be at least ${MIN_PART_BYTES} (S3's minimum part size)`);
  }
  const found = await requireJob(deps.jobs, exportId);
  let job: ExportJob = found.value;
  let revision = found.revision;
  if (job.status !== 'running' || job.checkpoint === undefined) {
    throw new ConflictError(`Export ${exportId} is ${job.status}; only a running export can write pages.`);
  }
  let checkpoint: ExportCheckpoint = job.checkpoint;
  if (checkpoint.done) return { exportId, done: true };

  const encoder = encoderFor(job.format);
  const metadata = exportMetadataOf(job);
  const digest = ResumableSha256.fromState(checkpoint.digest);
  let pending: string[] = [];
  let pendingChars = 0;
  let records = checkpoint.records;
  let lastSortKey = checkpoint.afterSortKey;
  const append = (text: string) => {
    pending.push(text);
    pendingChars += text.length;
  };

  const uploadPending = async (done: boolean) => {
    const body = Buffer.from(pending.join(''), 'utf8');
    pending = [];
    pendingChars = 0;
    const partNumber = checkpoint.parts.length + 1;
    const etag = await deps.artifacts.uploadPart(checkpoint.artifactKey, checkpoint.uploadId, partNumber, body);
    digest.update(body);
    checkpoint = {
      ...checkpoint,
      parts: [...checkpoint.parts, { partNumber, etag }],
      records,
      bytes: checkpoint.bytes + body.length,
      ...(lastSortKey === undefined ? {} : { afterSortKey: lastSortKey }),
      digest: digest.toState(),
      done,
    };
    job = { ...recordProgress(job, records), checkpoint };
    revision = await deps.jobs.saveJob(job, revision);
  };

  if (checkpoint.parts.length === 0) append(encoder.header(metadata));
  const stream = deps.events.streamEvents(
    eventFilterOf(job),
    checkpoint.afterSortKey === undefined ? {} : { afterSortKey: checkpoint.afterSortKey },
  );
  for await (const event of stream) {
    append(encoder.encode(event, records));
    records += 1;
    lastSortKey = event.sortKey;
    if (pendingChars >= partThreshold(checkpoint.parts.length + 1, partBytes)) {
      await uploadPending(false);
      if (options.timeLeftMs() <= 0) return { exportId, done: false };
    }
  }
  append(encoder.trailer(metadata, records));
  if (pendingChars > 0) {
    await uploadPending(true);
  } else {
    // Nothing left to write (a CSV's trailer is empty): the parts so far are the whole artifact.
    checkpoint = { ...checkpoint, done: true };
    job = { ...job, checkpoint };
    revision = await deps.jobs.saveJob(job, revision);
  }
  return { exportId, done: true };
}
