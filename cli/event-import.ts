import { createHash } from 'node:crypto';
import type { FieldIssue } from '../functions/core/errors.ts';
import {
  canonicalEventJson,
  MAX_BATCH_EVENTS,
  parseDecisionEvent,
} from '../functions/core/events/decision-event.ts';
import { ApiError, CommandFailedError } from './errors.ts';
import { describePosition, type EventFileFormat, type FileRecord, readEventFile } from './event-file.ts';
import { type ApiClient, backoffDelay, renderProblem } from './http-client.ts';
import { formatCount } from './output.ts';

/**
 * `kt events import` without the command line: pass 1 validates the whole file with the shared
 * decision-event schema, pass 2 streams it again and uploads it in batches.
 */

// ---------------------------------------------------------------------------------------------
// Pass 1: validation.

export interface InvalidEvent {
  readonly position: number;
  readonly issues: readonly FieldIssue[];
}

/** Where each event id first occurs, and a digest of its content there. */
export class EventIndex {
  readonly #first = new Map<string, { readonly position: number; readonly digest: number }>();

  get size(): number {
    return this.#first.size;
  }

  /** Records an id; returns the first occurrence when the id was seen before. */
  add(id: string, position: number, digest: number): { position: number; digest: number } | undefined {
    const seen = this.#first.get(id);
    if (seen === undefined) this.#first.set(id, { position, digest });
    return seen;
  }

  /** Whether this record is the one to upload for its id (later identical repeats are skipped). */
  isFirst(id: string, position: number): boolean | undefined {
    const seen = this.#first.get(id);
    return seen === undefined ? undefined : seen.position === position;
  }
}

export interface ValidationReport {
  readonly file: string;
  readonly format: EventFileFormat;
  /** Values read from the file. */
  readonly total: number;
  /** Events that pass 2 uploads (valid, first occurrence of their id). */
  readonly distinct: number;
  /** Exact repeats of an earlier event (same id, same content): skipped, as the API would. */
  readonly duplicates: number;
  /** Events with at least one problem. */
  readonly invalid: number;
  /** The first `maxProblems` invalid events, in file order. */
  readonly problems: readonly InvalidEvent[];
  readonly index: EventIndex;
}

export interface ValidateOptions {
  readonly format: EventFileFormat;
  readonly maxProblems?: number;
  readonly onBytes?: (bytes: number) => void;
}

/**
 * Reads the whole file once and checks every event with `parseDecisionEvent`, plus what only a
 * whole-file view can see: the same id with different content. Memory grows with the number of
 * distinct ids (a small entry each), never with the file.
 */
export async function validateEventFile(path: string, options: ValidateOptions): Promise<ValidationReport> {
  const maxProblems = options.maxProblems ?? 10;
  const index = new EventIndex();
  const problems: InvalidEvent[] = [];
  let total = 0;
  let invalid = 0;
  let duplicates = 0;

  const report = (position: number, issues: readonly FieldIssue[]) => {
    invalid += 1;
    if (problems.length < maxProblems) problems.push({ position, issues });
  };

  for await (const { position, value } of readEventFile(path, {
    format: options.format,
    onBytes: options.onBytes,
  })) {
    total += 1;
    const parsed = parseDecisionEvent(value);
    if (!parsed.ok) {
      report(position, parsed.issues);
      continue;
    }
    const digest = contentDigest(canonicalEventJson(parsed.event));
    const seen = index.add(parsed.event.id, position, digest);
    if (seen === undefined) continue;
    if (seen.digest === digest) {
      duplicates += 1;
    } else {
      report(position, [
        {
          field: 'id',
          rule: `repeats the id of ${describePosition(options.format, seen.position)} with different content`,
        },
      ]);
    }
  }
  return {
    file: path,
    format: options.format,
    total,
    distinct: total - invalid - duplicates,
    duplicates,
    invalid,
    problems,
    index,
  };
}

/** 48 bits of SHA-256: equal content always matches; a collision (≈2⁻⁴⁸) could only hide a conflict. */
function contentDigest(json: string): number {
  return createHash('sha256').update(json).digest().readUIntBE(0, 6);
}

