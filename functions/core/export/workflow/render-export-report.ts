import { ResumableSha256 } from '../../digest/resumable-sha256.ts';
import { ConflictError, IntegrityError } from '../../errors.ts';
import { RecordsDigest, recordLineOfCanonical } from '../../evidence/records-digest.ts';
import { contentTypeOf } from '../encoders.ts';
import { artifactKeyOf, companionFilenameOf, eventFilterOf } from '../export-artifact.ts';
import type { ExportCheckpoint, ReportCheckpoint, UploadedPart } from '../export-checkpoint.ts';
import type { ExportJob } from '../export-job.ts';
import { DEFAULT_REPORT_PAGE_SIZE } from '../report/page-size.ts';
import { renderReport } from '../report/render-report.ts';
import type { ReportFonts } from '../report/report-text.ts';
import { unlessCancelled } from './cancelled-export.ts';
import { MIN_PART_BYTES } from './export-page.ts';
import { type ExportStepState, type ExportWorkflowDeps, requireJob } from './workflow-deps.ts';

/** Detail rows a report's table shows unless the deployment says otherwise (PDF_MAX_DETAIL_ROWS). */
export const DEFAULT_MAX_DETAIL_ROWS = 100_000;

export interface RenderReportOptions {
  /** The fonts to embed (loaded by the caller: the renderer does no I/O). */
  readonly fonts: ReportFonts;
  /** @default DEFAULT_MAX_DETAIL_ROWS */
  readonly maxDetailRows?: number;
  /** @default MIN_PART_BYTES */
  readonly partBytes?: number;
}

/**
 * RenderReport (PDF jobs, after ExportPage has written the companion CSV): draws the report from
 * the events and uploads it as a multipart upload that Finalize completes, after its completeness
 * check, together with the CSV. So a failed check leaves neither file behind.
 *
 * The summaries come from the checkpoint (ExportPage counted every event); the table reads the
 * events again, in the same (timestamp, id) order, and the records it draws are digested as they
 * go: when the table shows every record, its records digest must equal the CSV's, or the step
 * fails rather than publish a PDF whose rows differ from its companion (an event ingested into the
 * range in between would do that; Finalize's count would catch it too).
 *
 * A PDF cannot be resumed half-way, so the report is rendered in one invocation; a retry aborts
 * the upload an earlier attempt left and renders again. The result is the same bytes: every input
 * (the job, its checkpoint, the events, the render time fixed at the first attempt) is the same.
 *
 * A cancelled export stops as soon as a part upload finds the report's upload aborted, or at its
 * last save: ExportCancelledError, after aborting the job's uploads again.
 */
export async function renderExportReport(
  deps: ExportWorkflowDeps,
  exportId: string,
  options: RenderReportOptions,
): Promise<ExportStepState> {
  return unlessCancelled(deps, exportId, 'RenderReport', () => render(deps, exportId, options), {
    abortUploads: true,
  });
}

