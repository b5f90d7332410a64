import { createHash } from 'node:crypto';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import {
  type Adapters,
  exportOperationDeps,
  useAdapters,
} from '../../functions/adapters/composition-root.ts';
import type { Principal } from '../../functions/core/auth/token-record.ts';
import type { DecisionEvent } from '../../functions/core/events/decision-event.ts';
import { generateDemoEvents } from '../../functions/core/events/demo-events.ts';
import type { ExportManifest } from '../../functions/core/evidence/manifest.ts';
import { verifyDocumentSignature } from '../../functions/core/evidence/signing.ts';
import type { ExportJob } from '../../functions/core/export/export-job.ts';
import { createExport } from '../../functions/core/export/operations/create-export.ts';
import type { EventStore } from '../../functions/core/ports.ts';
import { handler as exportPage } from '../../functions/handlers/workflow/export-page.ts';
import { handler as deliver } from '../../functions/handlers/workflow/deliver.ts';
import { handler as finalize } from '../../functions/handlers/workflow/finalize.ts';
import { handler as markFailed } from '../../functions/handlers/workflow/mark-failed.ts';
import { handler as prepare } from '../../functions/handlers/workflow/prepare.ts';
import { handler as recordAudit } from '../../functions/handlers/workflow/record-audit.ts';
import { handler as renderReport } from '../../functions/handlers/workflow/render-report.ts';
import { LocalWorkflowRunner } from '../../infra/local/local-workflow.ts';
import { renderExportWorkflowDefinition } from '../../infra/local/workflow-definition.ts';
import { type ExportServers, startExportServers } from '../support/export-world.ts';
import { NO_RETRY_WAIT } from '../support/local-stack-config.ts';

/**
 * The evidence an export leaves behind, through the synthesized state machine on the embedded
 * DynamoDB and S3: a signed manifest beside the artifact, a records digest JSON and CSV share, a
 * completeness count that fails an export missing a page, and an empty range proved empty.
 */

const ADMIN: Principal = { tokenId: 'tok_test', name: 'test', scopes: ['admin'] };
const CREATED = new Date('2026-05-01T12:00:00.000Z');
const FROM = '2026-04-01T00:00:00Z';
const TO = '2026-04-10T23:59:59Z';

let servers: ExportServers;
let events: DecisionEvent[];
let seq = 0;

beforeAll(async () => {
  servers = await startExportServers();
  const base = await servers.world('events');
  events = [
    ...generateDemoEvents({
      count: 3_000,
      from: new Date('2026-03-30T00:00:00Z'),
      to: new Date('2026-04-12T00:00:00Z'),
      seed: 9,
    }),
  ];
  const result = await base.eventStore.putEvents(events);
  expect(result.failed).toEqual([]);
}, 60_000);

afterAll(async () => servers?.close());

async function runExport(world: Adapters, body: Record<string, unknown>): Promise<ExportJob> {
  const id = `exp_${String(seq++).padStart(20, '0')}`;
  const runner = new LocalWorkflowRunner({
    definition: renderExportWorkflowDefinition(),
    handlers: { prepare, exportPage, renderReport, finalize, deliver, recordAudit, markFailed },
    retryIntervalOverrides: NO_RETRY_WAIT,
  });
  useAdapters(world);
  await createExport(
    { ...exportOperationDeps(world), workflow: runner, newId: () => id, now: () => CREATED },
    body,
    ADMIN,
  );
  await runner.idle();
  return (await world.jobStore.getJob(id))!.value;
}

async function object(world: Adapters, key: string): Promise<Buffer | undefined> {
  try {
    const output = await world.clients.s3.send(
      new GetObjectCommand({ Bucket: world.config.artifactBucket, Key: key }),
    );
    return Buffer.from(await output.Body!.transformToByteArray());
  } catch (error) {
    if ((error as Error).name === 'NoSuchKey') return undefined;
    throw error;
  }
}

const sha256 = (bytes: Buffer | string) => createHash('sha256').update(bytes).digest('hex');

/** The records digest as the auditor's document defines it, computed here from the events alone. */
function expectedRecordsDigest(records: readonly DecisionEvent[]): string {
  const fields = ['id', 'timestamp', 'model', 'policy', 'action', 'result', 'tokens', 'latency_ms'] as const;
  return sha256(records.map((e) => `${JSON.stringify(fields.map((f) => e[f]))}\n`).join(''));
}

const inRange = (e: DecisionEvent) =>
  Date.parse(e.timestamp) >= Date.parse(FROM) && Date.parse(e.timestamp) <= Date.parse(TO);
const inOrder = (list: DecisionEvent[]) =>
  [...list].sort((a, b) => Date.parse(a.timestamp) - Date.parse(b.timestamp) || (a.id < b.id ? -1 : 1));

