import { createHash } from 'node:crypto';
import type { Principal } from '../../auth/token-record.ts';
import { requireScope } from '../../auth/tokens.ts';
import { ConflictError, DependencyError, ValidationError } from '../../errors.ts';
import { deliveryLocation } from '../delivery.ts';
import { type ExportJob, failJob, newExportJob } from '../export-job.ts';
import { claimRunningSlot, releaseRunningSlot } from '../export-limits.ts';
import { type ExportRequest, parseExportRequest } from '../export-request.ts';
import type { AuditRecord } from '../../audit/audit-chain.ts';
import type { IdempotencyClaim } from '../../ports.ts';
import type { ExportOperationDeps } from './operation-deps.ts';

export interface CreateExportResult {
  readonly job: ExportJob;
  /** False when an earlier request with the same Idempotency-Key created the job. */
  readonly created: boolean;
}

// Printable ASCII without spaces: what clients put in headers (UUIDs, ULIDs, hashes).
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

/**
 * POST /v1/exports: validates the request, stores the job as queued, records it in the audit
 * trail and starts its workflow. With an Idempotency-Key, repeating the request returns the job
 * the first one created; reusing the key for a different request is a conflict. A principal with
 * as many exports queued or running as the limit allows is refused (429, Retry-After) before
 * anything is written; a repeat of a request that created its job is never refused.
 */
export async function createExport(
  deps: ExportOperationDeps,
  body: unknown,
  principal: Principal,
  idempotencyKey?: string,
): Promise<CreateExportResult> {
  requireScope(principal, 'exports:write');
  if (idempotencyKey !== undefined && !IDEMPOTENCY_KEY.test(idempotencyKey)) {
    throw new ValidationError('The Idempotency-Key header is invalid.', [
      { field: 'Idempotency-Key', rule: 'must be 1 to 255 printable ASCII characters without spaces' },
    ]);
  }
  const request = parseExportRequest(body, principal, {
    ...(deps.deliveryBuckets === undefined ? {} : { deliveryBuckets: deps.deliveryBuckets }),
    ...(deps.maxRangeDays === undefined ? {} : { maxRangeDays: deps.maxRangeDays }),
  });
  let id = deps.newId();
  if (idempotencyKey === undefined) {
    await holdSlot(deps, principal, id);
  } else {
    const fingerprint = fingerprintOf(request);
    const earlier = await deps.jobs.findIdempotencyKey(principal.tokenId, idempotencyKey);
    if (earlier !== undefined) {
      // A repeat: the first request's job, whatever the limit says now.
      const existing = await earlierJob(deps, earlier, fingerprint);
      if (existing !== undefined) return { job: existing, created: false };
      // The first request stopped between claiming the key and storing the job: finish its work.
      id = earlier.exportId;
      await holdSlot(deps, principal, id);
    } else {
      // The slot first: a refused request leaves no claim behind, and may be repeated with its key.
      await holdSlot(deps, principal, id);
      const raced = await deps.jobs.claimIdempotencyKey({
        scope: principal.tokenId,
        key: idempotencyKey,
        fingerprint,
        exportId: id,
      });
      if (raced !== undefined) {
        // A concurrent request with the same key claimed it first: its export is the one.
        await deps.runningExports?.slots.releaseSlot(principal.tokenId, id);
        const existing = await earlierJob(deps, raced, fingerprint);
        if (existing !== undefined) return { job: existing, created: false };
        id = raced.exportId;
        await holdSlot(deps, principal, id);
      }
    }
  }

  const job = newExportJob(request, principal, deps.now(), id);
  await deps.jobs.createJob(job);
  // Recorded and started, or failed: a stored job that is neither would stay queued forever,
  // holding its running-export slot, and a repeat of the request would return it as it is.
  let recorded = false;
  try {
    await deps.audit.append(createdEntry(job));
    recorded = true;
    await deps.workflow.startExport(id);
  } catch (cause) {
    const marked = await recordStartFailure(deps, id, recorded).then(
      () => 'it is marked failed',
      () => 'marking it failed did not complete either',
    );
    const step = recorded ? 'started' : 'recorded in the audit trail';
    throw new DependencyError(`Export ${id} could not be ${step}; ${marked}. Create it again.`, { cause });
  }
  return { job, created: true };
}

function createdEntry(job: ExportJob): AuditRecord {
  return {
    action: 'export.created',
    subject: job.id,
    actor: job.createdBy,
    at: job.createdAt,
    details: {
      format: job.format,
      from: job.range.from,
      to: job.range.to,
      ...(job.filters.team === undefined ? {} : { team: job.filters.team }),
      ...(job.filters.policy === undefined ? {} : { policy: job.filters.policy }),
      ...(job.delivery === undefined ? {} : { delivery: deliveryLocation(job.delivery) }),
    },
  };
}

/** Holds one of the principal's running-export slots for `id`, or refuses (429) with nothing written. */
async function holdSlot(deps: ExportOperationDeps, principal: Principal, id: string): Promise<void> {
  if (deps.runningExports === undefined) return;
  await claimRunningSlot(deps.runningExports, deps.jobs, principal.tokenId, id, deps.now());
}

/** The job an earlier request with the same key created; a conflict if that request differed. */
async function earlierJob(
  deps: ExportOperationDeps,
  earlier: IdempotencyClaim,
  fingerprint: string,
): Promise<ExportJob | undefined> {
  if (earlier.fingerprint !== fingerprint) {
    throw new ConflictError(
      'This Idempotency-Key was already used for a different export request; use a new key for a new request.',
    );
  }
  return (await deps.jobs.getJob(earlier.exportId))?.value;
}

/**
 * A job whose workflow never started is failed and its slot freed. Its failure is audited only if
 * its creation was: an auditor would find `export.failed` for an export the trail never created.
 */
async function recordStartFailure(deps: ExportOperationDeps, id: string, recorded: boolean): Promise<void> {
  const found = await deps.jobs.getJob(id);
  if (found === undefined || found.value.status !== 'queued') return;
  const failed = failJob(found.value, 'The export workflow could not be started.', 'Start', deps.now());
  await deps.jobs.saveJob(failed, found.revision);
  await releaseRunningSlot(deps.runningExports?.slots, failed);
  if (!recorded) return;
  await deps.audit.append({
    action: 'export.failed',
    subject: id,
    actor: 'workflow',
    at: failed.completedAt ?? deps.now().toISOString(),
    details: { reason: failed.error?.reason ?? '', state: 'Start' },
  });
}

/** SHA-256 of the validated request, fields in a fixed order: equal requests, equal fingerprints. */
function fingerprintOf(request: ExportRequest): string {
  const canonical = JSON.stringify([
    request.range.from,
    request.range.to,
    request.format,
    request.title ?? null,
    request.filters.team ?? null,
    request.filters.policy ?? null,
    // Appended only when present, so a request without delivery keeps its earlier fingerprint.
    ...(request.delivery === undefined
      ? []
      : [request.delivery.bucket, request.delivery.prefix, request.delivery.region ?? null]),
  ]);
  return createHash('sha256').update(canonical).digest('hex');
}
