import { type ExportJob, failJob, isTerminal } from '../export-job.ts';
import { releaseRunningSlot } from '../export-limits.ts';
import { abortOpenUploads } from './cancelled-export.ts';
import type { ExportStepState, ExportWorkflowDeps } from './workflow-deps.ts';

/** What a Catch hands over: the error name and its cause (a Lambda error's JSON, or text). */
export interface WorkflowFailure {
  readonly Error?: string;
  readonly Cause?: string;
}

/**
 * MarkFailed: aborts the artifact's multipart upload (so no part is left stored), records the
 * reason on the job, frees its creator's running-export slot and appends the failure to the
 * audit trail. A job that already reached an outcome keeps it: a completed export whose audit
 * step failed still has a complete artifact.
 *
 * A cancelled job stays cancelled: it arrives here when a step stopped on finding it cancelled
 * (ExportCancelledError) in an execution that was not stopped (a start that came after the
 * cancellation). Its uploads are aborted and its slot freed once more, and no `export.failed`
 * is appended: it did not fail, it was cancelled (`export.cancelled` says by whom).
 */
export async function markExportFailed(
  deps: ExportWorkflowDeps,
  exportId: string,
  failure: WorkflowFailure | undefined,
): Promise<ExportStepState> {
  const found = await deps.jobs.getJob(exportId);
  if (found?.value.status === 'cancelled') {
    await abortOpenUploads(deps.artifacts, found.value);
    await releaseRunningSlot(deps.runningExportSlots, found.value);
    return { exportId };
  }
  if (found === undefined || isTerminal(found.value.status)) return { exportId };
  const { value: job, revision } = found;
  if (job.checkpoint !== undefined) {
    await deps.artifacts.abortUpload(job.checkpoint.artifactKey, job.checkpoint.uploadId);
    // A PDF job's report has an upload of its own.
    const report = job.checkpoint.report;
    if (report !== undefined) await deps.artifacts.abortUpload(report.artifactKey, report.uploadId);
  }
  const state = failedStateOf(job);
  const failed = failJob(job, failureReason(failure), state, deps.now());
  await deps.jobs.saveJob(failed, revision);
  await releaseRunningSlot(deps.runningExportSlots, failed);
  await deps.audit.append({
    action: 'export.failed',
    subject: exportId,
    actor: 'workflow',
    at: failed.completedAt ?? deps.now().toISOString(),
    details: { reason: failed.error?.reason ?? '', state },
  });
  return { exportId };
}

/** The step that was running, read from how far the job got (a Catch does not name its state). */
export function failedStateOf(job: ExportJob): string {
  if (job.checkpoint === undefined) return 'Prepare';
  if (!job.checkpoint.done) return 'ExportPage';
  // A PDF job renders its report between ExportPage and Finalize.
  if (job.format === 'pdf' && job.checkpoint.report?.done !== true) return 'RenderReport';
  return 'Finalize';
}

/**
 * `DependencyError: Reading decision events failed: …`. On AWS the Cause of a Lambda error is
 * the JSON `{"errorType","errorMessage","trace"}`; the local runner passes the message itself.
 * The trace is never kept: it is noise to a compliance officer and may name internals.
 */
export function failureReason(failure: WorkflowFailure | undefined): string {
  const name = failure?.Error?.trim() || 'Error';
  const cause = failure?.Cause?.trim() ?? '';
  let message = cause;
  try {
    const parsed = JSON.parse(cause) as { errorMessage?: unknown };
    if (typeof parsed?.errorMessage === 'string') message = parsed.errorMessage;
  } catch {
    // Not JSON: the cause is the message.
  }
  if (name === 'States.Timeout' && message === '') return 'States.Timeout: the step did not finish in time';
  if (message === '') return name;
  return message.startsWith(`${name}:`) ? message : `${name}: ${message}`;
}
