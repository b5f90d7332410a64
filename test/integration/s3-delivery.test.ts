import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  type S3Client,
} from '@aws-sdk/client-s3';
import type { ExportJobView } from '../../functions/core/export/export-job.ts';
import type { ProblemDetails } from '../../functions/handlers/http/problem.ts';
import { LOCAL_RESOURCES, type LocalStack, startLocalStack } from '../../infra/local/local-stack.ts';
import { countItems } from '../support/count-items.ts';
import { NO_RETRY_WAIT, testStackConfig } from '../support/local-stack-config.ts';
import { callApi } from '../support/call-api.ts';

/**
 * Delivery to customer buckets over real HTTP through the local stack: the allow-list and prefix
 * refusals, the Deliver step copying the artifact and its manifest into a second s3rver bucket,
 * a delivery that fails (the bucket does not exist) while the export completes, and redelivery.
 */

const FROM = '2026-04-02T00:00:00Z';
const TO = '2026-04-08T23:59:59Z';
const DROP = 'customer-drop';
const MISSING = 'not-yet-created';

const EVENTS = Array.from({ length: 200 }, (_, n) => ({
  id: `evt_dl${String(n).padStart(5, '0')}`,
  timestamp: new Date(Date.UTC(2026, 3, 1) + n * 60 * 60_000).toISOString().replace('.000Z', 'Z'),
  model: 'gpt-4o-mini',
  policy: n % 2 === 0 ? 'pii-redaction' : 'cost-guard',
  action: 'redact',
  result: 'modified',
  tokens: 10 + n,
  latency_ms: 100,
  team: 'engineering',
}));

let stack: LocalStack;
let dataDir: string;
let s3: S3Client;

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(tmpdir(), 'kt-delivery-'));
  stack = await startLocalStack(
    testStackConfig(dataDir, { deliveryBuckets: ['compliance-artifacts', DROP, MISSING] }),
    { retryIntervalOverrides: NO_RETRY_WAIT },
  );
  s3 = stack.adapters.clients.s3;
  // The local stack creates every allowed bucket; this one must not exist until the test makes it.
  await s3.send(new DeleteBucketCommand({ Bucket: MISSING }));
  const response = await call('POST', '/v1/events', { events: EVENTS });
  expect(response.status).toBe(200);
}, 60_000);

