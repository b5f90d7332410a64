import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  type HeadObjectCommandOutput,
  ListMultipartUploadsCommand,
  type ListMultipartUploadsCommandOutput,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { DependencyError, type FieldIssue, ValidationError } from '../../core/errors.ts';
import type { UploadedPart } from '../../core/export/export-checkpoint.ts';
import type { ArtifactStore } from '../../core/ports.ts';
import { describe } from '../aws-call.ts';
import { contentMd5 } from './content-md5.ts';

/** Longest lifetime of a download URL, in seconds. */
export const MAX_DOWNLOAD_URL_SECONDS = 3600;
const MAX_PART_NUMBER = 10_000;
const MAX_KEY_BYTES = 1024;
const MAX_FILENAME_LENGTH = 255;

/**
 * Artifacts in the artifact bucket, written as multipart uploads. Every call names the bucket
 * given here; S3 failures become DependencyError (retrying may succeed), bad arguments
 * ValidationError before anything is sent.
 */
export class S3ArtifactStore implements ArtifactStore {
  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
  ) {
    if (bucket === '') throw new Error('S3ArtifactStore needs the artifact bucket name');
  }

  async startUpload(key: string, contentType: string): Promise<string> {
    check([
      keyIssue(key),
      contentType === '' ? { field: 'contentType', rule: 'must not be empty' } : undefined,
    ]);
    const output = await this.call(`Starting an upload of ${this.where(key)}`, () =>
      this.s3.send(
        new CreateMultipartUploadCommand({ Bucket: this.bucket, Key: key, ContentType: contentType }),
      ),
    );
    if (!output.UploadId) {
      throw new DependencyError(`S3 started an upload of ${this.where(key)} without an upload id.`);
    }
    return output.UploadId;
  }

  async uploadPart(key: string, uploadId: string, partNumber: number, body: Uint8Array): Promise<string> {
    check([keyIssue(key), uploadIdIssue(uploadId), partNumberIssue(partNumber, 'partNumber')]);
    const output = await this.call(
      `Uploading part ${partNumber} of ${this.where(key)} (upload ${uploadId})`,
      () =>
        this.s3.send(
          new UploadPartCommand({
            Bucket: this.bucket,
            Key: key,
            UploadId: uploadId,
            PartNumber: partNumber,
            Body: body,
            ContentLength: body.byteLength,
            ContentMD5: contentMd5(body),
          }),
        ),
      uploadId,
    );
    if (!output.ETag) {
      throw new DependencyError(`S3 stored part ${partNumber} of ${this.where(key)} without an ETag.`);
    }
    return output.ETag;
  }

  async completeUpload(key: string, uploadId: string, parts: readonly UploadedPart[]): Promise<void> {
    const issues: (FieldIssue | undefined)[] = [keyIssue(key), uploadIdIssue(uploadId)];
    if (parts.length === 0) issues.push({ field: 'parts', rule: 'must name at least one part' });
    const seen = new Set<number>();
    parts.forEach((part, i) => {
      issues.push(partNumberIssue(part.partNumber, `parts[${i}].partNumber`));
      if (seen.has(part.partNumber)) {
        issues.push({ field: `parts[${i}].partNumber`, rule: 'must not repeat' });
      }
      seen.add(part.partNumber);
      if (part.etag === '') issues.push({ field: `parts[${i}].etag`, rule: 'must be the ETag S3 returned' });
    });
    check(issues);
    const sorted = [...parts]
      .sort((a, b) => a.partNumber - b.partNumber)
      .map((part) => ({ PartNumber: part.partNumber, ETag: part.etag }));
    await this.call(
      `Completing the upload of ${this.where(key)} (upload ${uploadId}, ${count(parts.length, 'part')})`,
      () =>
        this.s3.send(
          new CompleteMultipartUploadCommand({
            Bucket: this.bucket,
            Key: key,
            UploadId: uploadId,
            MultipartUpload: { Parts: sorted },
          }),
        ),
      uploadId,
    );
  }

  async abortUpload(key: string, uploadId: string): Promise<void> {
    check([keyIssue(key), uploadIdIssue(uploadId)]);
    try {
      await this.s3.send(
        new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId }),
      );
    } catch (error) {
      if (errorName(error) === 'NoSuchUpload') return; // aborted or completed already
      throw new DependencyError(
        `Aborting upload ${uploadId} of ${this.where(key)} failed: ${describe(error)}`,
        { cause: error },
      );
    }
  }

  async artifactSize(key: string): Promise<number | undefined> {
    check([keyIssue(key)]);
    let output: HeadObjectCommandOutput;
    try {
      output = await this.s3.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
    } catch (error) {
      // A HEAD response has no body, so S3 cannot say more than 404 (NotFound).
      if (isNotFound(error)) return undefined;
      throw new DependencyError(`Reading the size of ${this.where(key)} failed: ${describe(error)}`, {
        cause: error,
      });
    }
    if (output.ContentLength === undefined) {
      throw new DependencyError(`S3 returned no size for ${this.where(key)}.`);
    }
    return output.ContentLength;
  }

  async downloadUrl(
    key: string,
    options: { readonly expiresInSeconds: number; readonly filename: string },
  ): Promise<string> {
    const { expiresInSeconds, filename } = options;
    const validExpiry =
      Number.isInteger(expiresInSeconds) &&
      expiresInSeconds >= 1 &&
      expiresInSeconds <= MAX_DOWNLOAD_URL_SECONDS;
    check([
      keyIssue(key),
      validExpiry
        ? undefined
        : { field: 'expiresInSeconds', rule: `must be a whole number from 1 to ${MAX_DOWNLOAD_URL_SECONDS}` },
      filenameIssue(filename),
    ]);
    const command = new GetObjectCommand({
      Bucket: this.bucket,
      Key: key,
      ResponseContentDisposition: attachmentDisposition(filename),
    });
    return this.call(`Signing a download URL for ${this.where(key)}`, () =>
      getSignedUrl(this.s3, command, { expiresIn: expiresInSeconds }),
    );
  }

  async deleteArtifact(key: string): Promise<void> {
    check([keyIssue(key)]);
    try {
      await this.s3.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
    } catch (error) {
      // S3 answers 204 for a missing object; some S3-compatible servers answer NoSuchKey.
      if (errorName(error) === 'NoSuchKey') return;
      throw new DependencyError(`Deleting ${this.where(key)} failed: ${describe(error)}`, { cause: error });
    }
  }

  async putDocument(key: string, body: string, contentType: string): Promise<void> {
    check([keyIssue(key)]);
    await this.call(`Writing ${this.where(key)}`, () =>
      this.s3.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Body: body,
          ContentType: contentType,
          ContentMD5: contentMd5(body),
        }),
      ),
    );
  }

  async getDocument(key: string): Promise<string | undefined> {
    check([keyIssue(key)]);
    try {
      const output = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      return (await output.Body?.transformToString('utf-8')) ?? '';
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw new DependencyError(`Reading ${this.where(key)} failed: ${describe(error)}`, { cause: error });
    }
  }

  async openUploads(prefix: string): Promise<readonly { readonly key: string; readonly uploadId: string }[]> {
    const uploads: { key: string; uploadId: string }[] = [];
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    for (;;) {
      const page: ListMultipartUploadsCommandOutput = await this.call(
        `Listing open uploads under ${this.where(prefix)}`,
        () =>
          this.s3.send(
            new ListMultipartUploadsCommand({
              Bucket: this.bucket,
              Prefix: prefix,
              ...(keyMarker === undefined ? {} : { KeyMarker: keyMarker }),
              ...(uploadIdMarker === undefined ? {} : { UploadIdMarker: uploadIdMarker }),
            }),
          ),
      );
      for (const upload of page.Uploads ?? []) {
        if (upload.Key !== undefined && upload.UploadId !== undefined) {
          uploads.push({ key: upload.Key, uploadId: upload.UploadId });
        }
      }
      if (!page.IsTruncated) return uploads;
      if (
        page.NextKeyMarker === undefined ||
        (page.NextKeyMarker === keyMarker && page.NextUploadIdMarker === uploadIdMarker)
      ) {
        throw new DependencyError(
          `S3 listed open uploads under ${this.where(prefix)} as truncated without a new position ` +
            'to continue from.',
        );
      }
      keyMarker = page.NextKeyMarker;
      uploadIdMarker = page.NextUploadIdMarker;
    }
  }

  private where(key: string): string {
    return `s3://${this.bucket}/${key}`;
  }

  /**
   * Runs one S3 call; a failure becomes a DependencyError that starts with `what`. When `uploadId`
   * is given, NoSuchUpload is explained as the upload being gone.
   */
  private async call<T>(what: string, send: () => Promise<T>, uploadId?: string): Promise<T> {
    try {
      return await send();
    } catch (error) {
      if (uploadId !== undefined && errorName(error) === 'NoSuchUpload') {
        throw new DependencyError(
          `${what} failed: S3 knows no such upload. It was completed (then the object exists), ` +
            'aborted, or never started under this id and key.',
          { cause: error },
        );
      }
      throw new DependencyError(`${what} failed: ${describe(error)}`, { cause: error });
    }
  }
}

