import { MAX_BATCH_BYTES, MAX_BATCH_EVENTS } from '../../functions/core/events/decision-event.ts';
import { renderProblem } from '../api/problems.ts';
import { backoffDelay } from '../api/retry.ts';
import { ApiError, CommandFailedError } from '../errors.ts';
import { describePosition, type EventFileFormat, type FileRecord, readEventFile } from '../event-file.ts';
import { formatCount } from '../output.ts';
import type { IngestFn, IngestResponse } from './ingest.ts';
import type { ValidationReport } from './validation.ts';

/**
 * Pass 2 of `kt events import`: streams the file again and uploads what pass 1
 * (./validation.ts) approved, in batches.
 */

export interface PendingEvent {
  readonly position: number;
  readonly id: string;
  readonly value: unknown;
}

export interface UploadOptions {
  readonly format: EventFileFormat;
  readonly batchSize?: number;
  /** The largest request body a batch may make (default MAX_BATCH_BYTES, the API's limit). */
  readonly maxBatchBytes?: number;
  /** Batches in flight at once (default 2). */
  readonly concurrency?: number;
  /** How often events the API reports as failed (207) are sent again (default 3). */
  readonly maxResends?: number;
  readonly onStored?: (count: number) => void;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly random?: () => number;
}

export interface UploadResult {
  /** Events the API confirmed as stored (new and already stored). */
  readonly imported: number;
  /** Of those, the ones stored for the first time. */
  readonly new: number;
  /** Of those, the ones that were stored identically before. */
  readonly alreadyStored: number;
  /** Events refused because their id is stored with other content or time. */
  readonly conflicts: readonly {
    readonly id: string;
    readonly position: number;
    readonly conflict: string;
    readonly reason: string;
  }[];
  /** Events still failing after every resend, with the API's last reason. */
  readonly notStored: readonly { readonly id: string; readonly position: number; readonly reason: string }[];
}

const RESEND_BACKOFF = { attempts: 4, baseDelayMs: 500, maxDelayMs: 5_000 };

/**
 * Uploads events in batches of `batchSize` with `concurrency` batches in flight, resending the
 * events a 207 names as failed (never those it names as conflicts: their ids are stored already). A rejected batch (400 etc.) stops the upload; its problem is
 * reworded to name file lines instead of batch indexes.
 */
