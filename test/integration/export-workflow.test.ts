import { createHash } from 'node:crypto';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import Papa from 'papaparse';
import {
  type Adapters,
  exportOperationDeps,
  useAdapters,
  workflowDeps,
} from '../../functions/adapters/composition-root.ts';
import type { Principal } from '../../functions/core/auth/token-record.ts';
import type { DecisionEvent } from '../../functions/core/events/decision-event.ts';
import { generateDemoEvents } from '../../functions/core/events/demo-events.ts';
import { artifactKeyOf } from '../../functions/core/export/export-artifact.ts';
import type { ExportJob } from '../../functions/core/export/export-job.ts';
import { createExport } from '../../functions/core/export/operations/create-export.ts';
import { exportPage } from '../../functions/core/export/workflow/export-page.ts';
import { finalizeExport } from '../../functions/core/export/workflow/finalize-export.ts';
import { prepareExport } from '../../functions/core/export/workflow/prepare-export.ts';
import type { ArtifactStore } from '../../functions/core/ports.ts';
import { handler as exportPageHandler } from '../../functions/handlers/workflow/export-page.ts';
import { handler as deliver } from '../../functions/handlers/workflow/deliver.ts';
import { handler as finalize } from '../../functions/handlers/workflow/finalize.ts';
import { handler as markFailed } from '../../functions/handlers/workflow/mark-failed.ts';
import { handler as prepare } from '../../functions/handlers/workflow/prepare.ts';
import { handler as recordAudit } from '../../functions/handlers/workflow/record-audit.ts';
import { handler as renderReport } from '../../functions/handlers/workflow/render-report.ts';
import { LocalWorkflowRunner } from '../../infra/local/local-workflow.ts';
import { resumeUnfinishedExports } from '../../infra/local/resume-exports.ts';
import { withPartUploadFault, withUploadPart } from '../../infra/local/part-upload-fault.ts';
import { renderExportWorkflowDefinition } from '../../infra/local/workflow-definition.ts';
import { type ExportServers, startExportServers } from '../support/export-world.ts';
import { NO_RETRY_WAIT } from '../support/local-stack-config.ts';

/**
 * The export workflow end to end on the real embedded DynamoDB and S3, run by the local runner
 * from the definition infra/ synthesizes. Events carry a ~1 KB note so the artifact spans
 * several 8 MiB parts and a failure can be injected between parts.
 */

const ADMIN: Principal = { tokenId: 'tok_test', name: 'test', scopes: ['admin'] };
const EXPORT_ID = 'exp_0123456789abcdefghjk';
const CREATED = new Date('2026-05-01T12:00:00.000Z');
const FROM = '2026-04-01T00:00:00Z';
const TO = '2026-04-23T23:59:59Z';
const EVENT_COUNT = 22_000;

let servers: ExportServers;
let events: DecisionEvent[];

beforeAll(async () => {
  servers = await startExportServers();
  const base = await servers.world('events');
  const note =
    'The prompt mentioned a customer record; the policy redacted the name, address and card number. '.repeat(
      10,
    );
  events = [
    ...generateDemoEvents({
      count: EVENT_COUNT,
      from: new Date('2026-03-30T00:00:00Z'),
      to: new Date('2026-04-25T00:00:00Z'),
      seed: 'export-workflow',
    }),
  ].map((event) => ({ ...event, note }));
  for (let i = 0; i < events.length; i += 2_000) {
    const result = await base.eventStore.putEvents(events.slice(i, i + 2_000));
    expect(result.failed).toEqual([]);
  }
}, 120_000);

afterAll(async () => servers?.close());

/** Counts every part upload, to prove where a run failed and how often it retried. */
function countingParts(store: ArtifactStore, counter: { parts: number }): ArtifactStore {
  return withUploadPart(store, (key, uploadId, partNumber, body) => {
    counter.parts += 1;
    return store.uploadPart(key, uploadId, partNumber, body);
  });
}