/**
 * A Content-Disposition value that names the download `filename` (RFC 6266): a plain ASCII
 * `filename` for every client, and when that had to lose characters, the exact name as an
 * RFC 5987 `filename*` (UTF-8, percent-encoded), which current browsers and curl prefer.
 */
export function attachmentDisposition(filename: string): string {
  // Quotes and backslashes are escapes inside a quoted-string, and some browsers decode %XX in it.
  const fallback = filename.replace(/[^\x20-\x7e]|["\\%]/g, '_');
  const plain = `attachment; filename="${fallback}"`;
  if (fallback === filename) return plain;
  const extended = encodeURIComponent(filename).replace(
    /['()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
  return `${plain}; filename*=UTF-8''${extended}`;
}

function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

function check(issues: readonly (FieldIssue | undefined)[]): void {
  const found = issues.filter((issue): issue is FieldIssue => issue !== undefined);
  if (found.length > 0) throw new ValidationError('The artifact request is invalid.', found);
}

function keyIssue(key: string): FieldIssue | undefined {
  if (key === '') return { field: 'key', rule: 'must not be empty' };
  if (Buffer.byteLength(key, 'utf8') > MAX_KEY_BYTES) {
    return { field: 'key', rule: `must be at most ${MAX_KEY_BYTES} bytes of UTF-8` };
  }
  return undefined;
}

function uploadIdIssue(uploadId: string): FieldIssue | undefined {
  return uploadId === '' ? { field: 'uploadId', rule: 'must be the id startUpload returned' } : undefined;
}

function partNumberIssue(partNumber: number, field: string): FieldIssue | undefined {
  return Number.isInteger(partNumber) && partNumber >= 1 && partNumber <= MAX_PART_NUMBER
    ? undefined
    : { field, rule: `must be a whole number from 1 to ${MAX_PART_NUMBER}` };
}

function filenameIssue(filename: string): FieldIssue | undefined {
  // Control characters and unpaired surrogates cannot travel in a header; separators would be paths.
  if (filename === '' || filename.length > MAX_FILENAME_LENGTH || /[\p{Cc}\p{Cs}/\\]/u.test(filename)) {
    return {
      field: 'filename',
      rule: `must be 1 to ${MAX_FILENAME_LENGTH} characters without control characters, '/' or '\\'`,
    };
  }
  return undefined;
}

function errorName(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const e = error as { name?: unknown; Code?: unknown };
  return typeof e.Code === 'string' ? e.Code : typeof e.name === 'string' ? e.name : undefined;
}

function isNotFound(error: unknown): boolean {
  const name = errorName(error);
  const status = (error as { $metadata?: { httpStatusCode?: number } } | null)?.$metadata?.httpStatusCode;
  return name === 'NotFound' || name === 'NoSuchKey' || status === 404;
}
