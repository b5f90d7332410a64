import { AppError } from '../../errors.ts';
import type { ArtifactStore, ExportJobStore } from '../../ports.ts';
import type { ExportJob } from '../export-job.ts';

/**
 * A workflow step found its export cancelled (POST /v1/exports/{id}/cancel) and stopped without
 * publishing anything. Not retried: the state machine's Catch hands it to MarkFailed, which keeps
 * the job cancelled (on AWS the execution has normally been stopped before that).
 */
export class ExportCancelledError extends AppError {
  readonly code = 'conflict';
}

/** The multipart uploads a job's checkpoint names: the rows' (artifact or companion CSV), and a PDF report's. */
export function openUploadsOf(job: ExportJob): { readonly key: string; readonly uploadId: string }[] {
  const checkpoint = job.checkpoint;
  if (checkpoint === undefined) return [];
  return [
    { key: checkpoint.artifactKey, uploadId: checkpoint.uploadId },
    ...(checkpoint.report === undefined
      ? []
      : [{ key: checkpoint.report.artifactKey, uploadId: checkpoint.report.uploadId }]),
  ];
}

/** Aborts the uploads the job's checkpoint names; an upload that no longer exists is not an error. */
export async function abortOpenUploads(artifacts: Pick<ArtifactStore, 'abortUpload'>, job: ExportJob): Promise<void> {
  for (const { key, uploadId } of openUploadsOf(job)) await artifacts.abortUpload(key, uploadId);
}

export interface CancellableStepDeps {
  readonly jobs: Pick<ExportJobStore, 'getJob'>;
  readonly artifacts: Pick<ArtifactStore, 'abortUpload'>;
}

/**
 * Runs a workflow step, and stops it cleanly when its export has been cancelled. A cancellation
 * shows in a step as a failure: the job it reads is not running, or its save (conditional on the
 * revision it read) loses to the cancellation's, or an upload the cancellation aborted is gone.
 * Whatever the step throws, the job is read again; when it is cancelled, the step ends with
 * ExportCancelledError instead, having saved nothing: no outcome, no artifact, no manifest, no
 * audit entry (the cancellation itself freed the slot and recorded who cancelled).
 *
 * `abortUploads`: the step uploads parts (ExportPage, RenderReport), so a part in flight while the
 * cancellation aborted the upload may have outlived that abort (S3 says to abort again); the step
 * that uploaded it aborts the job's uploads once more.
 */
export async function unlessCancelled<T>(
  deps: CancellableStepDeps,
  exportId: string,
  step: string,
  run: () => Promise<T>,
  options: { readonly abortUploads: boolean },
): Promise<T> {
  try {
    return await run();
  } catch (error) {
    const found = await deps.jobs.getJob(exportId).catch(() => undefined);
    if (found?.value.status !== 'cancelled') throw error;
    if (options.abortUploads) await abortOpenUploads(deps.artifacts, found.value);
    throw new ExportCancelledError(`Export ${exportId} was cancelled; ${step} stopped and published nothing.`, {
      cause: error,
    });
  }
}
