import { ResumableSha256 } from '../../digest/resumable-sha256.ts';
import { ConflictError, IntegrityError } from '../../errors.ts';
import { GENESIS_HASH } from '../../audit/audit-chain.ts';
import { MANIFEST_SCHEMA, manifestNameOf, manifestText, signManifest } from '../../evidence/manifest.ts';
import { RECORDS_DIGEST_ALGORITHM, RecordsDigest } from '../../evidence/records-digest.ts';
import { artifactFilenameOf, eventFilterOf } from '../export-artifact.ts';
import type { ExportCheckpoint } from '../export-checkpoint.ts';
import { completeJob, type ExportJob } from '../export-job.ts';
import { type ExportStepState, type ExportWorkflowDeps, requireJob } from './workflow-deps.ts';

/**
 * Finalize: proves the export complete, completes the multipart upload, checks the stored size,
 * writes the signed manifest beside the artifact and marks the job completed with its SHA-256
 * (computed over the parts as they were uploaded: S3 has no whole-object SHA-256 for multipart
 * objects) and records digest.
 */
export async function finalizeExport(deps: ExportWorkflowDeps, exportId: string): Promise<ExportStepState> {
  const { value: job, revision } = await requireJob(deps.jobs, exportId);
  if (job.status === 'completed') return { exportId };
  const checkpoint = job.checkpoint;
  if (job.status !== 'running' || checkpoint === undefined || !checkpoint.done) {
    throw new ConflictError(
      `Export ${exportId} is ${job.status} and not fully written; it cannot be finalized.`,
    );
  }
  // Before the upload is completed, so a failed check leaves no object behind (MarkFailed aborts it).
  const sourceCount = await checkCompleteness(deps, job, checkpoint);
  try {
    await deps.artifacts.completeUpload(checkpoint.artifactKey, checkpoint.uploadId, checkpoint.parts);
  } catch (error) {
    // A retry after a completion whose answer was lost: the object is there, the upload is gone.
    const stored = await deps.artifacts.artifactSize(checkpoint.artifactKey);
    if (stored !== checkpoint.bytes) throw error;
  }
  const stored = await deps.artifacts.artifactSize(checkpoint.artifactKey);
  if (stored !== checkpoint.bytes) {
    throw new IntegrityError(
      `The stored artifact of export ${exportId} has ${stored ?? 'no'} bytes; ${checkpoint.bytes} were uploaded.`,
    );
  }
  const sha256 = ResumableSha256.fromState(checkpoint.digest).digestHex();
  const recordsDigest = new RecordsDigest(checkpoint.recordsDigest).hex();
  const manifestKey = manifestNameOf(checkpoint.artifactKey);
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
    artifact: { name: artifactFilenameOf(job), bytes: checkpoint.bytes, sha256 },
    recordsDigest: { algorithm: RECORDS_DIGEST_ALGORITHM, sha256: recordsDigest },
    generatedAt: deps.now().toISOString(),
    auditHead: head === undefined ? { seq: 0, hash: GENESIS_HASH } : { seq: head.seq, hash: head.hash },
  });
  await deps.artifacts.putDocument(manifestKey, manifestText(manifest), 'application/json');
  const completed = completeJob(
    job,
    {
      records: checkpoint.records,
      bytes: checkpoint.bytes,
      sha256,
      artifactKey: checkpoint.artifactKey,
      recordsDigest,
      manifestKey,
    },
    deps.now(),
  );
  await deps.jobs.saveJob(completed, revision);
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
