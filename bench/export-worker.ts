import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { type Adapters, createAdapters, workflowDeps } from '../functions/adapters/composition-root.ts';
import { dayPartitions } from '../functions/adapters/dynamodb/event-keys.ts';
import { LocalEvidenceSigner } from '../functions/adapters/local/local-signer.ts';
import type { Principal } from '../functions/core/auth/token-record.ts';
import { daysInRange, sortableInstant } from '../functions/core/events/time-range.ts';
import type { TimeRange } from '../functions/core/events/time-range.ts';
import { newExportId } from '../functions/core/export/export-id.ts';
import { newExportJob } from '../functions/core/export/export-job.ts';
import type { ExportFormat } from '../functions/core/export/export-metadata.ts';
import { parseExportRequest } from '../functions/core/export/export-request.ts';
import { exportPage } from '../functions/core/export/workflow/export-page.ts';
import { finalizeExport } from '../functions/core/export/workflow/finalize-export.ts';
import { prepareExport } from '../functions/core/export/workflow/prepare-export.ts';
import { renderExportReport } from '../functions/core/export/workflow/render-export-report.ts';
import { loadReportFonts } from '../functions/adapters/fonts/report-fonts.ts';
import type { ExportWorkflowDeps } from '../functions/core/export/workflow/workflow-deps.ts';

/**
 * One measurement of `npm run bench -- export`, in a fresh process so that its peak RSS is its
 * own: `tsx bench/export-worker.ts '<WorkerTask JSON>'`. Prints one JSON line (WorkerReport).
 * The time is taken inside this process, from the first request of the measured work to its
 * last answer: process start-up and module loading are excluded for both paths alike.
 */
export interface WorkerTask {
  readonly mode: 'read' | 'export';
  readonly endpoints: { readonly dynamodb: string; readonly s3: string };
  readonly eventsTable: string;
  readonly controlTable: string;
  readonly bucket: string;
  readonly range: TimeRange;
  /** export only */
  readonly format?: ExportFormat;
  /** read only: Limit of every Query. */
  readonly pageSize?: number;
  /** Time where the export spends it (reading, uploading, checkpoints); adds a little overhead. */
  readonly spans?: boolean;
}

export interface WorkerReport {
  readonly mode: 'read' | 'export';
  readonly format?: ExportFormat;
  /** Items the bare read counted, or records the export wrote. */
  readonly items: number;
  readonly ms: number;
  /** Peak RSS of this process, KiB (process.resourceUsage().maxRSS). */
  readonly maxRssKiB: number;
  /** Read only: Query calls made. */
  readonly queries?: number;
  /** Export only. */
  readonly bytes?: number;
  readonly parts?: number;
  readonly pageCalls?: number;
  /** PDF only: the report's pages and bytes, and the RenderReport step's own time. */
  readonly pages?: number;
  readonly reportBytes?: number;
  readonly renderMs?: number;
  readonly spans?: Readonly<Record<string, number>>;
}

const PRINCIPAL: Principal = { tokenId: 'tok_bench', name: 'bench', scopes: ['admin'] };
// As the ExportPage Lambda handler sees it: a 15-minute function minus its reserve.
const PAGE_BUDGET_MS = 15 * 60_000 - Math.max(60_000, 15 * 60_000 * 0.2);
// As in event-store.ts: BETWEEN's upper bound covers every id at the `to` instant.
const AFTER_LAST_ID = '#\uffff';

async function main(): Promise<void> {
  const task = JSON.parse(process.argv[2] ?? '') as WorkerTask;
  const keys = mkdtempSync(path.join(tmpdir(), 'kt-bench-keys-'));
  const signer = await LocalEvidenceSigner.open({
    privateKeyFile: path.join(keys, 'signing-key.pem'),
    publicKeysDir: path.join(keys, 'keys'),
  });
  const adapters = createAdapters(
    {
      region: 'us-east-1',
      eventsTable: task.eventsTable,
      controlTable: task.controlTable,
      artifactBucket: task.bucket,
      endpoints: task.endpoints,
    },
    { workflow: { startExport: async () => {}, stopExport: async () => {} }, signing: { signer, publicKeys: signer } },
  );
  try {
    const report = task.mode === 'read' ? await bareRead(adapters, task) : await runExport(adapters, task);
    process.stdout.write(`${JSON.stringify(report)}\n`);
  } finally {
    adapters.clients.dynamodb.destroy();
    adapters.clients.s3.destroy();
    rmSync(keys, { recursive: true, force: true });
  }
}

