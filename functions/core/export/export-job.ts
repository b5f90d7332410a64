import type { Principal } from '../auth/token-record.ts';
import { ConflictError } from '../errors.ts';
import { instantOf } from '../events/decision-event.ts';
import type { TimeRange } from '../events/time-range.ts';
import { type ExportDelivery, newDelivery } from './delivery.ts';
import type { ExportCheckpoint } from './export-checkpoint.ts';
import type { ExportRequest } from './export-request.ts';
import type { ExportFilters, ExportFormat } from './export-metadata.ts';
import type { ReportPageSize } from './report/page-size.ts';

export const EXPORT_JOB_STATUSES = ['queued', 'running', 'completed', 'failed', 'cancelled', 'deleted'] as const;

export type ExportJobStatus = (typeof EXPORT_JOB_STATUSES)[number];

/**
 * Every status change a job may make, and the only place that decides it. A job is never
 * retried in place: a failed export is evidence that it failed, so a new attempt is a new job.
 * Only a finished job may be deleted, and deleting removes the artifact, not the job's history.
 * A queued or running job may be cancelled (POST /v1/exports/{id}/cancel): it ends with no
 * artifact, like a failed one, and nothing the workflow does afterwards can move it on.
 */
export const ALLOWED_TRANSITIONS: Readonly<Record<ExportJobStatus, readonly ExportJobStatus[]>> = {
  queued: ['running', 'failed', 'cancelled'],
  running: ['completed', 'failed', 'cancelled'],
  completed: ['deleted'],
  failed: ['deleted'],
  cancelled: ['deleted'],
  deleted: [],
};

/**
 * How long Finalize's claim to publish (ExportCheckpoint.publishing) holds off a cancellation.
 * Longer than any Finalize invocation can run (its Lambda timeout, 2 minutes, plus the task's
 * margin: WORKFLOW_FUNCTION_TIMEOUTS in infra/, which a test compares with this), so a claim older
 * than this belongs to an invocation that is gone, and a retry must claim again before it
 * publishes anything.
 */
export const PUBLISH_CLAIM_MS = 5 * 60_000;

export interface ExportJobError {
  readonly reason: string;
  /** The workflow state that failed (e.g. `ExportPage`), when known. */
  readonly state?: string;
}

export interface ExportJob {
  readonly id: string;
  readonly status: ExportJobStatus;
  readonly format: ExportFormat;
  readonly title?: string;
  /** The PDF report's paper size (pdf jobs only; absent means A4). */
  readonly pageSize?: ReportPageSize;
  /** The schedule whose run created the job (functions/core/schedules/), for scheduled runs. */
  readonly schedule?: string;
  readonly range: TimeRange;
  readonly filters: ExportFilters;
  /** ISO 8601 UTC instants. */
  readonly createdAt: string;
  readonly startedAt?: string;
  /** When the job reached its outcome, completed or failed. */
  readonly completedAt?: string;
  /** When the job was cancelled (POST /v1/exports/{id}/cancel); the audit entry names who. */
  readonly cancelledAt?: string;
  readonly deletedAt?: string;
  /** The tokenId of the principal that created the job (never the token). */
  readonly createdBy: string;
  /** Records written so far; the final count once completed. */
  readonly records: number;
  readonly bytes?: number;
  /** Lowercase hex SHA-256 of the artifact bytes. */
  readonly sha256?: string;
  readonly artifactKey?: string;
  /** The records digest (evidence/records-digest.ts): the same for every format of one query. */
  readonly recordsDigest?: string;
  /** The signed manifest beside the artifact (`<artifact key>.manifest.json`). */
  readonly manifestKey?: string;
  /** A PDF export's companion CSV (every record), listed in its manifest; downloadable too. */
  readonly companion?: ExportCompanion;
  readonly error?: ExportJobError;
  /** Where a running export has got to; present from Prepare until the job's outcome. */
  readonly checkpoint?: ExportCheckpoint;
  /**
   * Delivery to a customer bucket, when asked for. Its state is its own: a completed export whose
   * delivery failed is still completed (its artifact is kept) with `delivery.status` failed.
   */
  readonly delivery?: ExportDelivery;
}

/** A file an export writes besides its artifact: a PDF report's companion CSV. */
export interface ExportCompanion {
  readonly artifactKey: string;
  readonly name: string;
  readonly bytes: number;
  readonly sha256: string;
}