function newRunner(): LocalWorkflowRunner {
  return new LocalWorkflowRunner({
    definition: renderExportWorkflowDefinition(),
    handlers: {
      prepare,
      exportPage: exportPageHandler,
      renderReport,
      finalize,
      deliver,
      recordAudit,
      markFailed,
    },
    retryIntervalOverrides: NO_RETRY_WAIT,
  });
}

/** Creates the export through the API's operation and runs its workflow to the end. */
async function runExport(
  world: Adapters,
  body: Record<string, unknown>,
  runner = newRunner(),
): Promise<ExportJob> {
  useAdapters(world);
  await createExport(
    { ...exportOperationDeps(world), workflow: runner, newId: () => EXPORT_ID, now: () => CREATED },
    body,
    ADMIN,
  );
  await runner.idle();
  return (await world.jobStore.getJob(EXPORT_ID))!.value;
}

async function artifactBytes(world: Adapters, job: ExportJob): Promise<Buffer> {
  const output = await world.clients.s3.send(
    new GetObjectCommand({ Bucket: world.config.artifactBucket, Key: artifactKeyOf(job) }),
  );
  return Buffer.from(await output.Body!.transformToByteArray());
}

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

const inRange = (event: DecisionEvent, filters: { team?: string; policy?: string } = {}) =>
  Date.parse(event.timestamp) >= Date.parse(FROM) &&
  Date.parse(event.timestamp) <= Date.parse(TO) &&
  (filters.team === undefined || event.team === filters.team) &&
  (filters.policy === undefined || event.policy === filters.policy);

