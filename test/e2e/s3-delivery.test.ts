import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CreateBucketCommand, DeleteBucketCommand, GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { ktFor, type runKt, type StartedStack, startFreshStack } from '../support/processes.ts';

/**
 * Tutorial Step 8 (../shared/reference/export-tutorial.txt) with `npm start` and the real `kt`
 * binary: the printed block, the delivered object under the prefix in the local S3 with the bytes
 * `kt export download` writes, and a delivery that fails (its bucket does not exist yet) then
 * succeeds with `kt export redeliver`.
 */

const SAMPLE = 'events/sample-decision-events.jsonl';
const EXPORT_ID = /^exp_[0-9a-z]{20}$/;
const LATE = 'late-bucket';

describe('tutorial Step 8: deliver exports to S3', () => {
  let root: string;
  let stack: StartedStack;
  let s3: S3Client;
  let kt: (args: readonly string[]) => ReturnType<typeof runKt>;

  beforeAll(async () => {
    root = mkdtempSync(path.join(tmpdir(), 'kt-delivery-e2e-'));
    stack = await startFreshStack(root, { KT_DELIVERY_BUCKETS: LATE });
    s3 = new S3Client({
      region: 'us-east-1',
      endpoint: `http://127.0.0.1:${stack.env.KT_S3_PORT}`,
      forcePathStyle: true,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
    kt = ktFor(stack);
    expect((await kt(['events', 'import', '--file', SAMPLE])).code).toBe(0);
  }, 180_000);

  afterAll(async () => {
    s3?.destroy();
    await stack?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  async function objectBytes(bucket: string, key: string): Promise<Buffer> {
    const output = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return Buffer.from(await output.Body!.transformToByteArray());
  }

  /** Polls -o json until the delivery has an outcome. */
  async function deliveryOutcome(
    id: string,
  ): Promise<{ status: string; objectUri?: string; error?: string }> {
    for (let attempt = 0; attempt < 240; attempt++) {
      const job = JSON.parse((await kt(['export', 'status', '--id', id, '-o', 'json'])).stdout) as {
        status: string;
        delivery: { status: string; objectUri?: string; error?: string };
      };
      if (job.status === 'failed') throw new Error(`export ${id} failed`);
      if (job.status === 'completed' && job.delivery.status !== 'pending') return job.delivery;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    throw new Error(`the delivery of ${id} did not finish`);
  }

  test('prints the Step 8 block, delivers under the prefix, and the bytes match kt export download', async () => {
    const created = await kt([
      'export',
      'create',
      '--from',
      '2026-04-01T00:00:00Z',
      '--to',
      '2026-04-23T23:59:59Z',
      '--format',
      'json',
      '--s3-bucket',
      'compliance-artifacts',
      '--s3-prefix',
      'keeptrusts/2026/q2/',
      '--s3-region',
      'us-east-1',
    ]);
    expect(created.stderr).toBe('');
    expect(created.code).toBe(0);
    const lines = created.stdout.trimEnd().split('\n');
    const id = lines[1]?.replace('Job ID: ', '') ?? '';
    expect(id).toMatch(EXPORT_ID);
    expect(lines).toEqual([
      '✓ Export job created',
      `Job ID: ${id}`,
      'Format: json',
      'Delivery: s3://compliance-artifacts/keeptrusts/2026/q2/',
      'Status: queued',
    ]);

    const key = `keeptrusts/2026/q2/${id}.json`;
    expect(await deliveryOutcome(id)).toMatchObject({
      status: 'delivered',
      objectUri: `s3://compliance-artifacts/${key}`,
    });
    const status = await kt(['export', 'status', '--id', id]);
    expect(status.stdout.split('\n')).toContain(`Delivery: s3://compliance-artifacts/${key} (delivered)`);

    const file = path.join(root, 'downloaded.json');
    const downloaded = await kt(['export', 'download', '--id', id, '--output', file]);
    expect(downloaded.code).toBe(0);
    const delivered = await objectBytes('compliance-artifacts', key);
    expect(delivered.equals(readFileSync(file))).toBe(true);
    expect(
      (await objectBytes('compliance-artifacts', `${key}.manifest.json`)).equals(
        readFileSync(`${file}.manifest.json`),
      ),
    ).toBe(true);

    // The delivered copy is evidence on its own: kt export verify checks it against its manifest.
    const copy = path.join(root, `${id}.json`);
    writeFileSync(copy, delivered);
    writeFileSync(`${copy}.manifest.json`, await objectBytes('compliance-artifacts', `${key}.manifest.json`));
    const verified = await kt(['export', 'verify', '--file', copy]);
    expect(verified.stderr).toBe('');
    expect(verified.code).toBe(0);
  });

  test('a delivery to a bucket that does not exist fails with the reason; redeliver then succeeds', async () => {
    await s3.send(new DeleteBucketCommand({ Bucket: LATE }));
    const created = await kt([
      'export',
      'create',
      '--from',
      '2026-04-16T00:00:00Z',
      '--to',
      '2026-04-23T23:59:59Z',
      '--format',
      'csv',
      '--s3-bucket',
      LATE,
      '--wait',
    ]);
    const id = created.stdout.split('\n')[1]?.replace('Job ID: ', '') ?? '';
    expect(id).toMatch(EXPORT_ID);
    expect(created.code).toBe(1);
    expect(created.stderr).toMatch(
      new RegExp(`export ${id} completed but its delivery failed: .*NoSuchBucket`),
    );
    expect(created.stdout).toContain('Status: completed');

    const status = await kt(['export', 'status', '--id', id]);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(
      new RegExp(`Delivery: s3://${LATE}/${id}\\.csv \\(failed: .*NoSuchBucket.*\\)`),
    );

    await s3.send(new CreateBucketCommand({ Bucket: LATE }));
    const redelivered = await kt(['export', 'redeliver', '--id', id]);
    expect(redelivered.stderr).toBe('');
    expect(redelivered.code).toBe(0);
    expect(redelivered.stdout.trimEnd().split('\n')).toEqual([
      `✓ Export ${id} delivered`,
      `Delivery: s3://${LATE}/${id}.csv (delivered)`,
      `Manifest: s3://${LATE}/${id}.csv.manifest.json`,
    ]);
    const file = path.join(root, 'late.csv');
    expect((await kt(['export', 'download', '--id', id, '--output', file])).code).toBe(0);
    expect((await objectBytes(LATE, `${id}.csv`)).equals(readFileSync(file))).toBe(true);
  });
});
