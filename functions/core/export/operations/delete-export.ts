import type { Principal } from '../../auth/token-record.ts';
import { requireScope } from '../../auth/tokens.ts';
import { ConflictError } from '../../errors.ts';
import { assertRetentionOver } from '../artifact-retention.ts';
import { deleteJob, type ExportJobView, jobView } from '../export-job.ts';
import type { ExportOperationDeps } from './operation-deps.ts';
import { visibleJob } from './operation-deps.ts';
import { requireExportId } from './read-exports.ts';

/**
 * DELETE /v1/exports/{id}: removes the artifact; the job stays, as `deleted`, with its record
 * count, digest and audit entries. Deleting a deleted export again answers the same job. While
 * the deployment's artifact retention holds, it is refused (ArtifactRetainedError, a 409). A
 * failed or cancelled export has no artifact: it is marked deleted at once.
 */
export async function deleteExport(
  deps: ExportOperationDeps,
  exportId: string,
  principal: Principal,
): Promise<ExportJobView> {
  requireScope(principal, 'exports:write');
  const { value: job, revision } = await visibleJob(deps.jobs, principal, requireExportId(exportId));
  if (job.status === 'deleted') return jobView(job);
  if (job.status === 'queued' || job.status === 'running') {
    throw new ConflictError(
      `Export ${job.id} is ${job.status}; it can be deleted once it has finished, or cancelled now (kt export cancel --id ${job.id}).`,
    );
  }
  // This check is what keeps a retained artifact: on the versioned bucket DeleteObject without a
  // version id only adds a delete marker, which S3 allows even under Object Lock, and the API
  // never deletes versions. Checked before anything is written, so a refusal changes nothing.
  const now = deps.now();
  assertRetentionOver(job, deps.retention, now);
  if (job.artifactKey !== undefined) await deps.artifacts.deleteArtifact(job.artifactKey);
  // A PDF export's companion CSV goes with it: it holds the same records.
  if (job.companion !== undefined) await deps.artifacts.deleteArtifact(job.companion.artifactKey);
  const deleted = deleteJob(job, now);
  await deps.jobs.saveJob(deleted, revision);
  await deps.audit.append({
    action: 'export.deleted',
    subject: job.id,
    actor: principal.tokenId,
    at: deleted.deletedAt ?? deps.now().toISOString(),
    details: { sha256: job.sha256 ?? '', records: job.records },
  });
  return jobView(deleted);
}
