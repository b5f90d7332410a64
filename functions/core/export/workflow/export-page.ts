import { ResumableSha256 } from '../../digest/resumable-sha256.ts';
import { ConflictError } from '../../errors.ts';
import { RecordsDigest, recordLineOfCanonical } from '../../evidence/records-digest.ts';
import { encoderFor } from '../encoders.ts';
import { eventFilterOf, exportMetadataOf } from '../export-artifact.ts';
import type { ExportCheckpoint } from '../export-checkpoint.ts';
import { type ExportJob, recordProgress } from '../export-job.ts';
import { DEFAULT_MAX_EXPORT_RECORDS, tooManyRecords } from '../export-limits.ts';
import { SummaryAccumulator } from '../report/report-summary.ts';
import { unlessCancelled } from './cancelled-export.ts';
import { PartBuffer } from './part-buffer.ts';
import { type ExportStepState, type ExportWorkflowDeps, requireJob } from './workflow-deps.ts';

/** S3's smallest part (all but the last part of an upload must be at least this big). */
export const MIN_PART_BYTES = 5 * 1024 * 1024;
/**
 * Parts start at the minimum: larger parts only mean fewer requests, and memory holds two of them
 * (one uploading, one filling).
 */
export const DEFAULT_PART_BYTES = MIN_PART_BYTES;
/** Room for the event that takes a part over its threshold, so the buffer rarely grows. */
const PART_SLACK_BYTES = 256 * 1024;
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

/** The size a part must reach before it is uploaded: it grows so S3's 10,000 parts hold 288 GB. */
export function partThreshold(partNumber: number, base: number): number {
  return base * (1 + Math.floor((partNumber - 1) / PARTS_PER_SIZE_STEP));
}

/**
 * ExportPage: reads events after the checkpoint, encodes them and uploads them part by part,
 * saving the checkpoint after every part, until the events run out (the last part, with the
 * trailer, is uploaded: `done: true`) or the time budget runs out (`done: false`: call again).
 * An export with more records than the deployment allows fails (ExportTooLargeError) as soon as
 * it reaches one more; MarkFailed then aborts its upload.
 *
 * Parts are cut at event boundaries once they reach the threshold in bytes. While one part
 * uploads, the next is read and encoded into a second buffer: at most one upload is in flight,
 * and checkpoints are saved in part order, each only once its part is stored. Memory holds two
 * parts whatever the size of the export.
 *
 * A cancelled export stops at the first save after its cancellation (at most one part later), or
 * as soon as a part upload finds the upload aborted: ExportCancelledError, after aborting the
 * upload again (a part in flight during the cancellation's abort may have outlived it).
 */
export async function exportPage(
  deps: ExportWorkflowDeps,
  exportId: string,
  options: ExportPageOptions,
): Promise<ExportStepState> {
  return unlessCancelled(deps, exportId, 'ExportPage', () => writePages(deps, exportId, options), {
    abortUploads: true,
  });
}

async function writePages(
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
  // A PDF job goes on to RenderReport (the IsPdf? choice in the state machine reads `report`).
  const finished: ExportStepState = job.format === 'pdf' ? { exportId, done: true, report: true } : { exportId, done: true };
  if (checkpoint.done) return finished;
  const { artifactKey, uploadId } = checkpoint;

  const maxRecords = deps.maxExportRecords ?? DEFAULT_MAX_EXPORT_RECORDS;
  const encoder = encoderFor(job.format);
  const metadata = exportMetadataOf(job);
  const digest = ResumableSha256.fromState(checkpoint.digest);
  const recordsDigest = new RecordsDigest(checkpoint.recordsDigest);
  // The record lines of the events in the current part, hashed once the part is cut.
  let recordLines: string[] = [];
  // PDF jobs: the report's summaries. Every event appended is in the next part cut, so at a cut
  // they cover exactly the events uploaded, like the digests.
  const summary = checkpoint.summary === undefined ? undefined : new SummaryAccumulator(checkpoint.summary);
  const buffers = [new PartBuffer(partBytes + PART_SLACK_BYTES), new PartBuffer(partBytes + PART_SLACK_BYTES)];
  let current = buffers[0]!;
  let records = checkpoint.records;
  let lastSortKey = checkpoint.afterSortKey;
  let bytesCut = checkpoint.bytes;
  let nextPartNumber = checkpoint.parts.length + 1;
  let inFlight: Promise<void> | undefined;

  const save = async (next: ExportCheckpoint) => {
    checkpoint = next;
    job = { ...recordProgress(job, next.records), checkpoint: next };
    revision = await deps.jobs.saveJob(job, revision);
  };

  /** Hands the current buffer to an upload and carries on in the other one. */
  const cut = async (done: boolean) => {
    const body = current.bytes();
    digest.update(body);
    recordsDigest.addLines(recordLines.join(''));
    recordLines = [];
    bytesCut += body.length;
    const partNumber = nextPartNumber++;
    const reached = {
      records,
      bytes: bytesCut,
      ...(lastSortKey === undefined ? {} : { afterSortKey: lastSortKey }),
      digest: digest.toState(),
      recordsDigest: recordsDigest.state(),
      ...(summary === undefined ? {} : { summary: summary.summary() }),
      done,
    };
    // The previous part is stored and saved: its buffer is free, and checkpoints stay in order.
    await inFlight;
    inFlight = (async () => {
      const etag = await deps.artifacts.uploadPart(artifactKey, uploadId, partNumber, body);
      await save({ ...checkpoint, ...reached, parts: [...checkpoint.parts, { partNumber, etag }] });
    })();
    // Awaited before this step returns or throws; this only keeps it from counting as unhandled.
    inFlight.catch(() => undefined);
    current = current === buffers[0] ? buffers[1]! : buffers[0]!;
    current.clear();
  };

  try {
    if (checkpoint.parts.length === 0) current.append(encoder.header(metadata));
    const stream = deps.events.streamEvents(
      eventFilterOf(job),
      checkpoint.afterSortKey === undefined ? {} : { afterSortKey: checkpoint.afterSortKey },
    );
    for await (const event of stream) {
      // Past the deployment's limit the job fails here, before record max + 1 is written: an
      // export is never cut short, and the events after it are not read at all.
      if (records >= maxRecords) throw tooManyRecords(exportId, maxRecords);
      current.append(encoder.encode(event, records));
      recordLines.push(recordLineOfCanonical(event.json));
      summary?.add(JSON.parse(event.json) as Record<string, unknown>);
      records += 1;
      lastSortKey = event.sortKey;
      if (current.byteLength >= partThreshold(nextPartNumber, partBytes)) {
        await cut(false);
        if (options.timeLeftMs() <= 0) {
          await inFlight;
          return { exportId, done: false };
        }
      }
    }
    current.append(encoder.trailer(metadata, records));
    if (current.byteLength > 0) {
      await cut(true);
      await inFlight;
    } else {
      // Nothing left to write (a CSV's trailer is empty): the parts so far are the whole artifact.
      await inFlight;
      await save({ ...checkpoint, done: true });
    }
    return finished;
  } catch (error) {
    await inFlight?.catch(() => undefined);
    throw error;
  }
}
