import { ResumableSha256 } from '../../digest/resumable-sha256.ts';
import { ConflictError, IntegrityError } from '../../errors.ts';
import { GENESIS_HASH } from '../../audit/audit-chain.ts';
import {
  MANIFEST_SCHEMA,
  manifestNameOf,
  manifestText,
  signManifest,
  type UnsignedManifest,
} from '../../evidence/manifest.ts';
import { RECORDS_DIGEST_ALGORITHM, RecordsDigest } from '../../evidence/records-digest.ts';
import { artifactFilenameOf, companionFilenameOf, eventFilterOf } from '../export-artifact.ts';
import type { ExportCheckpoint, ReportCheckpoint, UploadedPart } from '../export-checkpoint.ts';
import { completeJob, type ExportJob } from '../export-job.ts';
import { releaseRunningSlot } from '../export-limits.ts';
import { unlessCancelled } from './cancelled-export.ts';
import { type ExportStepState, type ExportWorkflowDeps, requireJob } from './workflow-deps.ts';

/**
 * Finalize: proves the export complete, completes the multipart upload (a PDF job's two: the
 * companion CSV's and the report's), checks the stored size,
 * writes the signed manifest beside the artifact and marks the job completed with its SHA-256
 * (computed over the parts as they were uploaded: S3 has no whole-object SHA-256 for multipart
 * objects) and records digest.
 *
 * Cancellation: before it completes any upload, Finalize claims to publish (`checkpoint.publishing`,
 * a save conditional on the revision it read, like every save), and from that claim on the export
 * can no longer be cancelled. So either the cancellation saved first, the claim fails and Finalize
 * stops with ExportCancelledError having published nothing (the cancellation aborted the
 * uploads), or the claim saved first and the export completes (or fails): a cancelled export
 * never has an artifact or a manifest, and a completed one is never cancelled.
 */
export async function finalizeExport(deps: ExportWorkflowDeps, exportId: string): Promise<ExportStepState> {
  return unlessCancelled(deps, exportId, 'Finalize', () => finalize(deps, exportId), { abortUploads: false });
}

