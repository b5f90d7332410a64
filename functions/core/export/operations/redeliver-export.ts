import type { Principal } from '../../auth/token-record.ts';
import { requireScope } from '../../auth/tokens.ts';
import { ConflictError, DependencyError } from '../../errors.ts';
import { deliveryRequeued } from '../delivery.ts';
import { type ExportJobView, jobView } from '../export-job.ts';
import type { ExportOperationDeps } from './operation-deps.ts';
import { visibleJob } from './operation-deps.ts';
import { requireExportId } from './read-exports.ts';

/**
 * POST /v1/exports/{id}/redeliver: tries a failed delivery again. It sets the delivery back to
 * pending and runs the workflow's Deliver step again in an execution of its own (then
 * RecordAudit, which finds the completion already recorded), so a redelivery copies exactly as
 * the first attempt did, with the same retries and the same least-privilege function; a large
 * artifact is not bound by an API request's time limit. Answers 202 with the job, delivery
 * pending; `kt export redeliver` follows it to its outcome. A delivered export is refused (409).
 */
export async function redeliverExport(
  deps: ExportOperationDeps,
  exportId: string,
  principal: Principal,
): Promise<ExportJobView> {
  requireScope(principal, 'exports:write');
  const { value: job, revision } = await visibleJob(deps.jobs, principal, requireExportId(exportId));
  const delivery = deliveryRequeued(job);
  const redeliver = deps.workflow.redeliverExport?.bind(deps.workflow);
  if (redeliver === undefined) throw new ConflictError('This deployment cannot redeliver exports.');
  const pending = { ...job, delivery };
  await deps.jobs.saveJob(pending, revision);
  // Unique per request: a name Step Functions has seen before would not run again.
  const name = `${job.id}-redeliver-${deps.now().getTime()}`;
  try {
    await redeliver(job.id, name);
  } catch (cause) {
    throw new DependencyError(
      `Redelivery of export ${job.id} could not be started; its delivery is pending. Run redeliver again.`,
      { cause },
    );
  }
  return jobView(pending);
}
