import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  ListMultipartUploadsCommand,
  NoSuchUpload,
  type S3Client,
} from '@aws-sdk/client-s3';
import { createAwsClients } from '../../functions/adapters/aws-clients.ts';
import { attachmentDisposition, S3ArtifactStore } from '../../functions/adapters/s3/artifact-store.ts';
import { DependencyError } from '../../functions/core/errors.ts';
import type { EmbeddedServer } from '../../infra/local/embedded-dynamodb.ts';
import { startEmbeddedS3 } from '../../infra/local/embedded-s3.ts';

const BUCKET = 'kt-artifacts-test';
const MiB = 1024 * 1024;

let directory: string;
let server: EmbeddedServer;
let s3: S3Client;
let store: S3ArtifactStore;

beforeAll(async () => {
  directory = await mkdtemp(path.join(tmpdir(), 'kt-s3-'));
  server = await startEmbeddedS3({ port: 0, directory, buckets: [BUCKET] });
  const clients = createAwsClients({
    region: 'us-east-1',
    eventsTable: 'unused',
    controlTable: 'unused',
    artifactBucket: BUCKET,
    endpoints: { dynamodb: 'http://127.0.0.1:9', s3: server.endpoint },
  });
  clients.dynamodb.destroy();
  s3 = clients.s3;
  store = new S3ArtifactStore(s3, BUCKET);
});

afterAll(async () => {
  s3?.destroy();
  await server?.close();
  if (directory) await rm(directory, { recursive: true, force: true });
});

/** A prefix of its own for each test, so their uploads never meet. */
const freshPrefix = () => `exports/${randomUUID()}/`;

async function getBytes(key: string): Promise<Buffer> {
  const output = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
  return Buffer.from(await output.Body!.transformToByteArray());
}

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

test('a three-part upload assembles the exact bytes, in part-number order', async () => {
  const prefix = freshPrefix();
  const key = `${prefix}events.json`;
  const parts = [randomBytes(5 * MiB), randomBytes(5 * MiB), Buffer.from('{"last":"part ✓"}\n')];
  const uploadId = await store.startUpload(key, 'application/json');
  expect(await store.openUploads(prefix)).toEqual([{ key, uploadId }]);

  // Out of order, and part 2 twice with the same bytes, as a retried invocation would.
  const etag3 = await store.uploadPart(key, uploadId, 3, parts[2]!);
  const etag2 = await store.uploadPart(key, uploadId, 2, parts[1]!);
  const etag1 = await store.uploadPart(key, uploadId, 1, parts[0]!);
  expect(await store.uploadPart(key, uploadId, 2, parts[1]!)).toBe(etag2);

  await store.completeUpload(key, uploadId, [
    { partNumber: 2, etag: etag2 },
    { partNumber: 3, etag: etag3 },
    { partNumber: 1, etag: etag1 },
  ]);

  const expected = Buffer.concat(parts);
  const stored = await getBytes(key);
  expect(stored.length).toBe(expected.length);
  expect(sha256(stored)).toBe(sha256(expected));
  expect(await store.artifactSize(key)).toBe(10 * MiB + parts[2]!.length);
  expect(await store.openUploads(prefix)).toEqual([]);
});

