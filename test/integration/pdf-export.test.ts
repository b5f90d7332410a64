import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import {
  type Adapters,
  exportOperationDeps,
  useAdapters,
  workflowDeps,
} from '../../functions/adapters/composition-root.ts';
import { loadReportFonts } from '../../functions/adapters/fonts/report-fonts.ts';
import type { Principal } from '../../functions/core/auth/token-record.ts';
import type { DecisionEvent } from '../../functions/core/events/decision-event.ts';
import { generateDemoEvents } from '../../functions/core/events/demo-events.ts';
import type { ExportManifest } from '../../functions/core/evidence/manifest.ts';
import { verifyDocumentSignature } from '../../functions/core/evidence/signing.ts';
import type { ExportJob } from '../../functions/core/export/export-job.ts';
import { createExport } from '../../functions/core/export/operations/create-export.ts';
import { newExportJob } from '../../functions/core/export/export-job.ts';
import { parseExportRequest } from '../../functions/core/export/export-request.ts';
import { deleteExport } from '../../functions/core/export/operations/delete-export.ts';
import { exportPage as exportPageStep } from '../../functions/core/export/workflow/export-page.ts';
import { finalizeExport } from '../../functions/core/export/workflow/finalize-export.ts';
import { prepareExport } from '../../functions/core/export/workflow/prepare-export.ts';
import { renderExportReport } from '../../functions/core/export/workflow/render-export-report.ts';
import { handler as deliver } from '../../functions/handlers/workflow/deliver.ts';
import { handler as exportPage } from '../../functions/handlers/workflow/export-page.ts';
import { handler as finalize } from '../../functions/handlers/workflow/finalize.ts';
import { handler as markFailed } from '../../functions/handlers/workflow/mark-failed.ts';
import { handler as prepare } from '../../functions/handlers/workflow/prepare.ts';
import { handler as recordAudit } from '../../functions/handlers/workflow/record-audit.ts';
import { handler as renderReport } from '../../functions/handlers/workflow/render-report.ts';
import { LocalWorkflowRunner } from '../../infra/local/local-workflow.ts';
import { renderExportWorkflowDefinition } from '../../infra/local/workflow-definition.ts';
import { type ExportServers, startExportServers } from '../support/export-world.ts';
import { pdfPages } from '../support/pdf-tools.ts';
import { NO_RETRY_WAIT } from '../support/local-stack-config.ts';

/**
 * A PDF export through the synthesized state machine on the embedded DynamoDB and S3: ExportPage
 * writes the companion CSV, RenderReport draws the report, Finalize publishes both under one
 * signed manifest; the deployment's row cap; a failed render leaves neither file behind.
 */

const ADMIN: Principal = { tokenId: 'tok_test', name: 'test', scopes: ['admin'] };
const CREATED = new Date('2026-05-01T12:00:00.000Z');
const FROM = '2026-04-01T00:00:00Z';
const TO = '2026-04-10T23:59:59Z';

let servers: ExportServers;
let events: DecisionEvent[];
let dir: string;
let seq = 0;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'kt-pdf-export-'));
  servers = await startExportServers();
  const base = await servers.world('events');
  events = [
    ...generateDemoEvents({ count: 1_500, from: new Date('2026-03-30T00:00:00Z'), to: new Date('2026-04-12T00:00:00Z'), seed: 11 }),
  ].map((event, index) => (index % 5 === 0 ? { ...event, team: ['データ分析チーム', 'Équipe Sécurité', 'Команда'][index % 3]! } : event));
  expect((await base.eventStore.putEvents(events)).failed).toEqual([]);
}, 60_000);

