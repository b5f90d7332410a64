import type { Principal } from '../../auth/token-record.ts';
import { NotFoundError } from '../../errors.ts';
import type { ArtifactStore, AuditLog, ExportJobStore, Revisioned, WorkflowStarter } from '../../ports.ts';
import type { ArtifactRetention } from '../artifact-retention.ts';
import type { DeliveryBucket } from '../delivery.ts';
import type { ExportJob } from '../export-job.ts';
import type { RunningExportLimit } from '../export-limits.ts';

/** What the API's export operations need; the composition root provides it. */
export interface ExportOperationDeps {
  readonly jobs: ExportJobStore;
  readonly artifacts: ArtifactStore;
  readonly audit: AuditLog;
  readonly workflow: WorkflowStarter;
  readonly now: () => Date;
  readonly newId: () => string;
  /**
   * The artifact bucket's S3 Object Lock default retention; deleting an export is refused until
   * it has passed.
   * @default - none: an export may be deleted as soon as it has finished
   */
  readonly retention?: ArtifactRetention;
  /**
   * Customer buckets an export may be delivered to (the deployment's allow-list).
   * @default - none: a request to deliver is refused
   */
  readonly deliveryBuckets?: readonly DeliveryBucket[];
  /** The longest range one export may cover, in days (`maxRangeDays`). @default DEFAULT_MAX_RANGE_DAYS (366) */
  readonly maxRangeDays?: number;
  /**
   * The limit on exports one principal may have queued or running at once (export-limits.ts).
   * @default - no limit
   */
  readonly runningExports?: RunningExportLimit;
}

/**
 * Whether the caller may see a job: a team-restricted token sees only its team's exports. A job
 * it may not see is reported as not found, so ids of other teams' exports leak nothing.
 */
export function canSee(principal: Principal, job: ExportJob): boolean {
  return principal.team === undefined || job.filters.team === principal.team;
}

export async function visibleJob(
  jobs: ExportJobStore,
  principal: Principal,
  exportId: string,
): Promise<Revisioned<ExportJob>> {
  const found = await jobs.getJob(exportId);
  if (found === undefined || !canSee(principal, found.value)) throw new NotFoundError('Export', exportId);
  return found;
}