test('abort removes an open upload, and aborting again is fine', async () => {
  const prefix = freshPrefix();
  const key = `${prefix}events.csv`;
  const kept = await store.startUpload(`${prefix}other.csv`, 'text/csv');
  const uploadId = await store.startUpload(key, 'text/csv');
  await store.uploadPart(key, uploadId, 1, randomBytes(1024));
  expect(await store.openUploads(prefix)).toEqual(
    expect.arrayContaining([
      { key, uploadId },
      { key: `${prefix}other.csv`, uploadId: kept },
    ]),
  );

  await store.abortUpload(key, uploadId);
  expect(await store.openUploads(prefix)).toEqual([{ key: `${prefix}other.csv`, uploadId: kept }]);
  await store.abortUpload(key, uploadId);
  expect(await store.artifactSize(key)).toBeUndefined();

  // The aborted upload takes no more parts and cannot be completed.
  const part = await store.uploadPart(key, uploadId, 2, randomBytes(10)).catch((e: unknown) => e);
  expect(part).toBeInstanceOf(DependencyError);
  expect((part as DependencyError).cause).toBeInstanceOf(NoSuchUpload);
  const complete = await store
    .completeUpload(key, uploadId, [{ partNumber: 1, etag: '"x"' }])
    .catch((e: unknown) => e);
  expect(complete).toBeInstanceOf(DependencyError);
  expect((complete as Error).message).toMatch(/S3 knows no such upload/);

  await store.abortUpload(`${prefix}other.csv`, kept);
  expect(await store.openUploads(prefix)).toEqual([]);
  // Nothing of either upload stays on disk.
  expect(await readdir(path.join(directory, BUCKET, '._S3rver_uploads'))).not.toEqual(
    expect.arrayContaining([uploadId, kept]),
  );
});

test('the presigned URL downloads the exact bytes, named as an attachment, without credentials', async () => {
  const key = `${freshPrefix()}report.pdf`;
  const bytes = randomBytes(64 * 1024);
  const uploadId = await store.startUpload(key, 'application/pdf');
  const etag = await store.uploadPart(key, uploadId, 1, bytes);
  await store.completeUpload(key, uploadId, [{ partNumber: 1, etag }]);

  for (const filename of ['exp_01 report.pdf', 'rapport été "Q3" ✓.pdf']) {
    const url = await store.downloadUrl(key, { expiresInSeconds: 60, filename });
    expect(url.startsWith(`${server.endpoint}/${BUCKET}/`)).toBe(true);
    const response = await fetch(url);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-disposition')).toBe(attachmentDisposition(filename));
    expect(Buffer.from(await response.arrayBuffer()).equals(bytes)).toBe(true);
  }
});

test('deleteArtifact removes the object, and deleting again is fine', async () => {
  const key = `${freshPrefix()}events.json`;
  const uploadId = await store.startUpload(key, 'application/json');
  const etag = await store.uploadPart(key, uploadId, 1, Buffer.from('[]'));
  await store.completeUpload(key, uploadId, [{ partNumber: 1, etag }]);
  expect(await store.artifactSize(key)).toBe(2);

  await store.deleteArtifact(key);
  expect(await store.artifactSize(key)).toBeUndefined();
  await store.deleteArtifact(key);
});