export async function uploadEvents(
  events: AsyncIterable<PendingEvent>,
  ingest: IngestFn,
  options: UploadOptions,
): Promise<UploadResult> {
  const batchSize = options.batchSize ?? MAX_BATCH_EVENTS;
  // `{"events":[` + `]}`, then each event as JSON and a comma: what the client will send.
  const frameBytes = '{"events":[]}'.length;
  const maxBatchBytes = options.maxBatchBytes ?? MAX_BATCH_BYTES;
  const concurrency = Math.max(1, options.concurrency ?? 2);
  const maxResends = options.maxResends ?? 3;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  let imported = 0;
  let alreadyStored = 0;
  const notStored: { id: string; position: number; reason: string }[] = [];
  const conflicts: { id: string; position: number; conflict: string; reason: string }[] = [];
  const inFlight = new Set<Promise<void>>();
  let failure: { error: unknown; batch: readonly PendingEvent[] } | undefined;

  const sendBatch = async (batch: readonly PendingEvent[]): Promise<void> => {
    let pending = batch;
    for (let resend = 0; ; resend += 1) {
      let response: IngestResponse;
      try {
        response = await ingest(pending.map((event) => event.value));
      } catch (error) {
        failure ??= { error, batch: pending };
        return;
      }
      const failed = new Map(response.failed.map((f) => [f.id, f.reason]));
      const refused = new Map(response.conflicts.map((c) => [c.id, c]));
      for (const event of pending) {
        const conflict = refused.get(event.id);
        if (conflict !== undefined) conflicts.push({ ...conflict, position: event.position });
      }
      const stored = pending.filter((event) => !failed.has(event.id) && !refused.has(event.id));
      imported += stored.length;
      alreadyStored += response.alreadyStored;
      if (stored.length > 0) options.onStored?.(stored.length);
      const retry = pending.filter((event) => failed.has(event.id));
      if (retry.length === 0) return;
      if (resend >= maxResends) {
        for (const event of retry) {
          notStored.push({
            id: event.id,
            position: event.position,
            reason: failed.get(event.id) ?? 'not stored',
          });
        }
        return;
      }
      await sleep(backoffDelay(resend, RESEND_BACKOFF, options.random));
      pending = retry;
    }
  };

  const launch = async (batch: readonly PendingEvent[]) => {
    while (inFlight.size >= concurrency) await Promise.race(inFlight);
    if (failure !== undefined) return;
    const task: Promise<void> = sendBatch(batch)
      .catch((error: unknown) => {
        failure ??= { error, batch };
      })
      .finally(() => inFlight.delete(task));
    inFlight.add(task);
  };

  let batch: PendingEvent[] = [];
  let batchBytes = frameBytes;
  try {
    for await (const event of events) {
      if (failure !== undefined) break;
      // Cut by bytes too: many large events would make a body the API (and Lambda) refuses.
      const bytes = Buffer.byteLength(JSON.stringify(event.value), 'utf8') + 1;
      if (batch.length > 0 && batchBytes + bytes > maxBatchBytes) {
        await launch(batch);
        batch = [];
        batchBytes = frameBytes;
      }
      batch.push(event);
      batchBytes += bytes;
      if (batch.length >= batchSize) {
        await launch(batch);
        batch = [];
        batchBytes = frameBytes;
      }
    }
    if (batch.length > 0 && failure === undefined) await launch(batch);
  } finally {
    await Promise.allSettled([...inFlight]);
  }
  if (failure !== undefined)
    throw explainRejectedBatch(failure.error, failure.batch, options.format, imported);
  conflicts.sort((a, b) => a.position - b.position);
  return { imported, new: imported - alreadyStored, alreadyStored, notStored, conflicts };
}

/** Renames `events[3].timestamp` in a 400 problem to `line 1504: timestamp` and says what was stored. */
function explainRejectedBatch(
  error: unknown,
  batch: readonly PendingEvent[],
  format: EventFileFormat,
  importedSoFar: number,
): unknown {
  if (!(error instanceof ApiError)) return error;
  const label = (field: string) =>
    field.replace(/^events\[(\d+)\]\.?/, (match, index: string) => {
      const event = batch[Number(index)];
      return event === undefined ? match : `${describePosition(format, event.position)}: `;
    });
  const reason = error.errors.length > 0 ? renderProblem(error.problem, error.status, label) : error.message;
  let message = `${error.status < 500 ? 'the API rejected a batch' : 'a batch failed'}: ${reason}`;
  if (error.status === 413) message += ' (try a smaller --batch-size)';
  message +=
    importedSoFar > 0
      ? `; ${formatCount(importedSoFar)} events were stored before it (importing again is safe)`
      : '; no events were stored';
  return new ApiError(message, error.status, error.problem, { cause: error });
}

// ---------------------------------------------------------------------------------------------
// Pass 2 input.

/**
 * Streams the file again and yields what pass 1 approved: valid events, first occurrence of
 * each id. A record pass 1 did not see means the file changed in between: that stops the import.
 */
export async function* eventsToUpload(
  path: string,
  report: ValidationReport,
  onBytes?: (bytes: number) => void,
): AsyncGenerator<PendingEvent> {
  const records: AsyncIterable<FileRecord> = readEventFile(path, { format: report.format, onBytes });
  for await (const { position, value } of records) {
    const id = (value as { id?: unknown } | null)?.id;
    const first = typeof id === 'string' ? report.index.isFirst(id, position) : undefined;
    if (first === undefined) {
      throw new CommandFailedError(
        `${path} changed while it was being imported (${describePosition(report.format, position)} is new); run the import again`,
      );
    }
    if (first) yield { position, id: id as string, value };
  }
}