/** `line 12: timestamp must be ...; tokens is required` */
export function formatInvalidEvent(format: EventFileFormat, problem: InvalidEvent): string {
  const required = problem.issues.filter((issue) => issue.rule === 'is required').map((issue) => issue.field);
  const parts: string[] = [];
  let requiredShown = false;
  for (const issue of problem.issues) {
    if (issue.rule === 'is required' && required.length > 1) {
      // `timestamp, model and team are required` instead of one clause per missing field
      if (!requiredShown)
        parts.push(`${required.slice(0, -1).join(', ')} and ${required.at(-1)} are required`);
      requiredShown = true;
    } else {
      parts.push(
        issue.field === '(event)' || issue.field === ''
          ? `event ${issue.rule}`
          : `${issue.field} ${issue.rule}`,
      );
    }
  }
  return `${describePosition(format, problem.position)}: ${parts.join('; ')}`;
}

// ---------------------------------------------------------------------------------------------
// Pass 2: upload.

export interface IngestResponse {
  readonly received: number;
  readonly written: number;
  readonly failed: readonly { readonly id: string; readonly reason: string }[];
}

/** Sends one batch; the real one is `ingestVia(client)`, tests pass fakes. */
export type IngestFn = (events: readonly unknown[]) => Promise<IngestResponse>;

/** `POST /v1/events` with `{"events": [...]}`; idempotent by event id, so it is retried. */
export function ingestVia(client: ApiClient): IngestFn {
  return async (events) => {
    const response = await client.post<unknown>('/v1/events', { events }, { idempotent: true });
    return parseIngestResponse(response.status, response.body);
  };
}

export function parseIngestResponse(status: number, body: unknown): IngestResponse {
  const value = body as Partial<Record<keyof IngestResponse, unknown>> | null;
  const failed = value?.failed;
  if (
    value === null ||
    typeof value !== 'object' ||
    typeof value.received !== 'number' ||
    typeof value.written !== 'number' ||
    !Array.isArray(failed) ||
    !failed.every(
      (f) => f !== null && typeof f === 'object' && typeof (f as { id?: unknown }).id === 'string',
    )
  ) {
    throw new ApiError(
      `the API answered POST /v1/events with ${status} but not with {"received","written","failed"}`,
      status,
    );
  }
  return {
    received: value.received,
    written: value.written,
    failed: (failed as { id: string; reason?: unknown }[]).map((f) => ({
      id: f.id,
      reason: typeof f.reason === 'string' ? f.reason : 'not stored',
    })),
  };
}

export interface PendingEvent {
  readonly position: number;
  readonly id: string;
  readonly value: unknown;
}

export interface UploadOptions {
  readonly format: EventFileFormat;
  readonly batchSize?: number;
  /** Batches in flight at once (default 2). */
  readonly concurrency?: number;
  /** How often events the API reports as failed (207) are sent again (default 3). */
  readonly maxResends?: number;
  readonly onStored?: (count: number) => void;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly random?: () => number;
}

export interface UploadResult {
  /** Events the API confirmed as stored. */
  readonly imported: number;
  /** Events still failing after every resend, with the API's last reason. */
  readonly notStored: readonly { readonly id: string; readonly position: number; readonly reason: string }[];
}

const RESEND_BACKOFF = { attempts: 4, baseDelayMs: 500, maxDelayMs: 5_000 };

/**
 * Uploads events in batches of `batchSize` with `concurrency` batches in flight, resending the
 * events a 207 names as failed. A rejected batch (400 etc.) stops the upload; its problem is
 * reworded to name file lines instead of batch indexes.
 */
export async function uploadEvents(
  events: AsyncIterable<PendingEvent>,
  ingest: IngestFn,
  options: UploadOptions,
): Promise<UploadResult> {
  const batchSize = options.batchSize ?? MAX_BATCH_EVENTS;
  const concurrency = Math.max(1, options.concurrency ?? 2);
  const maxResends = options.maxResends ?? 3;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  let imported = 0;
  const notStored: { id: string; position: number; reason: string }[] = [];
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
      const stored = pending.filter((event) => !failed.has(event.id));
      imported += stored.length;
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
  try {
    for await (const event of events) {
      if (failure !== undefined) break;
      batch.push(event);
      if (batch.length >= batchSize) {
        await launch(batch);
        batch = [];
      }
    }
    if (batch.length > 0 && failure === undefined) await launch(batch);
  } finally {
    await Promise.allSettled([...inFlight]);
  }
  if (failure !== undefined)
    throw explainRejectedBatch(failure.error, failure.batch, options.format, imported);
  return { imported, notStored };
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