describe('the embedded S3 multipart extensions', () => {
  test('ListMultipartUploads pages by key and upload id, under a prefix', async () => {
    const prefix = freshPrefix();
    const keys = ['a.csv', 'b.csv', 'b.csv', 'c.csv'].map((name) => `${prefix}${name}`);
    const started: { key: string; uploadId: string }[] = [];
    for (const key of keys) {
      const output = await s3.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: key }));
      started.push({ key, uploadId: output.UploadId! });
    }
    const elsewhere = `${freshPrefix()}elsewhere.csv`;
    const other = await s3.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: elsewhere }));

    const seen: { key: string; uploadId: string }[] = [];
    let markers: { KeyMarker?: string; UploadIdMarker?: string } = {};
    for (let page = 0; page < 10; page++) {
      const output = await s3.send(
        new ListMultipartUploadsCommand({ Bucket: BUCKET, Prefix: prefix, MaxUploads: 3, ...markers }),
      );
      expect(output.Bucket).toBe(BUCKET);
      expect(output.Prefix).toBe(prefix);
      for (const upload of output.Uploads ?? []) {
        expect(upload.Initiated).toBeInstanceOf(Date);
        seen.push({ key: upload.Key!, uploadId: upload.UploadId! });
      }
      if (!output.IsTruncated) break;
      markers = { KeyMarker: output.NextKeyMarker!, UploadIdMarker: output.NextUploadIdMarker! };
    }
    // Sorted by key (then by start time); every upload exactly once.
    expect(seen.map((upload) => upload.key)).toEqual(keys);
    expect(new Set(seen.map((upload) => upload.uploadId))).toEqual(
      new Set(started.map((upload) => upload.uploadId)),
    );
    for (const upload of started) await store.abortUpload(upload.key, upload.uploadId);
    await store.abortUpload(elsewhere, other.UploadId!);
  });

  test('AbortMultipartUpload answers 204, and NoSuchUpload for an unknown or mismatched upload', async () => {
    const key = `${freshPrefix()}x.csv`;
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: key }));
    const wrongKey = await s3
      .send(new AbortMultipartUploadCommand({ Bucket: BUCKET, Key: `${key}.other`, UploadId }))
      .catch((e: unknown) => e);
    expect(wrongKey).toBeInstanceOf(NoSuchUpload);
    const aborted = await s3.send(new AbortMultipartUploadCommand({ Bucket: BUCKET, Key: key, UploadId }));
    expect(aborted.$metadata.httpStatusCode).toBe(204);
    for (const uploadId of [UploadId!, '../../etc', 'ffffffffffffffffffffffffffffffff']) {
      const error = await s3
        .send(new AbortMultipartUploadCommand({ Bucket: BUCKET, Key: key, UploadId: uploadId }))
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(NoSuchUpload);
      expect((error as NoSuchUpload).$metadata.httpStatusCode).toBe(404);
    }
  });

  test('CompleteMultipartUpload refuses part lists S3 would refuse, and the upload stays open', async () => {
    const prefix = freshPrefix();
    const key = `${prefix}events.csv`;
    const uploadId = await store.startUpload(key, 'text/csv');
    const small = randomBytes(1024);
    const last = Buffer.from('last\n');
    const etag1 = await store.uploadPart(key, uploadId, 1, small);
    const etag2 = await store.uploadPart(key, uploadId, 2, last);
    const causeOf = (action: Promise<unknown>) =>
      action.then(
        () => undefined,
        (error: unknown) => {
          expect(error).toBeInstanceOf(DependencyError);
          return ((error as DependencyError).cause as Error).name;
        },
      );

    // Every part but the last must be at least 5 MiB.
    const parts = [
      { partNumber: 1, etag: etag1 },
      { partNumber: 2, etag: etag2 },
    ];
    expect(await causeOf(store.completeUpload(key, uploadId, parts))).toBe('EntityTooSmall');
    // A part that was never uploaded (s3rver alone crashes the process on it), or another ETag.
    const missing = [...parts, { partNumber: 3, etag: etag2 }];
    expect(await causeOf(store.completeUpload(key, uploadId, missing))).toBe('InvalidPart');
    const otherEtag = [{ partNumber: 1, etag: etag2 }];
    expect(await causeOf(store.completeUpload(key, uploadId, otherEtag))).toBe('InvalidPart');
    const descending = [...parts].reverse().map((p) => ({ PartNumber: p.partNumber, ETag: p.etag }));
    const unordered = await s3
      .send(
        new CompleteMultipartUploadCommand({
          Bucket: BUCKET,
          Key: key,
          UploadId: uploadId,
          MultipartUpload: { Parts: descending },
        }),
      )
      .catch((e: unknown) => e);
    expect((unordered as Error).name).toBe('InvalidPartOrder');
    expect(await store.openUploads(prefix)).toEqual([{ key, uploadId }]);

    const big = randomBytes(5 * MiB);
    const bigEtag = await store.uploadPart(key, uploadId, 1, big);
    await store.completeUpload(key, uploadId, [{ partNumber: 1, etag: bigEtag }, parts[1]!]);
    expect((await getBytes(key)).equals(Buffer.concat([big, last]))).toBe(true);
    expect(await store.openUploads(prefix)).toEqual([]);
  });

  test('an unknown bucket is NoSuchBucket', async () => {
    const error = await s3
      .send(new ListMultipartUploadsCommand({ Bucket: 'no-such-bucket' }))
      .catch((e: unknown) => e);
    expect((error as Error).name).toBe('NoSuchBucket');
  });
});