export interface ExportJobResult {
  readonly companion?: ExportCompanion;
  readonly records: number;
  readonly bytes: number;
  readonly sha256: string;
  readonly artifactKey: string;
  readonly recordsDigest: string;
  readonly manifestKey: string;
}

/** `GET /v1/exports/{id}`: the job as callers see it; storage details such as the key stay inside. */
export interface ExportJobView {
  readonly id: string;
  readonly status: ExportJobStatus;
  readonly format: ExportFormat;
  readonly title?: string;
  readonly pageSize?: ReportPageSize;
  /** The schedule whose run created the job, for scheduled runs. */
  readonly schedule?: string;
  readonly range: TimeRange;
  readonly filters: ExportFilters;
  readonly records: number;
  readonly bytes?: number;
  readonly sha256?: string;
  readonly recordsDigest?: string;
  /** The signed manifest: its file name beside the artifact, and the API path that returns it. */
  readonly manifest?: { readonly name: string; readonly href: string };
  /** A PDF export's companion CSV with every record (`GET …/download?file=companion`). */
  readonly companion?: { readonly name: string; readonly bytes: number; readonly sha256: string };
  readonly created: string;
  readonly started?: string;
  readonly completed?: string;
  readonly cancelled?: string;
  readonly deleted?: string;
  readonly error?: ExportJobError;
  /** While running: how far through the time range the export has read. */
  readonly progress?: ExportProgress;
  readonly delivery?: ExportDeliveryView;
}

/** The delivery as callers see it (`location` is `s3://bucket/prefix`). */
export interface ExportDeliveryView {
  readonly bucket: string;
  readonly prefix: string;
  readonly region?: string;
  readonly location: string;
  readonly status: ExportDelivery['status'];
  readonly objectUri?: string;
  readonly manifestUri?: string;
  readonly error?: string;
  readonly attempts: number;
  readonly delivered?: string;
}

export interface ExportProgress {
  /** 0 to 100: the share of the time range already written (events are written in time order). */
  readonly percent: number;
  /** The timestamp of the last event written so far. */
  readonly through?: string;
}

// A failure reason often carries an SDK message or a stack; the job item must stay small.
export const MAX_ERROR_REASON_CHARS = 1000;
const SHA256_HEX = /^[0-9a-f]{64}$/;

/** A job is terminal once the workflow will do nothing more with it (pollers stop here). */
export function isTerminal(status: ExportJobStatus): boolean {
  return status === 'completed' || status === 'failed' || status === 'cancelled' || status === 'deleted';
}

export function canTransition(from: ExportJobStatus, to: ExportJobStatus): boolean {
  return ALLOWED_TRANSITIONS[from].includes(to);
}

export function newExportJob(request: ExportRequest, principal: Principal, now: Date, id: string): ExportJob {
  return {
    id,
    status: 'queued',
    format: request.format,
    ...(request.title === undefined ? {} : { title: request.title }),
    ...(request.pageSize === undefined ? {} : { pageSize: request.pageSize }),
    range: { from: request.range.from, to: request.range.to },
    filters: { ...request.filters },
    createdAt: now.toISOString(),
    createdBy: principal.tokenId,
    records: 0,
    ...(request.delivery === undefined ? {} : { delivery: newDelivery(request.delivery) }),
  };
}

export function startJob(job: ExportJob, now: Date): ExportJob {
  assertTransition(job, 'running', 'started');
  return { ...job, status: 'running', startedAt: now.toISOString() };
}

/** The running count of records written; it only grows, so a stale writer cannot roll it back. */
export function recordProgress(job: ExportJob, records: number): ExportJob {
  assertCount('records', records);
  if (job.status !== 'running') {
    throw new ConflictError(
      `Export ${job.id} is ${job.status}; progress can be recorded only while it is running.`,
    );
  }
  if (records < job.records) {
    throw new ConflictError(
      `Export ${job.id} has already written ${job.records} records; progress cannot go back to ${records}.`,
    );
  }
  return { ...job, records };
}

