import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  NoSuchKey,
  NoSuchUpload,
  NotFound,
  S3Client,
  S3ServiceException,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { attachmentDisposition, S3ArtifactStore } from '../../../functions/adapters/s3/artifact-store.ts';
import { DependencyError, ValidationError } from '../../../functions/core/errors.ts';
import { rejection } from '../../support/rejection.ts';

const BUCKET = 'kt-artifacts';
const KEY = 'exports/exp_1/events.csv';

const s3 = new S3Client({
  region: 'eu-west-1',
  credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' },
});
const s3Mock = mockClient(s3);
const store = new S3ArtifactStore(s3, BUCKET);

const serviceError = (name: string, status: number) =>
  new S3ServiceException({
    name,
    $fault: status >= 500 ? 'server' : 'client',
    message: `${name} happened`,
    $metadata: { httpStatusCode: status },
  });
const noSuchUpload = () =>
  new NoSuchUpload({ message: 'The specified upload does not exist.', $metadata: { httpStatusCode: 404 } });

beforeEach(() => s3Mock.reset());

describe('S3ArtifactStore', () => {
  test('every call names the artifact bucket', async () => {
    s3Mock.on(CreateMultipartUploadCommand).resolves({ UploadId: 'up-1' });
    s3Mock.on(UploadPartCommand).resolves({ ETag: '"e1"' });
    s3Mock.on(CompleteMultipartUploadCommand).resolves({});
    s3Mock.on(AbortMultipartUploadCommand).resolves({});
    s3Mock.on(HeadObjectCommand).resolves({ ContentLength: 42 });
    s3Mock.on(DeleteObjectCommand).resolves({});
    s3Mock.on(ListMultipartUploadsCommand).resolves({ IsTruncated: false });

    expect(await store.startUpload(KEY, 'text/csv')).toBe('up-1');
    expect(await store.uploadPart(KEY, 'up-1', 1, new Uint8Array([1, 2, 3]))).toBe('"e1"');
    await store.completeUpload(KEY, 'up-1', [{ partNumber: 1, etag: '"e1"' }]);
    await store.abortUpload(KEY, 'up-1');
    expect(await store.artifactSize(KEY)).toBe(42);
    await store.deleteArtifact(KEY);
    expect(await store.openUploads('exports/')).toEqual([]);

    const calls = s3Mock.calls();
    expect(calls).toHaveLength(7);
    for (const call of calls) {
      const input = call.args[0].input as { Bucket?: string; Key?: string };
      expect(input.Bucket).toBe(BUCKET);
    }
    expect(s3Mock.commandCalls(CreateMultipartUploadCommand)[0]!.args[0].input).toEqual({
      Bucket: BUCKET,
      Key: KEY,
      ContentType: 'text/csv',
    });
    expect(s3Mock.commandCalls(UploadPartCommand)[0]!.args[0].input).toMatchObject({
      Key: KEY,
      UploadId: 'up-1',
      PartNumber: 1,
      ContentLength: 3,
    });
  });

  test('invalid arguments are refused before anything is sent', async () => {
    const part = new Uint8Array([1]);
    const cases: [Promise<unknown>, string][] = [
      [store.startUpload('', 'text/csv'), 'key'],
      [store.startUpload('x'.repeat(1025), 'text/csv'), 'key'],
      [store.startUpload(KEY, ''), 'contentType'],
      [store.uploadPart(KEY, '', 1, part), 'uploadId'],
      [store.uploadPart(KEY, 'up', 0, part), 'partNumber'],
      [store.uploadPart(KEY, 'up', 10_001, part), 'partNumber'],
      [store.uploadPart(KEY, 'up', 1.5, part), 'partNumber'],
      [store.completeUpload(KEY, 'up', []), 'parts'],
      [store.completeUpload(KEY, 'up', [{ partNumber: 1, etag: '' }]), 'parts[0].etag'],
      [store.abortUpload('', 'up'), 'key'],
      [store.artifactSize(''), 'key'],
      [store.deleteArtifact(''), 'key'],
      [store.downloadUrl('', { expiresInSeconds: 60, filename: 'a.csv' }), 'key'],
    ];
    for (const [action, field] of cases) {
      const error = await rejection(action, ValidationError);
      expect(error.issues.map((issue) => issue.field)).toContain(field);
    }
    const repeated = await rejection(
      store.completeUpload(KEY, 'up', [
        { partNumber: 2, etag: '"a"' },
        { partNumber: 2, etag: '"b"' },
      ]),
      ValidationError,
    );
    expect(repeated.issues).toEqual([{ field: 'parts[1].partNumber', rule: 'must not repeat' }]);
    expect(s3Mock.calls()).toHaveLength(0);
  });

  test('completeUpload sends the parts in part-number order', async () => {
    s3Mock.on(CompleteMultipartUploadCommand).resolves({});
    await store.completeUpload(KEY, 'up-1', [
      { partNumber: 3, etag: '"c"' },
      { partNumber: 1, etag: '"a"' },
      { partNumber: 2, etag: '"b"' },
    ]);
    expect(s3Mock.commandCalls(CompleteMultipartUploadCommand)[0]!.args[0].input).toEqual({
      Bucket: BUCKET,
      Key: KEY,
      UploadId: 'up-1',
      MultipartUpload: {
        Parts: [
          { PartNumber: 1, ETag: '"a"' },
          { PartNumber: 2, ETag: '"b"' },
          { PartNumber: 3, ETag: '"c"' },
        ],
      },
    });
  });

  test('a vanished upload on complete or part upload is a clear DependencyError', async () => {
    s3Mock.on(CompleteMultipartUploadCommand).rejects(noSuchUpload());
    s3Mock.on(UploadPartCommand).rejects(noSuchUpload());
    const complete = await rejection(
      store.completeUpload(KEY, 'up-9', [{ partNumber: 1, etag: '"a"' }]),
      DependencyError,
    );
    expect(complete.message).toBe(
      `Completing the upload of s3://${BUCKET}/${KEY} (upload up-9, 1 part) failed: ` +
        'S3 knows no such upload. It was completed (then the object exists), aborted, or never started ' +
        'under this id and key.',
    );
    expect(complete.cause).toBeInstanceOf(NoSuchUpload);
    const part = await rejection(store.uploadPart(KEY, 'up-9', 2, new Uint8Array(1)), DependencyError);
    expect(part.message).toMatch(
      /^Uploading part 2 of s3:\/\/kt-artifacts\/exports\/exp_1\/events\.csv \(upload up-9\) failed: S3/,
    );
    expect(part.message).toContain('S3 knows no such upload');
  });

  test('other S3 failures become DependencyErrors naming the operation, object and cause', async () => {
    const denied = serviceError('AccessDenied', 403);
    s3Mock.on(CreateMultipartUploadCommand).rejects(denied);
    s3Mock.on(UploadPartCommand).rejects(serviceError('SlowDown', 503));
    s3Mock.on(CompleteMultipartUploadCommand).rejects(serviceError('EntityTooSmall', 400));
    s3Mock.on(AbortMultipartUploadCommand).rejects(serviceError('NoSuchBucket', 404));
    s3Mock.on(HeadObjectCommand).rejects(serviceError('Forbidden', 403));
    s3Mock.on(DeleteObjectCommand).rejects(serviceError('InternalError', 500));
    s3Mock.on(ListMultipartUploadsCommand).rejects(new Error('socket hang up'));

    const start = await rejection(store.startUpload(KEY, 'text/csv'), DependencyError);
    expect(start.message).toBe(
      `Starting an upload of s3://${BUCKET}/${KEY} failed: AccessDenied: AccessDenied happened`,
    );
    expect(start.cause).toBe(denied);
    expect(start.code).toBe('unavailable');
    const expectations: [Promise<unknown>, RegExp][] = [
      [store.uploadPart(KEY, 'up', 1, new Uint8Array(1)), /^Uploading part 1 of .* failed: SlowDown/],
      [
        store.completeUpload(KEY, 'up', [{ partNumber: 1, etag: '"a"' }]),
        /^Completing the upload of .* failed: EntityTooSmall/,
      ],
      [store.abortUpload(KEY, 'up'), /^Aborting upload up of s3:\/\/kt-artifacts\/.* failed: NoSuchBucket/],
      [store.artifactSize(KEY), /^Reading the size of .* failed: Forbidden/],
      [store.deleteArtifact(KEY), /^Deleting s3:\/\/kt-artifacts\/exports\/exp_1\/events\.csv failed: Int/],
      [
        store.openUploads('exports/'),
        /^Listing open uploads under s3:\/\/kt-artifacts\/exports\/ failed: Error: socket hang up/,
      ],
    ];
    for (const [action, message] of expectations) {
      const error = await rejection(action, DependencyError);
      expect(error.message).toMatch(message);
      expect(error.cause).toBeDefined();
    }
  });

  test('aborting an upload that no longer exists succeeds', async () => {
    s3Mock.on(AbortMultipartUploadCommand).rejects(noSuchUpload());
    await expect(store.abortUpload(KEY, 'gone')).resolves.toBeUndefined();
  });

  test('artifactSize is undefined for a missing object', async () => {
    const notFound = new NotFound({ message: 'Not Found', $metadata: { httpStatusCode: 404 } });
    s3Mock.on(HeadObjectCommand).rejects(notFound);
    expect(await store.artifactSize(KEY)).toBeUndefined();
  });

  test('deleting a missing object is not an error', async () => {
    const noSuchKey = new NoSuchKey({ message: 'no key', $metadata: { httpStatusCode: 404 } });
    s3Mock.on(DeleteObjectCommand).rejects(noSuchKey);
    await expect(store.deleteArtifact(KEY)).resolves.toBeUndefined();
  });

  test('openUploads follows the pages of ListMultipartUploads', async () => {
    s3Mock
      .on(ListMultipartUploadsCommand)
      .resolvesOnce({
        IsTruncated: true,
        NextKeyMarker: 'exports/b',
        NextUploadIdMarker: 'u2',
        Uploads: [
          { Key: 'exports/a', UploadId: 'u1' },
          { Key: 'exports/b', UploadId: 'u2' },
        ],
      })
      .resolvesOnce({ IsTruncated: false, Uploads: [{ Key: 'exports/c', UploadId: 'u3' }] });
    expect(await store.openUploads('exports/')).toEqual([
      { key: 'exports/a', uploadId: 'u1' },
      { key: 'exports/b', uploadId: 'u2' },
      { key: 'exports/c', uploadId: 'u3' },
    ]);
    const inputs = s3Mock.commandCalls(ListMultipartUploadsCommand).map((call) => call.args[0].input);
    expect(inputs).toEqual([
      { Bucket: BUCKET, Prefix: 'exports/' },
      { Bucket: BUCKET, Prefix: 'exports/', KeyMarker: 'exports/b', UploadIdMarker: 'u2' },
    ]);
  });

  test('openUploads stops on a truncated page that does not move on', async () => {
    s3Mock.on(ListMultipartUploadsCommand).resolves({ IsTruncated: true, Uploads: [] });
    const error = await rejection(store.openUploads('exports/'), DependencyError);
    expect(error.message).toMatch(/truncated without a new position/);
    expect(s3Mock.commandCalls(ListMultipartUploadsCommand)).toHaveLength(1);
  });

  describe('downloadUrl', () => {
    test('presigns a GetObject of the artifact with the expiry and an attachment name', async () => {
      const url = new URL(await store.downloadUrl(KEY, { expiresInSeconds: 900, filename: 'events.csv' }));
      expect(url.hostname).toBe(`${BUCKET}.s3.eu-west-1.amazonaws.com`);
      expect(url.pathname).toBe(`/${KEY}`);
      expect(url.searchParams.get('X-Amz-Expires')).toBe('900');
      expect(url.searchParams.get('X-Amz-Algorithm')).toBe('AWS4-HMAC-SHA256');
      expect(url.searchParams.get('response-content-disposition')).toBe('attachment; filename="events.csv"');
      expect(s3Mock.calls()).toHaveLength(0);
    });

    test('refuses expiries outside 1..3600 seconds and filenames that cannot be a header', async () => {
      for (const expiresInSeconds of [0, -1, 3601, 1.5, Number.NaN]) {
        const error = await rejection(
          store.downloadUrl(KEY, { expiresInSeconds, filename: 'a.csv' }),
          ValidationError,
        );
        expect(error.issues).toEqual([
          { field: 'expiresInSeconds', rule: 'must be a whole number from 1 to 3600' },
        ]);
      }
      const badNames = ['', 'a\r\nSet-Cookie: x=1', 'dir/a.csv', 'a\\b.csv', 'x\u0000', '\ud800.csv'];
      badNames.push('x'.repeat(256));
      for (const filename of badNames) {
        const error = await rejection(
          store.downloadUrl(KEY, { expiresInSeconds: 60, filename }),
          ValidationError,
        );
        expect(error.issues.map((issue) => issue.field)).toEqual(['filename']);
      }
      for (const expiresInSeconds of [1, 3600]) {
        const url = await store.downloadUrl(KEY, { expiresInSeconds, filename: 'a.csv' });
        expect(new URL(url).searchParams.get('X-Amz-Expires')).toBe(String(expiresInSeconds));
      }
    });
  });
});

