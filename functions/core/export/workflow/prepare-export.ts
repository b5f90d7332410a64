import { ResumableSha256 } from '../../digest/resumable-sha256.ts';
import { ConflictError } from '../../errors.ts';
import { RecordsDigest } from '../../evidence/records-digest.ts';
import { encoderFor } from '../encoders.ts';
import { rowsKeyOf } from '../export-artifact.ts';
import type { ExportCheckpoint } from '../export-checkpoint.ts';
import { startJob } from '../export-job.ts';
import { emptySummary } from '../report/report-summary.ts';
import { unlessCancelled } from './cancelled-export.ts';
import { type ExportStepState, type ExportWorkflowDeps, requireJob } from './workflow-deps.ts';

/**
 * Prepare: marks the job running and opens the artifact's multipart upload. A retry after a
 * saved checkpoint changes nothing, so the upload already holding parts is kept. A job cancelled
 * before it starts (or while it opens the upload) is not started: ExportCancelledError.
 */
export async function prepareExport(deps: ExportWorkflowDeps, exportId: string): Promise<ExportStepState> {
  return unlessCancelled(deps, exportId, 'Prepare', () => prepare(deps, exportId), { abortUploads: false });
}

async function prepare(deps: ExportWorkflowDeps, exportId: string): Promise<ExportStepState> {
  const { value: job, revision } = await requireJob(deps.jobs, exportId);
  if (job.status === 'running' && job.checkpoint !== undefined) {
    return { exportId, done: job.checkpoint.done };
  }
  if (job.status !== 'queued' && job.status !== 'running') {
    throw new ConflictError(`Export ${exportId} is ${job.status}; only a queued export can be prepared.`);
  }
  const encoder = encoderFor(job.format);
  // A PDF job pages its companion CSV; RenderReport opens the report's own upload later.
  const artifactKey = rowsKeyOf(job);
  const uploadId = await deps.artifacts.startUpload(artifactKey, encoder.contentType);
  const checkpoint: ExportCheckpoint = {
    artifactKey,
    uploadId,
    parts: [],
    records: 0,
    bytes: 0,
    digest: new ResumableSha256().toState(),
    recordsDigest: new RecordsDigest().state(),
    done: false,
    ...(job.format === 'pdf' ? { summary: emptySummary() } : {}),
  };
  const running = job.status === 'queued' ? startJob(job, deps.now()) : job;
  try {
    await deps.jobs.saveJob({ ...running, checkpoint }, revision);
  } catch (error) {
    // Nobody will ever know this upload id: close it rather than leave it open.
    await deps.artifacts.abortUpload(artifactKey, uploadId).catch(() => undefined);
    throw error;
  }
  return { exportId, done: false };
}
