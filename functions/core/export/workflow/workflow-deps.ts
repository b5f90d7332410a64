import { NotFoundError } from '../../errors.ts';
import type {
  ArtifactStore,
  AuditLog,
  DeliveryStore,
  EventStore,
  EvidenceSigner,
  ExportJobStore,
  Revisioned,
  RunningExportSlots,
} from '../../ports.ts';
import type { DeliveryBucket } from '../delivery.ts';
import type { ExportJob } from '../export-job.ts';

/** What the workflow steps need from the outside world; the composition root provides it. */
export interface ExportWorkflowDeps {
  readonly jobs: ExportJobStore;
  readonly events: EventStore;
  readonly artifacts: ArtifactStore;
  readonly audit: AuditLog;
  /** Signs the manifest Finalize writes beside the artifact. */
  readonly signer: EvidenceSigner;
  readonly now: () => Date;
  /**
   * Deliver copies to customer buckets on this allow-list.
   * @default - none: a delivery fails, saying the bucket is not allowed
   */
  readonly delivery?: DeliveryStore;
  readonly deliveryBuckets?: readonly DeliveryBucket[];
  /**
   * Where a finished job frees its creator's running-export slot (export-limits.ts).
   * @default - none: no slots are kept
   */
  readonly runningExportSlots?: RunningExportSlots;
  /**
   * The most records one export may hold; ExportPage fails a job that has more.
   * @default DEFAULT_MAX_EXPORT_RECORDS (10,000,000)
   */
  readonly maxExportRecords?: number;
}

/** The state every step receives and returns: ids and a flag, never rows or part lists. */
export interface ExportStepState {
  readonly exportId: string;
  readonly done?: boolean;
  /** ExportPage of a PDF job, once done: RenderReport comes next. */
  readonly report?: boolean;
}

export async function requireJob(jobs: ExportJobStore, exportId: string): Promise<Revisioned<ExportJob>> {
  const found = await jobs.getJob(exportId);
  if (found === undefined) throw new NotFoundError('Export', exportId);
  return found;
}