async function finalize(deps: ExportWorkflowDeps, exportId: string): Promise<ExportStepState> {
  const found = await requireJob(deps.jobs, exportId);
  const job = found.value;
  if (job.status === 'completed') return { exportId };
  const checkpoint = job.checkpoint;
  if (job.status !== 'running' || checkpoint === undefined || !checkpoint.done) {
    throw new ConflictError(
      `Export ${exportId} is ${job.status} and not fully written; it cannot be finalized.`,
    );
  }
  const report = checkpoint.report;
  if (job.format === 'pdf' && !isRenderedReport(report)) {
    throw new ConflictError(`Export ${exportId} is a PDF whose report is not rendered yet; it cannot be finalized.`);
  }
  // Before any upload is completed, so a failed check leaves no object behind (MarkFailed aborts them).
  const sourceCount = await checkCompleteness(deps, job, checkpoint);
  // The claim to publish: saved before anything is published, so a cancellation that saved first
  // makes it fail (and this step stop), and none can follow it.
  const claimed: ExportJob = { ...job, checkpoint: { ...checkpoint, publishing: deps.now().toISOString() } };
  const revision = await deps.jobs.saveJob(claimed, found.revision);
  // The rows' upload: the artifact, or a PDF job's companion CSV.
  await completeChecked(deps, exportId, checkpoint.artifactKey, checkpoint.uploadId, checkpoint.parts, checkpoint.bytes);
  const rowsSha256 = ResumableSha256.fromState(checkpoint.digest).digestHex();
  const rows = { name: artifactFilenameOf(job), bytes: checkpoint.bytes, sha256: rowsSha256 };
  let artifact = rows;
  let artifactKey = checkpoint.artifactKey;
  let companion: UnsignedManifest['companion'];
  let companionKey: string | undefined;
  if (isRenderedReport(report)) {
    await completeChecked(deps, exportId, report.artifactKey, report.uploadId, report.parts, report.bytes);
    artifact = { name: artifactFilenameOf(job), bytes: report.bytes, sha256: report.sha256 };
    artifactKey = report.artifactKey;
    companionKey = checkpoint.artifactKey;
    companion = { name: companionFilenameOf(job), format: 'csv', bytes: checkpoint.bytes, sha256: rowsSha256 };
  }
  const recordsDigest = new RecordsDigest(checkpoint.recordsDigest).hex();
  const manifestKey = manifestNameOf(artifactKey);
  const head = await deps.audit.head();
  const manifest = await signManifest(deps.signer, {
    schema: MANIFEST_SCHEMA,
    exportId,
    ...(job.title === undefined ? {} : { title: job.title }),
    range: { from: job.range.from, to: job.range.to },
    filters: { ...job.filters },
    format: job.format,
    records: checkpoint.records,
    sourceCount,
    artifact,
    ...(companion === undefined ? {} : { companion }),
    recordsDigest: { algorithm: RECORDS_DIGEST_ALGORITHM, sha256: recordsDigest },
    generatedAt: deps.now().toISOString(),
    auditHead: head === undefined ? { seq: 0, hash: GENESIS_HASH } : { seq: head.seq, hash: head.hash },
  });
  await deps.artifacts.putDocument(manifestKey, manifestText(manifest), 'application/json');
  const completed = completeJob(
    claimed,
    {
      records: checkpoint.records,
      bytes: artifact.bytes,
      sha256: artifact.sha256,
      artifactKey,
      recordsDigest,
      ...(companion === undefined || companionKey === undefined
        ? {}
        : { companion: { artifactKey: companionKey, name: companion.name, bytes: companion.bytes, sha256: companion.sha256 } }),
      manifestKey,
    },
    deps.now(),
  );
  await deps.jobs.saveJob(completed, revision);
  await releaseRunningSlot(deps.runningExportSlots, completed);
  return { exportId };
}

/**
 * Counts the matching events with a query of its own, apart from the ExportPage loop, and fails
 * the export when the two differ: nothing is ever capped or skipped without the job failing. An
 * event ingested into the range while the export ran fails it too; exporting again includes it.
 */
async function checkCompleteness(
  deps: ExportWorkflowDeps,
  job: ExportJob,
  checkpoint: ExportCheckpoint,
): Promise<number> {
  const sourceCount = await deps.events.countEvents(eventFilterOf(job));
  if (sourceCount !== checkpoint.records) {
    throw new IntegrityError(
      `Completeness check failed: the store holds ${sourceCount} matching events but the export wrote ` +
        `${checkpoint.records}; no artifact was delivered. Create the export again.`,
    );
  }
  return sourceCount;
}

/** A report RenderReport finished: its parts, size and SHA-256 are known. */
function isRenderedReport(
  report: ReportCheckpoint | undefined,
): report is ReportCheckpoint & { parts: readonly UploadedPart[]; bytes: number; sha256: string } {
  return report?.done === true && report.parts !== undefined && report.bytes !== undefined && report.sha256 !== undefined;
}

/** Completes an upload and checks that the stored object has every uploaded byte. */
async function completeChecked(
  deps: ExportWorkflowDeps,
  exportId: string,
  key: string,
  uploadId: string,
  parts: readonly UploadedPart[],
  bytes: number,
): Promise<void> {
  try {
    await deps.artifacts.completeUpload(key, uploadId, parts);
  } catch (error) {
    // A retry after a completion whose answer was lost: the object is there, the upload is gone.
    const stored = await deps.artifacts.artifactSize(key);
    if (stored !== bytes) throw error;
  }
  const stored = await deps.artifacts.artifactSize(key);
  if (stored !== bytes) {
    throw new IntegrityError(`The stored artifact of export ${exportId} has ${stored ?? 'no'} bytes; ${bytes} were uploaded.`);
  }
}