export function completeJob(job: ExportJob, result: ExportJobResult, now: Date): ExportJob {
  assertCount('records', result.records);
  assertCount('bytes', result.bytes);
  if (!SHA256_HEX.test(result.sha256)) throw new RangeError('sha256 must be 64 lowercase hex digits');
  if (!SHA256_HEX.test(result.recordsDigest)) throw new RangeError('recordsDigest must be 64 lowercase hex digits');
  if (result.manifestKey.length === 0) throw new RangeError('manifestKey must not be empty');
  if (result.artifactKey.length === 0) throw new RangeError('artifactKey must not be empty');
  assertTransition(job, 'completed', 'completed');
  if (result.records < job.records) {
    throw new ConflictError(
      `Export ${job.id} has already written ${job.records} records; it cannot complete with ${result.records}.`,
    );
  }
  const { checkpoint: _done, ...rest } = job;
  return {
    ...rest,
    status: 'completed',
    records: result.records,
    bytes: result.bytes,
    sha256: result.sha256,
    artifactKey: result.artifactKey,
    recordsDigest: result.recordsDigest,
    manifestKey: result.manifestKey,
    ...(result.companion === undefined ? {} : { companion: result.companion }),
    completedAt: now.toISOString(),
  };
}

export function failJob(job: ExportJob, reason: string, state: string | undefined, now: Date): ExportJob {
  assertTransition(job, 'failed', 'marked failed');
  const text = reason.trim() === '' ? 'unknown error' : reason;
  const error: ExportJobError = {
    reason: text.length > MAX_ERROR_REASON_CHARS ? `${cutAt(text, MAX_ERROR_REASON_CHARS - 1)}…` : text,
    ...(state === undefined || state === '' ? {} : { state }),
  };
  const { checkpoint: _abandoned, ...rest } = job;
  return {
    ...rest,
    status: 'failed',
    error,
    completedAt: now.toISOString(),
    // A failed export has no artifact: its delivery ends too, rather than stay pending forever.
    ...(job.delivery === undefined
      ? {}
      : { delivery: { ...job.delivery, status: 'failed', error: 'the export failed, so there was nothing to deliver' } }),
  };
}

/**
 * Cancels a queued or running export. The checkpoint stays on the cancelled job: it names the
 * multipart uploads the cancellation and any step still in flight must abort. Refused (409) for a
 * finished job, naming its status, and for a running one whose Finalize has claimed to publish
 * (`checkpoint.publishing`, within PUBLISH_CLAIM_MS): from that claim on, the export completes or
 * fails, and a completed one can be deleted.
 */
export function cancelJob(job: ExportJob, now: Date): ExportJob {
  if (job.status === 'completed') {
    throw new ConflictError(
      `Export ${job.id} is completed; only a queued or running export can be cancelled. ` +
        `To remove its artifact, delete it (kt export delete --id ${job.id}).`,
    );
  }
  assertTransition(job, 'cancelled', 'cancelled');
  const publishing = job.checkpoint?.publishing;
  if (publishing !== undefined && now.getTime() - Date.parse(publishing) < PUBLISH_CLAIM_MS) {
    throw new ConflictError(
      `Export ${job.id} is running and already publishing its artifact (since ${publishing}); it can no longer ` +
        `be cancelled. It completes in moments; delete it then (kt export delete --id ${job.id}).`,
    );
  }
  return {
    ...job,
    status: 'cancelled',
    cancelledAt: now.toISOString(),
    // A cancelled export has no artifact: its delivery ends too, rather than stay pending forever.
    ...(job.delivery === undefined
      ? {}
      : {
          delivery: { ...job.delivery, status: 'failed', error: 'the export was cancelled, so there was nothing to deliver' },
        }),
  };
}

/** Marks the artifact removed; the record count and digest stay, as evidence of what existed. */
export function deleteJob(job: ExportJob, now: Date): ExportJob {
  assertTransition(job, 'deleted', 'deleted');
  return { ...job, status: 'deleted', deletedAt: now.toISOString() };
}

