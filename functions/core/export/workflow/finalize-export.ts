import { ResumableSha256 } from '../../digest/resumable-sha256.ts';
import { ConflictError, IntegrityError } from '../../errors.ts';
import { completeJob } from '../export-job.ts';
import { type ExportStepState, type ExportWorkflowDeps, requireJob } from './workflow-deps.ts';

/**
 * Finalize: completes the multipart upload, checks the stored size against the bytes the
 * checkpoint counted, and marks the job completed with its SHA-256 (computed over the parts as
 * they were uploaded: S3 has no whole-object SHA-256 for multipart objects).
 */
export async function finalizeExport(deps: ExportWorkflowDeps, exportId: string): Promise<ExportStepState> {
  const { value: job, revision } = await requireJob(deps.jobs, exportId);
  if (job.status === 'completed') return { exportId };
  const checkpoint = job.checkpoint;
  if (job.status !== 'running' || checkpoint === undefined || !checkpoint.done) {
    throw new ConflictError(`Export ${exportId} is ${job.status} and not fully written; it cannot be finalized.`);
  }
  try {
    await deps.artifacts.completeUpload(checkpoint.artifactKey, checkpoint.uploadId, checkpoint.parts);
  } catch (error) {
    // A retry after a completion whose answer was lost: the object is there, the upload is gone.
    const stored = await deps.artifacts.artifactSize(checkpoint.artifactKey);
    if (stored !== checkpoint.bytes) throw error;
  }
  const stored = await deps.artifacts.artifactSize(checkpoint.artifactKey);
  if (stored !== checkpoint.bytes) {
    throw new IntegrityError(
      `The stored artifact of export ${exportId} has ${stored ?? 'no'} bytes; ${checkpoint.bytes} were uploaded.`,
    );
  }
  const completed = completeJob(
    job,
    {
      records: checkpoint.records,
      bytes: checkpoint.bytes,
      sha256: ResumableSha256.fromState(checkpoint.digest).digestHex(),
      artifactKey: checkpoint.artifactKey,
    },
    deps.now(),
  );
  await deps.jobs.saveJob(completed, revision);
  return { exportId };
}