async function render(
  deps: ExportWorkflowDeps,
  exportId: string,
  options: RenderReportOptions,
): Promise<ExportStepState> {
  const partBytes = options.partBytes ?? MIN_PART_BYTES;
  if (!Number.isSafeInteger(partBytes) || partBytes < MIN_PART_BYTES) {
    throw new RangeError(`partBytes must be at least ${MIN_PART_BYTES} (S3's minimum part size)`);
  }
  const maxDetailRows = options.maxDetailRows ?? DEFAULT_MAX_DETAIL_ROWS;
  if (!Number.isSafeInteger(maxDetailRows) || maxDetailRows < 0) {
    throw new RangeError('maxDetailRows must be a whole number of 0 or more');
  }
  const found = await requireJob(deps.jobs, exportId);
  let job = found.value;
  let revision = found.revision;
  const checkpoint = job.checkpoint;
  if (job.format !== 'pdf') return { exportId, done: true };
  if (job.status !== 'running' || checkpoint === undefined || !checkpoint.done || checkpoint.summary === undefined) {
    throw new ConflictError(`Export ${exportId} is ${job.status} and its rows are not all written; its report cannot be rendered.`);
  }
  if (checkpoint.report?.done) return { exportId, done: true };
  if (checkpoint.report !== undefined) {
    // An earlier attempt died while rendering: its parts are worthless, start again.
    await deps.artifacts.abortUpload(checkpoint.report.artifactKey, checkpoint.report.uploadId).catch(() => undefined);
  }

  const artifactKey = artifactKeyOf(job);
  const uploadId = await deps.artifacts.startUpload(artifactKey, contentTypeOf('pdf'));
  const saveReport = async (report: ReportCheckpoint) => {
    const next: ExportCheckpoint = { ...checkpoint, report };
    job = { ...job, checkpoint: next };
    revision = await deps.jobs.saveJob(job, revision);
  };
  try {
    await saveReport({ artifactKey, uploadId, done: false });
  } catch (error) {
    await deps.artifacts.abortUpload(artifactKey, uploadId).catch(() => undefined);
    throw error;
  }

  const parts: UploadedPart[] = [];
  const sha = new ResumableSha256();
  let pending: Uint8Array[] = [];
  let pendingBytes = 0;
  const uploadPending = async () => {
    const body = Buffer.concat(pending, pendingBytes);
    pending = [];
    pendingBytes = 0;
    const partNumber = parts.length + 1;
    parts.push({ partNumber, etag: await deps.artifacts.uploadPart(artifactKey, uploadId, partNumber, body) });
  };

  const rowsDigest = new RecordsDigest();
  let rowsRead = 0;
  const records = tableRecords(deps, job, (json) => {
    rowsDigest.addLines(recordLineOfCanonical(json));
    rowsRead += 1;
  });
  const companionSha256 = ResumableSha256.fromState(checkpoint.digest).digestHex();
  const recordsDigest = new RecordsDigest(checkpoint.recordsDigest).hex();
  const result = await renderReport({
    exportId,
    ...(job.title === undefined ? {} : { title: job.title }),
    range: job.range,
    filters: job.filters,
    generatedAt: job.startedAt ?? job.createdAt,
    summary: checkpoint.summary,
    recordsDigest,
    companion: { name: companionFilenameOf(job), bytes: checkpoint.bytes, sha256: companionSha256 },
    pageSize: job.pageSize ?? DEFAULT_REPORT_PAGE_SIZE,
    maxDetailRows,
    events: records,
    fonts: options.fonts,
    write: async (chunk) => {
      sha.update(chunk);
      pending.push(chunk);
      pendingBytes += chunk.length;
      if (pendingBytes >= partBytes) await uploadPending();
    },
  });
  if (pendingBytes > 0) await uploadPending();

  if (result.rowsShown !== Math.min(checkpoint.records, maxDetailRows) || rowsRead !== result.rowsShown) {
    throw new IntegrityError(
      `The report of export ${exportId} drew ${rowsRead} rows; the export holds ${checkpoint.records} records. Create the export again.`,
    );
  }
  if (rowsRead === checkpoint.records && rowsDigest.hex() !== recordsDigest) {
    throw new IntegrityError(
      `The events of export ${exportId} changed while its report was drawn: the report's rows do not match its CSV. Create the export again.`,
    );
  }
  await saveReport({
    artifactKey,
    uploadId,
    done: true,
    parts,
    bytes: result.bytes,
    sha256: sha.digestHex(),
    pages: result.pages,
    rowsShown: result.rowsShown,
    missingCharacters: result.missingCharacters,
  });
  return { exportId, done: true };
}

/** The job's events as records, in export order, each digested (`seen`) as it is read. */
async function* tableRecords(
  deps: ExportWorkflowDeps,
  job: ExportJob,
  seen: (json: string) => void,
): AsyncGenerator<Readonly<Record<string, unknown>>> {
  for await (const event of deps.events.streamEvents(eventFilterOf(job))) {
    seen(event.json);
    yield JSON.parse(event.json) as Record<string, unknown>;
  }
}