/**
 * The same items the event store streams for the range: the same day partitions (all shards of
 * every day in range), the same sk BETWEEN bounds and projection, paged one Query at a time with
 * the same document client, counting the items and nothing more.
 */
async function bareRead(adapters: Adapters, task: WorkerTask): Promise<WorkerReport> {
  const pageSize = task.pageSize ?? 1000;
  const lower = sortableInstant(task.range.from);
  const upper = sortableInstant(task.range.to) + AFTER_LAST_ID;
  const documents = adapters.clients.documents;
  let items = 0;
  let queries = 0;
  const started = performance.now();
  for (const day of daysInRange(task.range)) {
    const { partitionKeyName, partitionKeys } = dayPartitions({}, day);
    for (const partitionKey of partitionKeys) {
      let startKey: Record<string, unknown> | undefined;
      do {
        const output = await documents.send(
          new QueryCommand({
            TableName: task.eventsTable,
            KeyConditionExpression: '#pk = :pk AND #sk BETWEEN :lower AND :upper',
            ProjectionExpression: '#sk, #e',
            ExpressionAttributeNames: { '#pk': partitionKeyName, '#sk': 'sk', '#e': 'e' },
            ExpressionAttributeValues: { ':pk': partitionKey, ':lower': lower, ':upper': upper },
            Limit: pageSize,
            ...(startKey === undefined ? {} : { ExclusiveStartKey: startKey }),
          }),
        );
        queries += 1;
        items += output.Items?.length ?? 0;
        startKey = output.LastEvaluatedKey;
      } while (startKey !== undefined);
    }
  }
  const ms = performance.now() - started;
  return { mode: 'read', items, ms, maxRssKiB: process.resourceUsage().maxRSS, queries };
}

/** Creates the job (not timed), then times Prepare → ExportPage… → Finalize as the workflow runs them. */
async function runExport(adapters: Adapters, task: WorkerTask): Promise<WorkerReport> {
  const format = task.format ?? 'csv';
  const request = parseExportRequest({ from: task.range.from, to: task.range.to, format }, PRINCIPAL);
  const job = newExportJob(request, PRINCIPAL, new Date(), newExportId());
  await adapters.jobStore.createJob(job);
  // Calls to the ports are counted always; the per-event read timing only when asked for.
  const spans = new Spans();
  const deps = spans.wrap(workflowDeps(adapters), task.spans === true);

  const started = performance.now();
  await prepareExport(deps, job.id);
  let pageCalls = 0;
  for (;;) {
    const deadline = performance.now() + PAGE_BUDGET_MS;
    pageCalls += 1;
    const state = await exportPage(deps, job.id, { timeLeftMs: () => deadline - performance.now() });
    if (state.done) break;
  }
  // A PDF job: RenderReport, as its Lambda runs it (fonts loaded once per warm function, not timed).
  let report: { pages?: number; bytes?: number; ms: number } | undefined;
  if (format === 'pdf') {
    const fonts = await loadReportFonts();
    const renderStarted = performance.now();
    await renderExportReport(deps, job.id, { fonts });
    const rendered = (await adapters.jobStore.getJob(job.id))?.value.checkpoint?.report;
    report = {
      ...(rendered?.pages === undefined ? {} : { pages: rendered.pages }),
      ...(rendered?.bytes === undefined ? {} : { bytes: rendered.bytes }),
      ms: performance.now() - renderStarted,
    };
  }
  await finalizeExport(deps, job.id);
  const ms = performance.now() - started;

  const done = await adapters.jobStore.getJob(job.id);
  if (done === undefined || done.value.status !== 'completed') {
    throw new Error(`export ${job.id} ended ${done?.value.status ?? 'missing'}, not completed`);
  }
  const maxRssKiB = process.resourceUsage().maxRSS;
  // The artifact has served its purpose; 1,000,000 events would otherwise fill the disk round by round.
  if (done.value.artifactKey !== undefined) await adapters.artifactStore.deleteArtifact(done.value.artifactKey);
  return {
    mode: 'export',
    format,
    items: done.value.records,
    ms,
    maxRssKiB,
    bytes: done.value.bytes ?? 0,
    parts: spans.count('uploadPart'),
    pageCalls,
    ...(report === undefined
      ? {}
      : { pages: report.pages ?? 0, reportBytes: report.bytes ?? 0, renderMs: report.ms }),
    ...(task.spans ? { spans: { ...spans.totals(), total: ms } } : {}),
  };
}

