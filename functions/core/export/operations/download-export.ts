import { z } from 'zod';
import type { Principal } from '../../auth/token-record.ts';
import { requireScope } from '../../auth/tokens.ts';
import { ConflictError, IntegrityError } from '../../errors.ts';
import { parseQuery, queryObject } from '../../request-schema.ts';
import { contentTypeOf } from '../encoders.ts';
import { artifactFilenameOf } from '../export-artifact.ts';
import type { ExportJob } from '../export-job.ts';
import type { ExportOperationDeps } from './operation-deps.ts';
import { visibleJob } from './operation-deps.ts';
import { requireExportId } from './read-exports.ts';

/** Long enough to start a large download, short enough that a leaked URL soon stops working. */
export const DOWNLOAD_URL_SECONDS = 300;

export interface ExportDownload {
  readonly url: string;
  readonly expires: string;
  readonly filename: string;
  readonly bytes: number;
  readonly sha256: string;
  readonly contentType: string;
}

/** Which file of an export to download: the artifact, or a PDF report's companion CSV. */
export type ExportFile = 'artifact' | 'companion';

/** `GET /v1/exports/{id}/download?file=`: `artifact` (the default) or `companion`. */
export const downloadQuerySchema = queryObject(
  { file: z.enum(['artifact', 'companion'], { error: 'must be artifact or companion' }).optional() },
  'a download',
);

/** The file a download query asks for; a ValidationError naming each wrong or unknown parameter. */
export function parseDownloadQuery(parameters: Readonly<Record<string, string | undefined>>): ExportFile | undefined {
  return parseQuery(downloadQuerySchema, parameters, 'The download request is invalid.').file;
}

/**
 * GET /v1/exports/{id}/download[?file=companion]: a short-lived URL of a completed export's
 * artifact, or of a PDF export's companion CSV (every record; the report's manifest lists it).
 */
export async function downloadExport(
  deps: ExportOperationDeps,
  exportId: string,
  principal: Principal,
  file: ExportFile = 'artifact',
): Promise<ExportDownload> {
  requireScope(principal, 'exports:read');
  const { value: job } = await visibleJob(deps.jobs, principal, requireExportId(exportId));
  if (job.status !== 'completed') throw notDownloadable(job);
  if (file === 'companion' && job.companion === undefined) {
    throw new ConflictError(`Export ${job.id} is ${job.format}; only a PDF export has a companion CSV to download.`);
  }
  const { artifactKey, bytes, sha256 } = file === 'companion' ? job.companion! : job;
  if (artifactKey === undefined || bytes === undefined || sha256 === undefined) {
    // completeJob sets all three; a completed job without them is damaged, not merely unfinished.
    throw new IntegrityError(`Export ${job.id} is completed but its record lacks the file's location or digest.`);
  }
  const filename = file === 'companion' ? job.companion!.name : artifactFilenameOf(job);
  const now = deps.now();
  const url = await deps.artifacts.downloadUrl(artifactKey, {
    expiresInSeconds: DOWNLOAD_URL_SECONDS,
    filename,
  });
  await deps.audit.append({
    action: 'export.downloaded',
    subject: job.id,
    actor: principal.tokenId,
    at: now.toISOString(),
    details: file === 'companion' ? { sha256, file } : { sha256 },
  });
  return {
    url,
    expires: new Date(now.getTime() + DOWNLOAD_URL_SECONDS * 1000).toISOString(),
    filename,
    bytes,
    sha256,
    contentType: file === 'companion' ? contentTypeOf('csv') : contentTypeOf(job.format),
  };
}

function notDownloadable(job: ExportJob): ConflictError {
  switch (job.status) {
    case 'queued':
    case 'running':
      return new ConflictError(
        `Export ${job.id} is ${job.status}; download it once it has completed (kt export status --id ${job.id}).`,
      );
    case 'failed':
      return new ConflictError(`Export ${job.id} failed, so it has no file to download: ${job.error?.reason ?? 'unknown error'}`);
    case 'cancelled':
      return new ConflictError(`Export ${job.id} was cancelled, so it has no file to download.`);
    case 'deleted':
      return new ConflictError(`Export ${job.id} was deleted at ${job.deletedAt ?? 'an unknown time'}; its file no longer exists.`);
    default:
      return new ConflictError(`Export ${job.id} has no file to download.`);
  }
}