afterAll(async () => {
  delete process.env.PDF_MAX_DETAIL_ROWS;
  await servers?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function runExport(world: Adapters, body: Record<string, unknown>): Promise<ExportJob> {
  const id = `exp_pdf${String(seq++).padStart(17, '0')}`;
  const runner = new LocalWorkflowRunner({
    definition: renderExportWorkflowDefinition(),
    handlers: { prepare, exportPage, renderReport, finalize, deliver, recordAudit, markFailed },
    retryIntervalOverrides: NO_RETRY_WAIT,
  });
  useAdapters(world);
  await createExport({ ...exportOperationDeps(world), workflow: runner, newId: () => id, now: () => CREATED }, body, ADMIN);
  await runner.idle();
  return (await world.jobStore.getJob(id))!.value;
}

async function object(world: Adapters, key: string): Promise<Buffer | undefined> {
  try {
    const output = await world.clients.s3.send(new GetObjectCommand({ Bucket: world.config.artifactBucket, Key: key }));
    return Buffer.from(await output.Body!.transformToByteArray());
  } catch (error) {
    if ((error as Error).name === 'NoSuchKey') return undefined;
    throw error;
  }
}

const sha256 = (bytes: Buffer | string) => createHash('sha256').update(bytes).digest('hex');
const inRange = (e: DecisionEvent) => Date.parse(e.timestamp) >= Date.parse(FROM) && Date.parse(e.timestamp) <= Date.parse(TO);
const flat = (text: string | undefined) => (text ?? '').replace(/\s+/g, ' ');

function pagesOf(name: string, bytes: Buffer): string[] {
  const file = path.join(dir, `${name}.pdf`);
  writeFileSync(file, bytes);
  return pdfPages(file);
}

describe('PDF exports', () => {
  test('publish the report and its companion CSV under one signed manifest, with the CSV export’s records digest', async () => {
    const world = await servers.world('pdf');
    const [publicKey] = await world.publicKeys.publicKeys();
    const expected = events.filter(inRange).length;
    const job = await runExport(world, { from: FROM, to: TO, format: 'pdf', title: 'Q2 evidence', pageSize: 'letter' });
    expect(job.status).toBe('completed');
    expect(job.records).toBe(expected);
    expect(job.artifactKey).toBe(`exports/${job.id}/${job.id}.pdf`);
    const pdf = (await object(world, job.artifactKey!))!;
    expect(pdf.subarray(0, 5).toString('latin1')).toBe('%PDF-');
    const csv = (await object(world, `exports/${job.id}/${job.id}.csv`))!;
    expect(csv.toString('utf8').trim().split('\n')).toHaveLength(expected + 1);
    expect(job).toMatchObject({ bytes: pdf.length, sha256: sha256(pdf) });
    expect(job.companion).toEqual({
      artifactKey: `exports/${job.id}/${job.id}.csv`,
      name: `${job.id}.csv`,
      bytes: csv.length,
      sha256: sha256(csv),
    });

    const manifest = JSON.parse((await object(world, job.manifestKey!))!.toString('utf8')) as ExportManifest;
    expect(job.manifestKey).toBe(`${job.artifactKey}.manifest.json`);
    expect(manifest).toMatchObject({
      format: 'pdf',
      title: 'Q2 evidence',
      records: expected,
      sourceCount: expected,
      artifact: { name: `${job.id}.pdf`, bytes: pdf.length, sha256: sha256(pdf) },
      companion: { name: `${job.id}.csv`, format: 'csv', bytes: csv.length, sha256: sha256(csv) },
    });
    expect(verifyDocumentSignature(manifest, publicKey!.publicKeyPem)).toBe(true);
    // The same query as CSV: the same records digest, and the same bytes as the companion.
    const csvJob = await runExport(world, { from: FROM, to: TO, format: 'csv' });
    expect(csvJob.recordsDigest).toBe(manifest.recordsDigest.sha256);
    expect(csvJob.sha256).toBe(sha256(csv));

    const pages = pagesOf('pdf', pdf);
    expect(pages[0]).toContain('Q2 evidence');
    expect(pages[0]).toContain(expected.toLocaleString('en-US'));
    expect(pages[0]).toContain(sha256(csv));
    expect(pages[0]).toContain(manifest.recordsDigest.sha256);
    for (const [index, page] of pages.entries()) expect(page).toContain(`Page ${index + 1} of ${pages.length}`);
    expect(flat(pages.at(-1))).toContain(`all ${expected.toLocaleString('en-US')} events are listed`);

    // Deleting the export removes both files.
    useAdapters(world);
    await deleteExport(exportOperationDeps(world), job.id, ADMIN);
    expect(await object(world, job.artifactKey!)).toBeUndefined();
    expect(await object(world, job.companion!.artifactKey)).toBeUndefined();
  });

  test('stop the table at PDF_MAX_DETAIL_ROWS and say so, while the CSV and the summaries keep every record', async () => {
    const world = await servers.world('capped');
    process.env.PDF_MAX_DETAIL_ROWS = '100';
    try {
      const expected = events.filter(inRange).length;
      const job = await runExport(world, { from: FROM, to: TO, format: 'pdf' });
      expect(job.status).toBe('completed');
      const pages = pagesOf('capped', (await object(world, job.artifactKey!))!);
      expect(flat(pages[0])).toContain(`100 of ${expected.toLocaleString('en-US')} events are listed in the event table`);
      expect(flat(pages.at(-1))).toContain(`The other ${(expected - 100).toLocaleString('en-US')} are in the companion CSV ${job.id}.csv`);
      expect(flat(pages[1])).toContain(`${expected.toLocaleString('en-US')} decision events`);
      const csv = (await object(world, job.companion!.artifactKey))!;
      expect(csv.toString('utf8').trim().split('\n')).toHaveLength(expected + 1);
    } finally {
      delete process.env.PDF_MAX_DETAIL_ROWS;
    }
  });

  test('a RenderReport retried after dying mid-render aborts that upload and draws the same bytes again', async () => {
    const world = await servers.world('retried');
    const deps = workflowDeps(world);
    const job = newExportJob(parseExportRequest({ from: FROM, to: TO, format: 'pdf' }, ADMIN), ADMIN, CREATED, 'exp_pdfretry00000000000');
    await world.jobStore.createJob(job);
    await prepareExport(deps, job.id);
    expect(await exportPageStep(deps, job.id, { timeLeftMs: () => 60_000 })).toEqual({ exportId: job.id, done: true, report: true });
    const fonts = await loadReportFonts();
    await renderExportReport(deps, job.id, { fonts });
    const first = (await world.jobStore.getJob(job.id))!;
    const drawn = first.value.checkpoint!.report!;
    expect(drawn).toMatchObject({ done: true, pages: expect.any(Number), rowsShown: events.filter(inRange).length });
    // As if the invocation had died after uploading its parts but before saving them.
    await world.jobStore.saveJob(
      { ...first.value, checkpoint: { ...first.value.checkpoint!, report: { artifactKey: drawn.artifactKey, uploadId: drawn.uploadId, done: false } } },
      first.revision,
    );
    await renderExportReport(deps, job.id, { fonts });
    const again = (await world.jobStore.getJob(job.id))!.value.checkpoint!.report!;
    expect(again.uploadId).not.toBe(drawn.uploadId);
    expect({ bytes: again.bytes, sha256: again.sha256, pages: again.pages }).toEqual({
      bytes: drawn.bytes,
      sha256: drawn.sha256,
      pages: drawn.pages,
    });
    await finalizeExport(deps, job.id);
    const done = (await world.jobStore.getJob(job.id))!.value;
    expect(done.status).toBe('completed');
    expect(sha256((await object(world, done.artifactKey!))!)).toBe(drawn.sha256);
  });

  test('a RenderReport that fails marks the job failed in that step and leaves neither file behind', async () => {
    const world = await servers.world('failing');
    process.env.PDF_MAX_DETAIL_ROWS = 'many';
    try {
      const job = await runExport(world, { from: FROM, to: TO, format: 'pdf' });
      expect(job.status).toBe('failed');
      expect(job.error).toMatchObject({ state: 'RenderReport', reason: expect.stringContaining('PDF_MAX_DETAIL_ROWS') });
      expect(await object(world, `exports/${job.id}/${job.id}.pdf`)).toBeUndefined();
      expect(await object(world, `exports/${job.id}/${job.id}.csv`)).toBeUndefined();
    } finally {
      delete process.env.PDF_MAX_DETAIL_ROWS;
    }
  });
});
