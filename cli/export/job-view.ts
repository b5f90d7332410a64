import {
  EXPORT_JOB_STATUSES,
  type ExportJobStatus,
  isTerminal,
} from '../../functions/core/export/export-job.ts';
import { ApiError } from '../errors.ts';

/**
 * The export job as the API shows it (`GET /v1/exports/{id}`), and the checks that let the rest
 * of the CLI trust its shape. The CLI keeps its own copy of this HTTP contract rather than the
 * server's types: it must read what a server of another version sends.
 */

/** The job's lifecycle is the server's own (functions/core/export/export-job.ts). */
export { isTerminal };

/** Formats the product documents; the API decides which of them this deployment can write. */
export {
  DOCUMENTED_FORMATS as EXPORT_FORMAT_CHOICES,
  type DocumentedFormat as ExportFormatChoice,
} from '../../functions/core/export/export-metadata.ts';

export interface ExportJobView {
  readonly id: string;
  readonly status: ExportJobStatus;
  readonly format: string;
  readonly title?: string;
  /** Echoed exactly as the user gave them. */
  readonly range: { readonly from: string; readonly to: string };
  readonly filters?: { readonly team?: string; readonly policy?: string };
  readonly records: number;
  readonly bytes?: number;
  readonly sha256?: string;
  /** ISO 8601 UTC instants, possibly with milliseconds. */
  readonly created: string;
  readonly started?: string;
  /** When the job reached its outcome: completed, or failed. */
  readonly completed?: string;
  /** When the job was cancelled (`kt export cancel`). */
  readonly cancelled?: string;
  readonly deleted?: string;
  readonly error?: { readonly reason: string; readonly state?: string };
  /** Only while running. */
  readonly progress?: { readonly percent: number; readonly through?: string };
  /** The schedule whose run made the job, for scheduled runs. */
  readonly schedule?: string;
  /** Delivery to a customer bucket, when the export asked for one. */
  readonly delivery?: ExportDeliveryView;
  /** A PDF report's companion CSV, with every record (`kt export download --companion`). */
  readonly companion?: { readonly name: string; readonly bytes: number; readonly sha256: string };
}

export interface ExportDeliveryView {
  readonly bucket: string;
  readonly prefix: string;
  readonly region?: string;
  /** `s3://bucket/prefix`. */
  readonly location: string;
  readonly status: 'pending' | 'delivered' | 'failed';
  readonly objectUri?: string;
  readonly manifestUri?: string;
  readonly error?: string;
  readonly attempts: number;
  readonly delivered?: string;
}

export interface ExportList {
  readonly exports: readonly ExportJobView[];
  readonly cursor?: string;
}

/** Checks an API answer is a job view; an ApiError (exit 1) naming what is wrong otherwise. */
export function readJobView(body: unknown, status = 200): ExportJobView {
  const problem = jobViewProblem(body);
  if (problem !== undefined) {
    throw new ApiError(`the API sent an export job the CLI cannot read (${problem})`, status);
  }
  return body as ExportJobView;
}

/** Checks a `GET /v1/exports` answer. */
export function readJobList(body: unknown, status = 200): ExportList {
  if (!isObject(body) || !Array.isArray(body.exports)) {
    throw new ApiError('the API sent an export list the CLI cannot read (no "exports" array)', status);
  }
  if (body.cursor !== undefined && (typeof body.cursor !== 'string' || body.cursor === '')) {
    throw new ApiError('the API sent an export list the CLI cannot read ("cursor" is not a string)', status);
  }
  body.exports.forEach((view, i) => {
    const problem = jobViewProblem(view);
    if (problem !== undefined) {
      throw new ApiError(
        `the API sent an export list the CLI cannot read (exports[${i}]: ${problem})`,
        status,
      );
    }
  });
  return body as unknown as ExportList;
}

function jobViewProblem(body: unknown): string | undefined {
  if (!isObject(body)) return 'not a JSON object';
  if (typeof body.id !== 'string' || body.id === '') return '"id" is missing';
  if (!(EXPORT_JOB_STATUSES as readonly unknown[]).includes(body.status))
    return `"status" is not one of ${EXPORT_JOB_STATUSES.join(', ')}`;
  if (typeof body.format !== 'string') return '"format" is missing';
  if (!isObject(body.range) || typeof body.range.from !== 'string' || typeof body.range.to !== 'string')
    return '"range" is missing';
  if (body.filters !== undefined && !isObject(body.filters)) return '"filters" is not an object';
  if (typeof body.records !== 'number') return '"records" is not a number';
  if (typeof body.created !== 'string') return '"created" is missing';
  if (body.error !== undefined && (!isObject(body.error) || typeof body.error.reason !== 'string'))
    return '"error" has no reason';
  if (body.progress !== undefined && (!isObject(body.progress) || typeof body.progress.percent !== 'number'))
    return '"progress" has no percent';
  if (
    body.delivery !== undefined &&
    (!isObject(body.delivery) ||
      typeof body.delivery.location !== 'string' ||
      !['pending', 'delivered', 'failed'].includes(String(body.delivery.status)))
  )
    return '"delivery" has no location or status';
  if (
    body.companion !== undefined &&
    (!isObject(body.companion) || typeof body.companion.name !== 'string' || typeof body.companion.bytes !== 'number')
  )
    return '"companion" has no name or size';
  return undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
