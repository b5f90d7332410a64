import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { DELIVERY_PART_BYTES, S3DeliveryStore } from '../../../functions/adapters/s3/delivery-store.ts';
import { DependencyError } from '../../../functions/core/errors.ts';
import { DeliveryRefusedError } from '../../../functions/core/export/delivery.ts';
import type { DeliveryDestination } from '../../../functions/core/ports.ts';

const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' };
const source = new S3Client({ region: 'us-east-1', credentials });
const target = new S3Client({ region: 'eu-west-1', credentials });
const sourceMock = mockClient(source);
const targetMock = mockClient(target);
const regions: (string | undefined)[] = [];
const store = new S3DeliveryStore(source, 'kt-artifacts', (region) => {
  regions.push(region);
  return target;
});
const DESTINATION: DeliveryDestination = {
  bucket: 'compliance-artifacts',
  key: 'kt/exp_1.json',
  account: '111122223333',
  region: 'eu-west-1',
  contentType: 'application/json',
};

/** A body that arrives in uneven chunks, as a network stream does. */
function body(bytes: Buffer, chunk = 1_000_003) {
  const chunks: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += chunk) chunks.push(bytes.subarray(i, i + chunk));
  return Readable.from(chunks);
}

const md5 = (bytes: Uint8Array) => createHash('md5').update(bytes).digest('base64');
const serviceError = (name: string, status: number) =>
  new S3ServiceException({ name, $fault: status >= 500 ? 'server' : 'client', message: `${name} happened`, $metadata: { httpStatusCode: status } });

beforeEach(() => {
  sourceMock.reset();
  targetMock.reset();
  regions.length = 0;
});

describe('S3DeliveryStore.copyToCustomer', () => {
  it('writes a small artifact with one PutObject carrying ExpectedBucketOwner and Content-MD5', async () => {
    const bytes = Buffer.from('{"events":[]}\n');
    sourceMock.on(GetObjectCommand).resolves({ Body: body(bytes) as never });
    targetMock.on(PutObjectCommand).resolves({});
    await store.copyToCustomer('exports/exp_1/exp_1.json', DESTINATION);
    expect(sourceMock.commandCalls(GetObjectCommand)[0]!.args[0].input).toEqual({
      Bucket: 'kt-artifacts',
      Key: 'exports/exp_1/exp_1.json',
    });
    const put = targetMock.commandCalls(PutObjectCommand)[0]!.args[0].input;
    expect(put).toMatchObject({
      Bucket: 'compliance-artifacts',
      Key: 'kt/exp_1.json',
      ExpectedBucketOwner: '111122223333',
      ContentType: 'application/json',
      ContentLength: bytes.length,
      ContentMD5: md5(bytes),
    });
    expect(Buffer.from(put.Body as Uint8Array).equals(bytes)).toBe(true);
    expect(regions).toEqual(['eu-west-1']);
  });

  it('streams a large artifact as 8 MiB parts, every call naming the owner, and the parts rebuild it', async () => {
    const bytes = Buffer.alloc(DELIVERY_PART_BYTES * 2 + 12_345);
    for (let i = 0; i < bytes.length; i += 1) bytes[i] = (i * 31) % 251;
    sourceMock.on(GetObjectCommand).resolves({ Body: body(bytes) as never });
    targetMock.on(CreateMultipartUploadCommand).resolves({ UploadId: 'up-1' });
    let etag = 0;
    const received: Buffer[] = [];
    targetMock.on(UploadPartCommand).callsFake((input: { Body: Uint8Array }) => {
      // Copied now: the store reuses nothing, but the assertion must not depend on that.
      received.push(Buffer.from(input.Body));
      etag += 1;
      return { ETag: `"e${etag}"` };
    });
    targetMock.on(CompleteMultipartUploadCommand).resolves({});
    await store.copyToCustomer('exports/exp_1/exp_1.json', DESTINATION);

    const parts = targetMock.commandCalls(UploadPartCommand).map((call) => call.args[0].input);
    expect(parts.map((part) => [part.PartNumber, part.ContentLength])).toEqual([
      [1, DELIVERY_PART_BYTES],
      [2, DELIVERY_PART_BYTES],
      [3, 12_345],
    ]);
    parts.forEach((part, i) => {
      expect(part).toMatchObject({ UploadId: 'up-1', ExpectedBucketOwner: '111122223333', ContentMD5: md5(received[i]!) });
    });
    expect(Buffer.concat(received).equals(bytes)).toBe(true);
    const owner = { Bucket: 'compliance-artifacts', Key: 'kt/exp_1.json', ExpectedBucketOwner: '111122223333' };
    expect(targetMock.commandCalls(CreateMultipartUploadCommand)[0]!.args[0].input).toMatchObject(owner);
    expect(targetMock.commandCalls(CompleteMultipartUploadCommand)[0]!.args[0].input).toMatchObject(owner);
    expect(targetMock.commandCalls(CompleteMultipartUploadCommand)[0]!.args[0].input.MultipartUpload).toEqual({
      Parts: [
        { PartNumber: 1, ETag: '"e1"' },
        { PartNumber: 2, ETag: '"e2"' },
        { PartNumber: 3, ETag: '"e3"' },
      ],
    });
    expect(targetMock.commandCalls(PutObjectCommand)).toHaveLength(0);
  });

  it('aborts the upload (naming the owner) when a part is refused, and reports a refusal', async () => {
    sourceMock.on(GetObjectCommand).resolves({ Body: body(Buffer.alloc(DELIVERY_PART_BYTES + 1)) as never });
    targetMock.on(CreateMultipartUploadCommand).resolves({ UploadId: 'up-2' });
    targetMock.on(UploadPartCommand).rejects(serviceError('AccessDenied', 403));
    targetMock.on(AbortMultipartUploadCommand).resolves({});
    const error = await store.copyToCustomer('k', DESTINATION).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DeliveryRefusedError);
    expect((error as Error).message).toBe(
      'Uploading part 1 of s3://compliance-artifacts/kt/exp_1.json failed: AccessDenied: AccessDenied happened',
    );
    expect(targetMock.commandCalls(AbortMultipartUploadCommand)[0]!.args[0].input).toEqual({
      Bucket: 'compliance-artifacts',
      Key: 'kt/exp_1.json',
      ExpectedBucketOwner: '111122223333',
      UploadId: 'up-2',
    });
  });

  it('reports a missing bucket as a refusal and a 5xx or throttling as transient', async () => {
    sourceMock.on(GetObjectCommand).callsFake(() => ({ Body: body(Buffer.from('x')) }));
    targetMock.on(PutObjectCommand).rejectsOnce(serviceError('NoSuchBucket', 404)).rejectsOnce(serviceError('SlowDown', 503));
    await expect(store.copyToCustomer('k', DESTINATION)).rejects.toThrow(DeliveryRefusedError);
    await expect(store.copyToCustomer('k', DESTINATION)).rejects.toThrow(DependencyError);
  });

  it('reports a missing artifact as a refusal (it was deleted; retrying cannot help)', async () => {
    sourceMock.on(GetObjectCommand).rejects(serviceError('NoSuchKey', 404));
    await expect(store.copyToCustomer('exports/gone.json', DESTINATION)).rejects.toThrow(
      'Reading the artifact s3://kt-artifacts/exports/gone.json failed: NoSuchKey: NoSuchKey happened',
    );
  });
});
