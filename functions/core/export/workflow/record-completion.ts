import { ConflictError } from '../../errors.ts';
import { recordDeliveryFailure } from './deliver-export.ts';
import type { WorkflowFailure } from './mark-export-failed.ts';
import { type ExportStepState, type ExportWorkflowDeps, requireJob } from './workflow-deps.ts';

/**
 * RecordAudit: appends the completion to the audit trail, once. A retry first looks for the
 * entry a previous attempt may have written before its answer was lost. When Deliver failed after
 * its retries, its Catch passes the failure here (`deliveryFailure`): the export is complete all
 * the same, so the failure is recorded on the delivery, not the job.
 */
export async function recordExportCompletion(
  deps: ExportWorkflowDeps,
  exportId: string,
  deliveryFailure?: WorkflowFailure,
): Promise<ExportStepState> {
  if (deliveryFailure !== undefined) await recordDeliveryFailure(deps, exportId, deliveryFailure);
  const { value: job } = await requireJob(deps.jobs, exportId);
  if (job.status !== 'completed' && job.status !== 'deleted') {
    throw new ConflictError(`Export ${exportId} is ${job.status}; only a completed export is recorded as completed.`);
  }
  const earlier = await deps.audit.entries({ subject: exportId });
  if (earlier.some((entry) => entry.action === 'export.completed')) return { exportId };
  await deps.audit.append({
    action: 'export.completed',
    subject: exportId,
    actor: 'workflow',
    at: job.completedAt ?? deps.now().toISOString(),
    details: {
      format: job.format,
      records: job.records,
      bytes: job.bytes ?? 0,
      sha256: job.sha256 ?? '',
    },
  });
  return { exportId };
}
