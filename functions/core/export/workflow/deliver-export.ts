import { ConflictError, DependencyError } from '../../errors.ts';
import type { Revisioned } from '../../ports.ts';
import {
  allowedBucketOf,
  deliveryFailed,
  deliveryKeysOf,
  deliverySucceeded,
  type ExportDelivery,
} from '../delivery.ts';
import { contentTypeOf } from '../encoders.ts';
import type { ExportJob } from '../export-job.ts';
import { failureReason, type WorkflowFailure } from './mark-export-failed.ts';
import { type ExportStepState, type ExportWorkflowDeps, requireJob } from './workflow-deps.ts';

/**
 * Deliver: copies a completed export's artifact and then its manifest to the customer bucket the
 * job names, when it names one (otherwise it passes). The manifest goes last, so a manifest in the
 * customer bucket means its artifact is there in full.
 *
 * A delivery that fails never fails the export: the job stays completed with its artifact kept,
 * `delivery.status` becomes failed with the reason, and `kt export redeliver` tries again. A
 * transient failure (DependencyError) is thrown instead, so the state machine retries it first;
 * when its retries run out, the Catch hands the failure to RecordAudit, which records it
 * (recordDeliveryFailure). Each outcome is an audit entry, `export.delivered` or
 * `export.delivery_failed`, numbered by the attempt.
 */
export async function deliverExport(deps: ExportWorkflowDeps, exportId: string): Promise<ExportStepState> {
  const { value: job, revision } = await requireJob(deps.jobs, exportId);
  const delivery = job.delivery;
  if (delivery === undefined) return { exportId };
  if (delivery.status !== 'pending') {
    // A retry after the outcome was saved: make sure it was audited, then pass.
    await auditOutcome(deps, job, delivery);
    return { exportId };
  }
  let outcome: ExportDelivery;
  try {
    outcome = await copy(deps, job, delivery);
  } catch (error) {
    if (error instanceof DependencyError) throw error;
    outcome = deliveryFailed(delivery, reasonOf(error));
  }
  // Audited only when saved: an outcome that lost to another one is not the delivery's state.
  if (await saveOutcome(deps, { value: job, revision }, outcome)) await auditOutcome(deps, job, outcome);
  return { exportId };
}

/**
 * Saves the delivery's outcome; false when another outcome was saved first. A copy can take minutes, in which the job may be saved by someone
 * else (a redelivery request setting it pending again, a delete): the outcome is then written
 * onto the job as it is now, as long as its delivery is still waiting for one.
 */
async function saveOutcome(
  deps: ExportWorkflowDeps,
  read: Revisioned<ExportJob>,
  outcome: ExportDelivery,
): Promise<boolean> {
  let current = read;
  for (let attempt = 1; ; attempt++) {
    try {
      await deps.jobs.saveJob({ ...current.value, delivery: outcome }, current.revision);
      return true;
    } catch (error) {
      if (!(error instanceof ConflictError) || attempt >= 3) throw error;
      current = await requireJob(deps.jobs, current.value.id);
      if (current.value.delivery?.status !== 'pending') return false;
    }
  }
}

/**
 * Records a delivery whose Deliver step failed after its retries (the Catch's failure), unless it
 * already has an outcome. RecordAudit calls it with the failure the Catch put in its input.
 */
export async function recordDeliveryFailure(
  deps: ExportWorkflowDeps,
  exportId: string,
  failure: WorkflowFailure,
): Promise<void> {
  const { value: job, revision } = await requireJob(deps.jobs, exportId);
  const delivery = job.delivery;
  if (delivery === undefined) return;
  if (delivery.status === 'pending') {
    const failed = deliveryFailed(delivery, failureReason(failure));
    await deps.jobs.saveJob({ ...job, delivery: failed }, revision);
    await auditOutcome(deps, job, failed);
  } else {
    await auditOutcome(deps, job, delivery);
  }
}

async function copy(deps: ExportWorkflowDeps, job: ExportJob, delivery: ExportDelivery): Promise<ExportDelivery> {
  if (job.status !== 'completed' || job.artifactKey === undefined || job.manifestKey === undefined) {
    throw new Error(`export ${job.id} is ${job.status}, so it has no artifact to deliver`);
  }
  const allowed = allowedBucketOf(deps.deliveryBuckets ?? [], delivery.bucket);
  if (deps.delivery === undefined) throw new Error('this deployment has no delivery store');
  const keys = deliveryKeysOf(job, delivery);
  const region = delivery.region ?? allowed.region;
  const target = { bucket: allowed.bucket, account: allowed.account, ...(region === undefined ? {} : { region }) };
  await deps.delivery.copyToCustomer(job.artifactKey, {
    ...target,
    key: keys.artifactKey,
    contentType: contentTypeOf(job.format),
  });
  // A PDF export's companion CSV (every record) goes too, beside the report and before the
  // manifest that lists it, so a delivered manifest still means everything it names is there.
  if (job.companion !== undefined) {
    await deps.delivery.copyToCustomer(job.companion.artifactKey, {
      ...target,
      key: `${delivery.prefix}${job.companion.name}`,
      contentType: contentTypeOf('csv'),
    });
  }
  await deps.delivery.copyToCustomer(job.manifestKey, {
    ...target,
    key: keys.manifestKey,
    contentType: 'application/json',
  });
  return deliverySucceeded(
    delivery,
    { objectUri: `s3://${allowed.bucket}/${keys.artifactKey}`, manifestUri: `s3://${allowed.bucket}/${keys.manifestKey}` },
    deps.now(),
  );
}

/** Appends the outcome's audit entry unless this attempt has one (a retried step). */
async function auditOutcome(deps: ExportWorkflowDeps, job: ExportJob, delivery: ExportDelivery): Promise<void> {
  const action = delivery.status === 'delivered' ? 'export.delivered' : 'export.delivery_failed';
  if (delivery.status === 'pending' || delivery.attempts === 0) return;
  const earlier = await deps.audit.entries({ subject: job.id });
  if (earlier.some((entry) => entry.action === action && entry.details?.attempt === delivery.attempts)) return;
  await deps.audit.append({
    action,
    subject: job.id,
    actor: 'workflow',
    at: delivery.deliveredAt ?? deps.now().toISOString(),
    details:
      delivery.status === 'delivered'
        ? {
            attempt: delivery.attempts,
            objectUri: delivery.objectUri ?? '',
            manifestUri: delivery.manifestUri ?? '',
            sha256: job.sha256 ?? '',
          }
        : {
            attempt: delivery.attempts,
            bucket: delivery.bucket,
            prefix: delivery.prefix,
            reason: delivery.error ?? '',
          },
  });
}

function reasonOf(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