export function jobView(job: ExportJob): ExportJobView {
  return {
    id: job.id,
    status: job.status,
    format: job.format,
    ...(job.title === undefined ? {} : { title: job.title }),
    ...(job.pageSize === undefined ? {} : { pageSize: job.pageSize }),
    ...(job.schedule === undefined ? {} : { schedule: job.schedule }),
    range: { from: job.range.from, to: job.range.to },
    filters: {
      ...(job.filters.team === undefined ? {} : { team: job.filters.team }),
      ...(job.filters.policy === undefined ? {} : { policy: job.filters.policy }),
    },
    records: job.records,
    ...(job.bytes === undefined ? {} : { bytes: job.bytes }),
    ...(job.sha256 === undefined ? {} : { sha256: job.sha256 }),
    ...(job.recordsDigest === undefined ? {} : { recordsDigest: job.recordsDigest }),
    ...(job.manifestKey === undefined
      ? {}
      : {
          manifest: {
            name: job.manifestKey.slice(job.manifestKey.lastIndexOf('/') + 1),
            href: `/v1/exports/${job.id}/manifest`,
          },
        }),
    ...(job.companion === undefined
      ? {}
      : { companion: { name: job.companion.name, bytes: job.companion.bytes, sha256: job.companion.sha256 } }),
    created: job.createdAt,
    ...(job.startedAt === undefined ? {} : { started: job.startedAt }),
    ...(job.completedAt === undefined ? {} : { completed: job.completedAt }),
    ...(job.cancelledAt === undefined ? {} : { cancelled: job.cancelledAt }),
    ...(job.deletedAt === undefined ? {} : { deleted: job.deletedAt }),
    ...(job.error === undefined
      ? {}
      : {
          error: {
            reason: job.error.reason,
            ...(job.error.state === undefined ? {} : { state: job.error.state }),
          },
        }),
    ...(job.status === 'running' ? { progress: progressOf(job) } : {}),
    ...(job.delivery === undefined ? {} : { delivery: deliveryView(job.delivery) }),
  };
}

function deliveryView(delivery: ExportDelivery): ExportDeliveryView {
  return {
    bucket: delivery.bucket,
    prefix: delivery.prefix,
    ...(delivery.region === undefined ? {} : { region: delivery.region }),
    location: `s3://${delivery.bucket}/${delivery.prefix}`,
    status: delivery.status,
    ...(delivery.objectUri === undefined ? {} : { objectUri: delivery.objectUri }),
    ...(delivery.manifestUri === undefined ? {} : { manifestUri: delivery.manifestUri }),
    ...(delivery.error === undefined ? {} : { error: delivery.error }),
    attempts: delivery.attempts,
    ...(delivery.deliveredAt === undefined ? {} : { delivered: delivery.deliveredAt }),
  };
}

function progressOf(job: ExportJob): ExportProgress {
  const checkpoint = job.checkpoint;
  if (checkpoint === undefined) return { percent: 0 };
  if (checkpoint.done) return { percent: 100, ...throughOf(checkpoint) };
  const through = throughOf(checkpoint);
  if (through.through === undefined) return { percent: 0 };
  const from = instantOf(job.range.from);
  const span = instantOf(job.range.to) - from;
  const share = span <= 0 ? 1 : (instantOf(through.through) - from) / span;
  // Never 100 before the last part is written: a poller would stop watching too early.
  return { percent: Math.min(99, Math.max(0, Math.floor(share * 100))), ...through };
}

function throughOf(checkpoint: ExportCheckpoint): { through?: string } {
  const key = checkpoint.afterSortKey;
  return key === undefined ? {} : { through: key.slice(0, key.indexOf('#')) };
}

function assertTransition(job: ExportJob, to: ExportJobStatus, verb: string): void {
  if (canTransition(job.status, to)) return;
  const from = EXPORT_JOB_STATUSES.filter((status) => canTransition(status, to));
  throw new ConflictError(
    `Export ${job.id} cannot be ${verb} because it is ${job.status}; only ${alternatives(from)} export can be ${verb}.`,
  );
}

function alternatives(statuses: readonly string[]): string {
  const words =
    statuses.length <= 1 ? statuses.join('') : `${statuses.slice(0, -1).join(', ')} or ${statuses.at(-1)}`;
  return `${/^[aeiou]/.test(words) ? 'an' : 'a'} ${words}`;
}

/** The first `length` UTF-16 units, one fewer if the cut would split a surrogate pair. */
function cutAt(text: string, length: number): string {
  const code = text.charCodeAt(length - 1);
  return text.slice(0, code >= 0xd800 && code <= 0xdbff ? length - 1 : length);
}

// Counts come from our own workflow; a bad one is a bug, not a caller's mistake.
function assertCount(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0)
    throw new RangeError(`${name} must be a whole number, 0 or more`);
}