afterAll(async () => {
  await stack?.workflow.idle();
  await stack?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

const call = (method: string, route: string, body?: unknown) => callApi(stack, method, route, { body });

async function bytesOf(bucket: string, key: string): Promise<Buffer> {
  const output = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from(await output.Body!.transformToByteArray());
}

async function keysIn(bucket: string): Promise<string[]> {
  const output = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
  return (output.Contents ?? []).map((object) => object.Key!).sort();
}

async function createAndFinish(delivery: Record<string, unknown>, format = 'json'): Promise<ExportJobView> {
  const response = await call('POST', '/v1/exports', { from: FROM, to: TO, format, delivery });
  expect(response.status).toBe(202);
  const created = (await response.json()) as ExportJobView;
  await stack.workflow.idle();
  return (await (await call('GET', `/v1/exports/${created.id}`)).json()) as ExportJobView;
}

async function auditActions(id: string): Promise<string[]> {
  const response = await call('GET', `/v1/audit?subject=${id}`);
  const body = (await response.json()) as { entries: { action: string }[] };
  return body.entries.map((entry) => entry.action);
}

const controlItems = () => countItems(stack.adapters.clients.dynamodb, LOCAL_RESOURCES.controlTable);

describe('refused at create time, with nothing written', () => {
  it('a bucket off the allow-list → 400 saying how to allow it', async () => {
    const before = await controlItems();
    const response = await call('POST', '/v1/exports', {
      from: FROM,
      to: TO,
      format: 'json',
      delivery: { s3Bucket: 'someone-elses-bucket', s3Prefix: 'x/' },
    });
    expect(response.status).toBe(400);
    const problem = (await response.json()) as ProblemDetails;
    expect(problem.detail).toBe(
      's3Bucket "someone-elses-bucket" is not an allowed delivery bucket; add it to the deployment\'s ' +
        'deliveryBuckets (locally: KT_DELIVERY_BUCKETS=someone-elses-bucket).',
    );
    expect(problem.errors).toEqual([
      { field: 'delivery.s3Bucket', rule: expect.stringContaining('KT_DELIVERY_BUCKETS=') },
    ]);
    expect(await controlItems()).toBe(before);
  });

  it.each([
    ['a/../b/', 'must not contain a .. segment'],
    ['/abs/', 'must not start with /'],
    ['a//b/', 'must not contain //'],
    ['a\tb/', 'must not contain control characters'],
    ['no-slash', 'must be empty or end with /'],
  ])('the prefix %j → 400 naming it and the rule', async (prefix, rule) => {
    const before = await controlItems();
    const response = await call('POST', '/v1/exports', {
      from: FROM,
      to: TO,
      format: 'json',
      delivery: { s3Bucket: DROP, s3Prefix: prefix },
    });
    expect(response.status).toBe(400);
    const problem = (await response.json()) as ProblemDetails;
    expect(problem.detail).toBe(`s3Prefix ${JSON.stringify(prefix)} ${rule}.`);
    expect(await controlItems()).toBe(before);
  });
});

describe('delivery to an allow-listed bucket', () => {
  it('copies the artifact and its manifest byte for byte under the prefix, and records the URIs', async () => {
    const job = await createAndFinish({
      s3Bucket: DROP,
      s3Prefix: 'keeptrusts/2026/q2/',
      s3Region: 'us-east-1',
    });
    expect(job.status).toBe('completed');
    const key = `keeptrusts/2026/q2/${job.id}.json`;
    expect(job.delivery).toMatchObject({
      location: `s3://${DROP}/keeptrusts/2026/q2/`,
      status: 'delivered',
      objectUri: `s3://${DROP}/${key}`,
      manifestUri: `s3://${DROP}/${key}.manifest.json`,
      attempts: 1,
    });
    expect(await keysIn(DROP)).toEqual(expect.arrayContaining([key, `${key}.manifest.json`]));
    const internal = `exports/${job.id}/${job.id}.json`;
    expect((await bytesOf(DROP, key)).equals(await bytesOf(LOCAL_RESOURCES.artifactBucket, internal))).toBe(
      true,
    );
    expect(
      (await bytesOf(DROP, `${key}.manifest.json`)).equals(
        await bytesOf(LOCAL_RESOURCES.artifactBucket, `${internal}.manifest.json`),
      ),
    ).toBe(true);
    const actions = await auditActions(job.id);
    expect(actions).toEqual(['export.created', 'export.delivered', 'export.completed']);
    // A delivered export is not delivered again.
    const again = await call('POST', `/v1/exports/${job.id}/redeliver`);
    expect(again.status).toBe(409);
  });
});

describe('delivery of a PDF export', () => {
  it('copies the report, its companion CSV and the manifest that lists both', async () => {
    const job = await createAndFinish({ s3Bucket: DROP, s3Prefix: 'pdf/' }, 'pdf');
    expect(job.status).toBe('completed');
    expect(job.delivery).toMatchObject({ status: 'delivered', objectUri: `s3://${DROP}/pdf/${job.id}.pdf` });
    const keys = [`pdf/${job.id}.pdf`, `pdf/${job.id}.csv`, `pdf/${job.id}.pdf.manifest.json`];
    expect(await keysIn(DROP)).toEqual(expect.arrayContaining(keys));
    for (const [delivered, internal] of [
      [keys[0]!, `exports/${job.id}/${job.id}.pdf`],
      [keys[1]!, `exports/${job.id}/${job.id}.csv`],
    ] as const) {
      expect((await bytesOf(DROP, delivered)).equals(await bytesOf(LOCAL_RESOURCES.artifactBucket, internal))).toBe(true);
    }
  });
});

describe('a delivery that fails', () => {
  it('is recorded as failed with the reason while the export completes; redeliver then succeeds', async () => {
    const job = await createAndFinish({ s3Bucket: MISSING, s3Prefix: 'kt/' }, 'csv');
    expect(job.status).toBe('completed');
    expect(job.error).toBeUndefined();
    expect(job.delivery).toMatchObject({ status: 'failed', attempts: 1 });
    expect(job.delivery!.error).toMatch(/NoSuchBucket/);
    expect(job.delivery!.error).toContain(`s3://${MISSING}/kt/${job.id}.csv`);
    // The internal artifact is kept: it still downloads.
    expect((await call('GET', `/v1/exports/${job.id}/download`)).status).toBe(200);
    expect(await auditActions(job.id)).toContain('export.delivery_failed');

    await s3.send(new CreateBucketCommand({ Bucket: MISSING }));
    const response = await call('POST', `/v1/exports/${job.id}/redeliver`);
    expect(response.status).toBe(202);
    expect(((await response.json()) as ExportJobView).delivery).toMatchObject({ status: 'pending' });
    await stack.workflow.idle();
    const after = (await (await call('GET', `/v1/exports/${job.id}`)).json()) as ExportJobView;
    expect(after.status).toBe('completed');
    expect(after.delivery).toMatchObject({
      status: 'delivered',
      objectUri: `s3://${MISSING}/kt/${job.id}.csv`,
      attempts: 2,
    });
    expect(after.delivery!.error).toBeUndefined();
    const internal = `exports/${job.id}/${job.id}.csv`;
    expect(
      (await bytesOf(MISSING, `kt/${job.id}.csv`)).equals(
        await bytesOf(LOCAL_RESOURCES.artifactBucket, internal),
      ),
    ).toBe(true);
    const actions = await auditActions(job.id);
    expect(actions.filter((action) => action.startsWith('export.deliver'))).toEqual([
      'export.delivery_failed',
      'export.delivered',
    ]);
    expect(actions.filter((action) => action === 'export.completed')).toHaveLength(1);
  });

  it('redeliver of an export without a delivery → 409', async () => {
    const response = await call('POST', '/v1/exports', { from: FROM, to: TO, format: 'json' });
    const { id } = (await response.json()) as ExportJobView;
    await stack.workflow.idle();
    const refused = await call('POST', `/v1/exports/${id}/redeliver`);
    expect(refused.status).toBe(409);
    expect(((await refused.json()) as ProblemDetails).detail).toMatch(/has no delivery/);
  });
});
