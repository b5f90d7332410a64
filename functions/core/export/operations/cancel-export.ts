import type { Principal } from '../../auth/token-record.ts';
import { requireScope } from '../../auth/tokens.ts';
import { ConflictError, DependencyError } from '../../errors.ts';
import { manifestNameOf } from '../../evidence/manifest.ts';
import type { Revisioned } from '../../ports.ts';
import { cancelJob, type ExportJob, type ExportJobStatus, type ExportJobView, jobView } from '../export-job.ts';
import { releaseRunningSlot } from '../export-limits.ts';
import { abortOpenUploads } from '../workflow/cancelled-export.ts';
import type { ExportOperationDeps } from './operation-deps.ts';
import { visibleJob } from './operation-deps.ts';
import { requireExportId } from './read-exports.ts';

/** Saves the cancellation again after this many conflicts with the workflow's own saves. */
const MAX_SAVE_ATTEMPTS = 5;

/**
 * POST /v1/exports/{id}/cancel: stops a queued or running export. It ends `cancelled`, with no
 * artifact, manifest or delivery; its running-export slot is freed for the caller's next export,
 * and `export.cancelled` is appended to the audit trail with the caller as the actor.
 *
 * A finished export (completed, failed, deleted) is refused with a 409 naming its status, as is a
 * running one whose Finalize has started to publish (export-job.ts cancelJob). Cancelling a
 * cancelled export answers it again (200): a repeat finishes whatever an interrupted first
 * request left undone (stopping, aborting, freeing the slot, the audit entry) and appends no
 * second entry.
 *
 * The order is what makes it safe against the workflow running alongside:
 *
 * 1. The job is marked cancelled first, by a save conditional on the revision read (so on the job
 *    still being queued or running as read). From that write on the workflow cannot change the
 *    job: every step saves conditionally on the revision it read and refuses a job that is not
 *    running, and the job store refuses to save a cancelled job as anything but cancelled or
 *    deleted. A step in flight loses its next save, finds the job cancelled and stops, publishing
 *    nothing (workflow/cancelled-export.ts). Stopping the execution first instead would leave a
 *    job `running` with no workflow behind it whenever the mark then failed.
 * 2. Then the execution is stopped. The mark already rules out any outcome, so a stop that comes
 *    late (or a start that comes after it: Prepare finds the job cancelled) costs at most one
 *    step's work, never a result.
 * 3. Then the uploads the job's checkpoint names are aborted (and, for a Finalize whose claim had
 *    lapsed, whatever it may have published is deleted). A part whose upload was in flight may
 *    outlive the abort, as S3 documents; the step that uploaded it aborts again when it finds
 *    the job cancelled.
 * 4. Then the slot is freed: only now, so the caller's next export cannot run alongside this
 *    one's execution. Should this request stop before, the slot's holder is cancelled, which the
 *    next create counts as finished and takes over (export-limits.ts).
 * 5. The audit entry last: it records a cancellation that has taken effect. Should this request
 *    stop before, its repeat appends it.
 */
export async function cancelExport(
  deps: ExportOperationDeps,
  exportId: string,
  principal: Principal,
): Promise<ExportJobView> {
  requireScope(principal, 'exports:write');
  const id = requireExportId(exportId);
  const { job: cancelled, was, repeated } = await markCancelled(deps, id, principal);

  const failures: string[] = [];
  try {
    await deps.workflow.stopExport(id);
  } catch (error) {
    failures.push(`its workflow could not be stopped (${messageOf(error)}); it stops at its next step`);
  }
  try {
    await abortOpenUploads(deps.artifacts, cancelled);
    for (const key of publishedKeysOf(cancelled)) await deps.artifacts.deleteArtifact(key);
  } catch (error) {
    failures.push(`its partial upload could not be discarded (${messageOf(error)})`);
  }
  await releaseRunningSlot(deps.runningExports?.slots, cancelled);
  if (!repeated || !(await deps.audit.entries({ subject: id })).some((entry) => entry.action === 'export.cancelled')) {
    await deps.audit.append({
      action: 'export.cancelled',
      subject: id,
      actor: principal.tokenId,
      at: cancelled.cancelledAt ?? deps.now().toISOString(),
      details: { ...(was === undefined ? {} : { status: was }), records: cancelled.records },
    });
  }
  if (failures.length > 0) {
    // The export is cancelled and audited; what failed is retried by cancelling it again.
    throw new DependencyError(`Export ${id} is cancelled, but ${failures.join('; and ')}. Cancel it again to retry.`);
  }
  return jobView(cancelled);
}

/**
 * Step 1: saves the job as cancelled, conditional on the revision read; `was` is the status it
 * had. A job found cancelled already is a repeat (`repeated`), and is not saved again.
 */
async function markCancelled(
  deps: ExportOperationDeps,
  id: string,
  principal: Principal,
): Promise<{ job: ExportJob; was?: ExportJobStatus; repeated: boolean }> {
  let found: Revisioned<ExportJob> = await visibleJob(deps.jobs, principal, id);
  for (let attempt = 1; ; attempt++) {
    const { value: job, revision } = found;
    // Cancelled already: by an earlier request, or a concurrent one that saved first.
    if (job.status === 'cancelled') return { job, repeated: true };
    // Refuses a finished export (409, naming its status) before anything is written.
    const next = cancelJob(job, deps.now());
    try {
      await deps.jobs.saveJob(next, revision);
      return { job: next, was: job.status, repeated: false };
    } catch (error) {
      // A workflow step saved the job in between (ExportPage saves after every part): decide again.
      if (!(error instanceof ConflictError)) throw error;
      if (attempt >= MAX_SAVE_ATTEMPTS) {
        throw new DependencyError(`Export ${id} kept changing while it was being cancelled; cancel it again.`, {
          cause: error,
        });
      }
      found = await visibleJob(deps.jobs, principal, id);
    }
  }
}

/**
 * What a Finalize may have published before the job was cancelled: only when its claim to publish
 * had lapsed (the invocation that made it is gone, and may have completed the uploads first).
 * Deleting a missing object is not an error, so listing them all is safe.
 */
function publishedKeysOf(job: ExportJob): string[] {
  const checkpoint = job.checkpoint;
  if (checkpoint?.publishing === undefined) return [];
  const artifactKey = checkpoint.report?.artifactKey ?? checkpoint.artifactKey;
  return [...new Set([checkpoint.artifactKey, artifactKey, manifestNameOf(artifactKey)])];
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
