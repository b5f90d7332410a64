import type { ApiClient } from '../api/client.ts';
import { withFlagNames } from '../api/problems.ts';
import { ApiError } from '../errors.ts';
import { type DownloadLink, readDownloadLink } from './download-link.ts';
import { type ExportJobView, type ExportList, readJobList, readJobView } from './job-view.ts';

/**
 * The `/v1/exports` routes, typed, with their errors reworded for the command line: a field the
 * API rejects is named by the flag that set it, and a 409 on download says why it was refused.
 */

/** The filters and delivery of an export request, as exports and schedules both send them. */
export interface ExportSelection {
  readonly format: string;
  readonly title?: string;
  readonly filters?: { readonly team?: string; readonly policy?: string };
  readonly delivery?: { readonly s3Bucket: string; readonly s3Prefix?: string; readonly s3Region?: string };
}

export interface CreateExportBody extends ExportSelection {
  readonly from: string;
  readonly to: string;
  readonly pageSize?: string;
}

export interface ExportsApi {
  create(body: CreateExportBody, idempotencyKey: string): Promise<ExportJobView>;
  get(id: string): Promise<ExportJobView>;
  list(page: { readonly limit: number; readonly cursor?: string }): Promise<ExportList>;
  remove(id: string): Promise<ExportJobView>;
  /** `companion`: a PDF export's companion CSV instead of its artifact. */
  downloadLink(id: string, file?: 'companion'): Promise<DownloadLink>;
  /** The signed manifest beside a completed export's artifact, as the API stores it (unchecked). */
  manifest(id: string): Promise<unknown>;
  /** Starts a failed delivery again; the job comes back with its delivery pending. */
  redeliver(id: string): Promise<ExportJobView>;
  /** Stops a queued or running export; the job comes back cancelled (also when it was already). */
  cancel(id: string): Promise<ExportJobView>;
}

/** The API field → the `kt export create` flag that sets it. */
export const EXPORT_FLAG_FOR_FIELD: Readonly<Record<string, string>> = {
  from: '--from',
  to: '--to',
  format: '--format',
  title: '--title',
  pageSize: '--page-size',
  'filters.team': '--filter-team',
  'filters.policy': '--filter-policy',
  'delivery.s3Bucket': '--s3-bucket',
  'delivery.s3Prefix': '--s3-prefix',
  'delivery.s3Region': '--s3-region',
};

export function exportsApi(client: ApiClient): ExportsApi {
  const path = (id: string) => `/v1/exports/${encodeURIComponent(id)}`;
  return {
    async create(body, idempotencyKey) {
      // The key makes the client's retries of this POST safe: the API creates one job per key.
      const response = await withFlagNames(EXPORT_FLAG_FOR_FIELD, client.post('/v1/exports', body, { idempotencyKey }));
      return readJobView(response.body, response.status);
    },
    async get(id) {
      const response = await naming404(id, client.get(path(id)));
      return readJobView(response.body, response.status);
    },
    async list({ limit, cursor }) {
      const response = await client.get('/v1/exports', { query: { limit, cursor } });
      return readJobList(response.body, response.status);
    },
    async remove(id) {
      const response = await naming404(id, client.delete(path(id)));
      return readJobView(response.body, response.status);
    },
    async downloadLink(id, file) {
      const query = file === undefined ? '' : `?file=${file}`;
      const response = await refusalSaysWhy(id, naming404(id, client.get(`${path(id)}/download${query}`)));
      return readDownloadLink(response.body, client.baseUrl, response.status);
    },
    async manifest(id) {
      const response = await refusalSaysWhy(id, naming404(id, client.get(`${path(id)}/manifest`)));
      return response.body;
    },
    async redeliver(id) {
      // A 409 (delivered already, no delivery, not completed) carries the API's own reason.
      const response = await naming404(id, client.post(`${path(id)}/redeliver`, {}));
      return readJobView(response.body, response.status);
    },
    async cancel(id) {
      // Safe to send again (a cancelled export answers the same), so retried like a GET; a 409
      // (the export has finished) carries the API's own reason, naming its status.
      const response = await naming404(id, client.post(`${path(id)}/cancel`, {}, { idempotent: true }));
      return readJobView(response.body, response.status);
    },
  };
}

async function naming404<T>(id: string, request: Promise<T>): Promise<T> {
  try {
    return await request;
  } catch (error) {
    // The API's detail says it best; without one, "Not Found (404)" would not say what was missing.
    if (!(error instanceof ApiError) || error.status !== 404 || error.detail !== undefined) throw error;
    throw new ApiError(`export ${id} was not found`, 404, error.problem, { cause: error });
  }
}

async function refusalSaysWhy<T>(id: string, request: Promise<T>): Promise<T> {
  try {
    return await request;
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 409) throw error;
    // The API's detail already says which (still running, failed, deleted) and names the job.
    const message =
      error.detail ??
      `cannot download ${id}: it has not completed, or its artifact was deleted (see kt export status --id ${id})`;
    throw new ApiError(message, 409, error.problem, { cause: error });
  }
}