/**
 * Where an export's time goes, measured at the ports: awaiting the next event from the store
 * (DynamoDB requests, unmarshalling and the shard merge), uploading parts, saving checkpoints.
 * What is left of the total is the export's own work (encoding, joining, UTF-8, SHA-256).
 */
class Spans {
  private readonly ms = new Map<string, number>();
  private readonly calls = new Map<string, number>();

  add(name: string, ms: number): void {
    this.ms.set(name, (this.ms.get(name) ?? 0) + ms);
    this.calls.set(name, (this.calls.get(name) ?? 0) + 1);
  }

  count(name: string): number {
    return this.calls.get(name) ?? 0;
  }

  totals(): Record<string, number> {
    return Object.fromEntries(this.ms);
  }

  private timed<A extends unknown[], R>(name: string, fn: (...args: A) => Promise<R>) {
    return async (...args: A): Promise<R> => {
      const t = performance.now();
      try {
        return await fn(...args);
      } finally {
        this.add(name, performance.now() - t);
      }
    };
  }

  wrap(deps: ExportWorkflowDeps, perEvent: boolean): ExportWorkflowDeps {
    const { events, artifacts, jobs } = deps;
    const spans = this;
    return {
      ...deps,
      events: !perEvent ? events : {
        claimEventIds: events.claimEventIds.bind(events),
        putEvents: events.putEvents.bind(events),
        countEvents: this.timed('countEvents', events.countEvents.bind(events)),
        queryEvents: events.queryEvents.bind(events),
        streamEvents(filter, options) {
          const inner = events.streamEvents(filter, options);
          return {
            [Symbol.asyncIterator]() {
              const iterator = inner[Symbol.asyncIterator]();
              return {
                async next() {
                  const t = performance.now();
                  const result = await iterator.next();
                  spans.add('readEvents', performance.now() - t);
                  return result;
                },
                return: async () => (await iterator.return?.()) ?? { done: true, value: undefined },
              };
            },
          };
        },
      },
      artifacts: {
        startUpload: this.timed('startUpload', artifacts.startUpload.bind(artifacts)),
        uploadPart: this.timed('uploadPart', artifacts.uploadPart.bind(artifacts)),
        completeUpload: this.timed('completeUpload', artifacts.completeUpload.bind(artifacts)),
        abortUpload: artifacts.abortUpload.bind(artifacts),
        artifactSize: this.timed('artifactSize', artifacts.artifactSize.bind(artifacts)),
        downloadUrl: artifacts.downloadUrl.bind(artifacts),
        deleteArtifact: artifacts.deleteArtifact.bind(artifacts),
        openUploads: artifacts.openUploads.bind(artifacts),
        putDocument: this.timed('putDocument', artifacts.putDocument.bind(artifacts)),
        getDocument: artifacts.getDocument.bind(artifacts),
      },
      jobs: {
        createJob: jobs.createJob.bind(jobs),
        getJob: this.timed('getJob', jobs.getJob.bind(jobs)),
        saveJob: this.timed('saveJob', jobs.saveJob.bind(jobs)),
        listJobs: jobs.listJobs.bind(jobs),
        claimIdempotencyKey: jobs.claimIdempotencyKey.bind(jobs),
        findIdempotencyKey: jobs.findIdempotencyKey.bind(jobs),
      },
    };
  }
}

main().catch((error: unknown) => {
  console.error(`bench export worker: ${(error as Error).stack ?? String(error)}`);
  process.exit(1);
});