describe('export workflow', () => {
  let unbroken: Buffer;
  let unbrokenParts: number;

  test('an unbroken JSON export holds every event in range, once, in order, with its digest', async () => {
    const counter = { parts: 0 };
    const world = await servers.world('unbroken', {
      artifactStore: (store) => countingParts(store, counter),
    });
    const job = await runExport(world, { from: FROM, to: TO, format: 'json' });

    const expected = events.filter((event) => inRange(event));
    expect(job.status).toBe('completed');
    expect(job.records).toBe(expected.length);
    unbroken = await artifactBytes(world, job);
    unbrokenParts = counter.parts;
    expect(unbrokenParts).toBeGreaterThanOrEqual(3);
    expect(job.bytes).toBe(unbroken.length);
    expect(job.sha256).toBe(sha256(unbroken));

    const document = JSON.parse(unbroken.toString('utf8')) as {
      events: DecisionEvent[];
      export: { id: string };
    };
    expect(document.export.id).toBe(EXPORT_ID);
    expect(document.events.map((event) => event.id)).toEqual(
      [...expected]
        .sort((a, b) => Date.parse(a.timestamp) - Date.parse(b.timestamp) || (a.id < b.id ? -1 : 1))
        .map((event) => event.id),
    );
    expect(await world.artifactStore.openUploads('exports/')).toEqual([]);
    const audit = await world.auditLog.entries({ subject: EXPORT_ID });
    expect(audit.map((entry) => entry.action)).toEqual(['export.created', 'export.completed']);
  });

  test('an ExportPage that fails after a part is retried and resumes: the same bytes, nothing open', async () => {
    const counter = { parts: 0 };
    const world = await servers.world('interrupted', {
      artifactStore: (store) =>
        countingParts(withPartUploadFault(store, { afterParts: 1, times: 1 }), counter),
    });
    const job = await runExport(world, { from: FROM, to: TO, format: 'json' });

    expect(job.status).toBe('completed');
    // One refused upload of part 2, then parts 2.. again from the checkpoint after part 1.
    expect(counter.parts).toBe(unbrokenParts + 1);
    const bytes = await artifactBytes(world, job);
    expect(bytes.equals(unbroken)).toBe(true);
    expect(job.sha256).toBe(sha256(unbroken));
    expect(await world.artifactStore.openUploads('exports/')).toEqual([]);
  });

  test('a failure that outlasts the retries ends failed with its reason, the upload aborted', async () => {
    const world = await servers.world('failing', {
      artifactStore: (store) => withPartUploadFault(store, { afterParts: 1 }),
    });
    const job = await runExport(world, { from: FROM, to: TO, format: 'json' });

    expect(job.status).toBe('failed');
    expect(job.error?.state).toBe('ExportPage');
    expect(job.error?.reason).toMatch(/^DependencyError: Injected failure \(KT_FAULT_AFTER_PARTS=1\)/);
    expect(job.checkpoint).toBeUndefined();
    expect(await world.artifactStore.openUploads('exports/')).toEqual([]);
    expect(await world.artifactStore.artifactSize(artifactKeyOf(job))).toBeUndefined();
    const audit = await world.auditLog.entries({ subject: EXPORT_ID });
    expect(audit.map((entry) => entry.action)).toEqual(['export.created', 'export.failed']);
  });

  test('an export cut into one invocation per part writes the same bytes as one invocation', async () => {
    const world = await servers.world('budget');
    useAdapters(world);
    const deps = workflowDeps(world);
    const runner = { startExport: async () => undefined, stopExport: async () => undefined };
    await createExport(
      { ...exportOperationDeps(world), workflow: runner, newId: () => EXPORT_ID, now: () => CREATED },
      { from: FROM, to: TO, format: 'json' },
      ADMIN,
    );
    await prepareExport(deps, EXPORT_ID);
    let invocations = 0;
    let state: { readonly done?: boolean } = { done: false };
    while (state.done !== true) {
      invocations += 1;
      state = await exportPage(deps, EXPORT_ID, { timeLeftMs: () => 0 });
    }
    await finalizeExport(deps, EXPORT_ID);
    const job = (await world.jobStore.getJob(EXPORT_ID))!.value;
    expect(invocations).toBe(unbrokenParts);
    expect((await artifactBytes(world, job)).equals(unbroken)).toBe(true);
  });

  test('a filtered CSV export has exactly the matching rows and round-trips through a CSV parser', async () => {
    const world = await servers.world('csv');
    const filters = { team: 'engineering', policy: 'pii-redaction' };
    const job = await runExport(world, { from: FROM, to: TO, format: 'csv', filters });

    const expected = events.filter((event) => inRange(event, filters));
    expect(expected.length).toBeGreaterThan(100);
    expect(job.status).toBe('completed');
    expect(job.records).toBe(expected.length);
    const bytes = await artifactBytes(world, job);
    expect(job.sha256).toBe(sha256(bytes));
    const parsed = Papa.parse<string[]>(bytes.toString('utf8'), { skipEmptyLines: true });
    expect(parsed.errors).toEqual([]);
    expect(parsed.data[0]).toEqual([
      'id',
      'timestamp',
      'model',
      'policy',
      'action',
      'result',
      'tokens',
      'latency_ms',
    ]);
    expect(new Set(parsed.data.slice(1).map((row) => row[0]))).toEqual(
      new Set(expected.map((event) => event.id)),
    );
  });

  test('a local stack stopped mid-export resumes the job on its next start and writes the same bytes', async () => {
    const first = newRunner();
    let stopping: Promise<void> | undefined;
    const world = await servers.world('restarted', {
      artifactStore: (store) =>
        withUploadPart(store, async (key, uploadId, partNumber, body) => {
          const etag = await store.uploadPart(key, uploadId, partNumber, body);
          // Ctrl-C while the first part is being written.
          stopping ??= first.stop();
          return etag;
        }),
    });
    await runExport(world, { from: FROM, to: TO, format: 'json' }, first);
    await stopping;
    const stopped = (await world.jobStore.getJob(EXPORT_ID))!.value;
    expect(stopped.status).toBe('running');
    // Stopped with some parts stored (the one being read when the stop came is finished first).
    expect(stopped.checkpoint?.parts.length).toBeGreaterThanOrEqual(1);
    expect(stopped.checkpoint?.parts.length).toBeLessThan(unbrokenParts);

    const second = newRunner();
    expect(await resumeUnfinishedExports(world.jobStore, second)).toBe(1);
    await second.idle();
    const job = (await world.jobStore.getJob(EXPORT_ID))!.value;
    expect(job.status).toBe('completed');
    expect((await artifactBytes(world, job)).equals(unbroken)).toBe(true);
    expect(await world.artifactStore.openUploads('exports/')).toEqual([]);
  });
});