describe('attachmentDisposition', () => {
  test('a plain ASCII name is only quoted', () => {
    expect(attachmentDisposition('exp_01HX events (1).csv')).toBe(
      'attachment; filename="exp_01HX events (1).csv"',
    );
  });

  test("characters a quoted-string cannot carry safely go to an RFC 5987 filename*", () => {
    expect(attachmentDisposition('a"b.csv')).toBe(
      `attachment; filename="a_b.csv"; filename*=UTF-8''a%22b.csv`,
    );
    expect(attachmentDisposition('100%.csv')).toBe(
      `attachment; filename="100_.csv"; filename*=UTF-8''100%25.csv`,
    );
    expect(attachmentDisposition("rapport-été (v2)*'.pdf")).toBe(
      `attachment; filename="rapport-_t_ (v2)*'.pdf"; ` +
        `filename*=UTF-8''rapport-%C3%A9t%C3%A9%20%28v2%29%2A%27.pdf`,
    );
  });

  test('filename* decodes back to the exact name and uses only RFC 5987 attr-chars', () => {
    const names = ['日本語レポート.json', 'emoji 🧾.csv', 'plain ~!#$&+^`|.txt', "q'uote\".csv"];
    for (const name of names) {
      const value = attachmentDisposition(name);
      const extended = /; filename\*=UTF-8''(.*)$/.exec(value)?.[1];
      if (/^[\x20-\x7e]*$/.test(name) && !/["%\\]/.test(name)) {
        expect(extended).toBeUndefined();
        continue;
      }
      expect(extended).toBeDefined();
      expect(extended).toMatch(/^(?:[A-Za-z0-9!#$&+\-.^_`|~]|%[0-9A-F]{2})+$/);
      expect(decodeURIComponent(extended!)).toBe(name);
      expect(value).toMatch(/^attachment; filename="[\x20-\x21\x23-\x7e]*";/);
    }
  });
});