describe('export evidence', () => {
  test('JSON and CSV exports of one query carry signed manifests with the same records digest', async () => {
    const world = await servers.world('signed');
    const [publicKey] = await world.publicKeys.publicKeys();
    const expected = inOrder(events.filter(inRange));
    const manifests: ExportManifest[] = [];
    for (const format of ['json', 'csv']) {
      const job = await runExport(world, { from: FROM, to: TO, format });
      expect(job.status).toBe('completed');
      expect(job.records).toBe(expected.length);
      const artifact = (await object(world, job.artifactKey!))!;
      const manifestBytes = await object(world, `${job.artifactKey}.manifest.json`);
      expect(job.manifestKey).toBe(`${job.artifactKey}.manifest.json`);
      const manifest = JSON.parse(manifestBytes!.toString('utf8')) as ExportManifest;
      expect(manifest).toMatchObject({
        schema: 'keeptrusts.export-manifest/1',
        exportId: job.id,
        range: { from: FROM, to: TO },
        filters: {},
        format,
        records: expected.length,
        sourceCount: expected.length,
        artifact: { name: `${job.id}.${format}`, bytes: artifact.length, sha256: sha256(artifact) },
        recordsDigest: { algorithm: 'sha256-records-v1', sha256: expectedRecordsDigest(expected) },
        keyId: publicKey!.keyId,
        algorithm: 'ECDSA_P256_SHA256',
      });
      expect(job.recordsDigest).toBe(manifest.recordsDigest.sha256);
      expect(verifyDocumentSignature(manifest, publicKey!.publicKeyPem)).toBe(true);
      // Any edit breaks the signature.
      expect(
        verifyDocumentSignature({ ...manifest, records: manifest.records - 1 }, publicKey!.publicKeyPem),
      ).toBe(false);
      // The manifest anchors the audit trail: its head is an entry that exists, with that hash.
      const [anchor] = await world.auditLog.entries({ afterSeq: manifest.auditHead.seq - 1, limit: 1 });
      expect(anchor?.hash).toBe(manifest.auditHead.hash);
      manifests.push(manifest);
    }
    expect(manifests[0]!.recordsDigest).toEqual(manifests[1]!.recordsDigest);
    expect(manifests[0]!.artifact.sha256).not.toBe(manifests[1]!.artifact.sha256);
  });

  test('an empty range completes with zero records and a signed manifest that says so', async () => {
    const world = await servers.world('empty');
    const [publicKey] = await world.publicKeys.publicKeys();
    const job = await runExport(world, {
      from: '2027-01-01T00:00:00Z',
      to: '2027-01-02T00:00:00Z',
      format: 'csv',
    });
    expect(job.status).toBe('completed');
    expect(job.records).toBe(0);
    const manifest = JSON.parse((await object(world, job.manifestKey!))!.toString('utf8')) as ExportManifest;
    expect(manifest).toMatchObject({ records: 0, sourceCount: 0, recordsDigest: { sha256: sha256('') } });
    expect(verifyDocumentSignature(manifest, publicKey!.publicKeyPem)).toBe(true);
  });

  test('an ExportPage that skips a page fails the job on the completeness check, leaving no artifact', async () => {
    const world = await servers.world('skipping');
    const skipping: EventStore = {
      ...world.eventStore,
      claimEventIds: (records) => world.eventStore.claimEventIds(records),
      putEvents: (list) => world.eventStore.putEvents(list),
      countEvents: (filter) => world.eventStore.countEvents(filter),
      queryEvents: (filter, options) => world.eventStore.queryEvents(filter, options),
      async *streamEvents(filter, options) {
        let n = 0;
        for await (const event of world.eventStore.streamEvents(filter, options)) {
          // A page of 100 events lost somewhere in the middle, as a buggy pager would lose it.
          if (n < 500 || n >= 600) yield event;
          n++;
        }
      },
    };
    const expected = events.filter(inRange).length;
    const job = await runExport({ ...world, eventStore: skipping }, { from: FROM, to: TO, format: 'json' });
    expect(job.status).toBe('failed');
    expect(job.error).toEqual({
      state: 'Finalize',
      reason: expect.stringContaining(
        `Completeness check failed: the store holds ${expected} matching events but the export wrote ${expected - 100}`,
      ),
    });
    expect(await object(world, `exports/${job.id}/${job.id}.json`)).toBeUndefined();
    expect(await object(world, `exports/${job.id}/${job.id}.json.manifest.json`)).toBeUndefined();
    expect(await world.artifactStore.openUploads(`exports/${job.id}/`)).toEqual([]);
    const audit = await world.auditLog.entries({ subject: job.id });
    expect(audit.map((entry) => entry.action)).toEqual(['export.created', 'export.failed']);
  });
});
