import type { Principal } from '../../auth/token-record.ts';
import { requireScope } from '../../auth/tokens.ts';
import { ConflictError, IntegrityError, NotFoundError } from '../../errors.ts';
import { cursorParameter, limitParameter, parseQuery, queryObject } from '../../request-schema.ts';
import { isExportId } from '../export-id.ts';
import { type ExportJobView, jobView } from '../export-job.ts';
import { canSee, type ExportOperationDeps, visibleJob } from './operation-deps.ts';

export const DEFAULT_LIST_LIMIT = 20;
export const MAX_LIST_LIMIT = 100;

/** `GET /v1/exports?limit=&cursor=`, as the API checks it and `kt export list` its flags. */
export const exportListQuerySchema = queryObject(
  { limit: limitParameter(MAX_LIST_LIMIT).optional(), cursor: cursorParameter.optional() },
  'the export listing',
);

/** GET /v1/exports/{id}. */
export async function getExport(
  deps: Pick<ExportOperationDeps, 'jobs'>,
  exportId: string,
  principal: Principal,
): Promise<ExportJobView> {
  requireScope(principal, 'exports:read');
  return jobView((await visibleJob(deps.jobs, principal, requireExportId(exportId))).value);
}

/**
 * GET /v1/exports/{id}/manifest: the signed manifest beside a completed export's artifact, as
 * stored. It stays readable after the artifact is deleted: it is the evidence of what existed.
 */
export async function getExportManifest(
  deps: Pick<ExportOperationDeps, 'jobs' | 'artifacts'>,
  exportId: string,
  principal: Principal,
): Promise<unknown> {
  requireScope(principal, 'exports:read');
  const { value: job } = await visibleJob(deps.jobs, principal, requireExportId(exportId));
  if (job.manifestKey === undefined) {
    throw new ConflictError(`Export ${job.id} is ${job.status}; only a completed export has a manifest.`);
  }
  const text = await deps.artifacts.getDocument(job.manifestKey);
  if (text === undefined) {
    throw new IntegrityError(`The manifest of export ${job.id} is missing from the artifact store.`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (cause) {
    throw new IntegrityError(`The stored manifest of export ${job.id} is not JSON.`, { cause });
  }
}

export interface ExportList {
  readonly exports: readonly ExportJobView[];
  readonly cursor?: string;
}

/**
 * GET /v1/exports: newest first. A team-restricted token sees only its team's jobs, so one of its
 * pages may hold fewer than `limit` jobs; the cursor still continues where the page stopped.
 */
export async function listExports(
  deps: Pick<ExportOperationDeps, 'jobs'>,
  parameters: Readonly<Record<string, string | undefined>>,
  principal: Principal,
): Promise<ExportList> {
  requireScope(principal, 'exports:read');
  const query = parseQuery(exportListQuerySchema, parameters, 'The export listing query is invalid.');
  const page = await deps.jobs.listJobs({
    limit: query.limit === undefined ? DEFAULT_LIST_LIMIT : Number(query.limit),
    ...(query.cursor === undefined ? {} : { cursor: query.cursor }),
  });
  return {
    exports: page.jobs.filter((job) => canSee(principal, job)).map(jobView),
    ...(page.cursor === undefined ? {} : { cursor: page.cursor }),
  };
}

/** A path id that cannot be an export id names no export. */
export function requireExportId(exportId: string): string {
  if (!isExportId(exportId)) throw new NotFoundError('Export', exportId);
  return exportId;
}
