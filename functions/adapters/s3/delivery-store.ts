import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { DependencyError } from '../../core/errors.ts';
import { isRetryable } from '../aws-call.ts';
import { DeliveryRefusedError } from '../../core/export/delivery.ts';
import type { DeliveryDestination, DeliveryStore } from '../../core/ports.ts';
import { contentMd5 } from './content-md5.ts';

/**
 * 8 MiB parts: above S3's 5 MiB minimum, and 10,000 of them hold 80 GiB. One part is held in
 * memory at a time, so a delivery's memory is this whatever the artifact's size.
 */
export const DELIVERY_PART_BYTES = 8 * 1024 * 1024;

/**
 * Copies artifacts from the artifact bucket to allow-listed customer buckets: GetObject streamed
 * into a multipart upload (or one PutObject when it fits in a part). Every request to the
 * customer bucket carries ExpectedBucketOwner, so a bucket of that name in any other account
 * (deleted and re-created by someone else, say) is refused by S3 rather than written to, and
 * Content-MD5, which S3 requires for writes to a bucket with Object Lock.
 */
export class S3DeliveryStore implements DeliveryStore {
  constructor(
    /** The client for the artifact bucket. */
    private readonly source: S3Client,
    private readonly artifactBucket: string,
    /** A client for a customer bucket's region (the caller caches them). */
    private readonly clientFor: (region: string | undefined) => S3Client,
  ) {}

  async copyToCustomer(sourceKey: string, destination: DeliveryDestination): Promise<void> {
    const where = `s3://${destination.bucket}/${destination.key}`;
    let body: AsyncIterable<Uint8Array>;
    try {
      const output = await this.source.send(new GetObjectCommand({ Bucket: this.artifactBucket, Key: sourceKey }));
      if (output.Body === undefined) throw new DependencyError(`S3 returned no body for s3://${this.artifactBucket}/${sourceKey}.`);
      body = output.Body as AsyncIterable<Uint8Array>;
    } catch (error) {
      if (error instanceof DependencyError) throw error;
      if (isPermanent(error)) {
        throw new DeliveryRefusedError(
          `Reading the artifact s3://${this.artifactBucket}/${sourceKey} failed: ${describe(error)}`,
          { cause: error },
        );
      }
      throw new DependencyError(`Reading the artifact s3://${this.artifactBucket}/${sourceKey} failed: ${describe(error)}`, {
        cause: error,
      });
    }
    await new PartWriter(this.clientFor(destination.region), destination, where).write(body);
  }
}

/** One delivery's upload: a PutObject for a small object, else a multipart upload it aborts on failure. */
class PartWriter {
  private uploadId: string | undefined;
  private readonly parts: { PartNumber: number; ETag: string }[] = [];

  constructor(
    private readonly s3: S3Client,
    private readonly destination: DeliveryDestination,
    private readonly where: string,
  ) {}

  async write(body: AsyncIterable<Uint8Array>): Promise<void> {
    try {
      let part = Buffer.allocUnsafe(DELIVERY_PART_BYTES);
      let filled = 0;
      for await (const chunk of body) {
        let offset = 0;
        while (offset < chunk.byteLength) {
          const n = Math.min(chunk.byteLength - offset, DELIVERY_PART_BYTES - filled);
          part.set(chunk.subarray(offset, offset + n), filled);
          filled += n;
          offset += n;
          if (filled === DELIVERY_PART_BYTES) {
            await this.uploadPart(part);
            // A fresh buffer: the SDK may still hold a reference to the one it just sent.
            part = Buffer.allocUnsafe(DELIVERY_PART_BYTES);
            filled = 0;
          }
        }
      }
      if (this.uploadId === undefined) {
        await this.putWhole(part.subarray(0, filled));
        return;
      }
      if (filled > 0) await this.uploadPart(part.subarray(0, filled));
      await this.complete();
    } catch (error) {
      await this.abort();
      throw error;
    }
  }

  private owner() {
    return { Bucket: this.destination.bucket, Key: this.destination.key, ExpectedBucketOwner: this.destination.account };
  }

  private async putWhole(bytes: Uint8Array): Promise<void> {
    await this.call('Writing', () =>
      this.s3.send(
        new PutObjectCommand({
          ...this.owner(),
          Body: bytes,
          ContentLength: bytes.byteLength,
          ContentType: this.destination.contentType,
          ContentMD5: contentMd5(bytes),
        }),
      ),
    );
  }

  private async uploadPart(bytes: Uint8Array): Promise<void> {
    if (this.uploadId === undefined) {
      const started = await this.call('Starting an upload of', () =>
        this.s3.send(new CreateMultipartUploadCommand({ ...this.owner(), ContentType: this.destination.contentType })),
      );
      if (!started.UploadId) throw new DependencyError(`S3 started an upload of ${this.where} without an upload id.`);
      this.uploadId = started.UploadId;
    }
    const uploadId = this.uploadId;
    const partNumber = this.parts.length + 1;
    const output = await this.call(`Uploading part ${partNumber} of`, () =>
      this.s3.send(
        new UploadPartCommand({
          ...this.owner(),
          UploadId: uploadId,
          PartNumber: partNumber,
          Body: bytes,
          ContentLength: bytes.byteLength,
          ContentMD5: contentMd5(bytes),
        }),
      ),
    );
    if (!output.ETag) throw new DependencyError(`S3 stored part ${partNumber} of ${this.where} without an ETag.`);
    this.parts.push({ PartNumber: partNumber, ETag: output.ETag });
  }

  private async complete(): Promise<void> {
    const uploadId = this.uploadId;
    await this.call('Completing the upload of', () =>
      this.s3.send(
        new CompleteMultipartUploadCommand({ ...this.owner(), UploadId: uploadId, MultipartUpload: { Parts: this.parts } }),
      ),
    );
    this.uploadId = undefined;
  }

  /** Best effort: the bucket's lifecycle rule (if any) or a later delivery cleans up what this leaves. */
  private async abort(): Promise<void> {
    const uploadId = this.uploadId;
    if (uploadId === undefined) return;
    this.uploadId = undefined;
    await this.s3.send(new AbortMultipartUploadCommand({ ...this.owner(), UploadId: uploadId })).catch(() => undefined);
  }

  private async call<T>(what: string, send: () => Promise<T>): Promise<T> {
    try {
      return await send();
    } catch (error) {
      const message = `${what} ${this.where} failed: ${describe(error)}`;
      if (isPermanent(error)) throw new DeliveryRefusedError(message, { cause: error });
      throw new DependencyError(message, { cause: error });
    }
  }
}

/**
 * A 3xx or 4xx that is not a timeout or throttling (aws-call's isRetryable): the bucket is
 * missing, refuses us, belongs to another account or lives in another region. Retrying the same
 * request cannot succeed, so it is recorded at once instead of retried by the state machine.
 */
function isPermanent(error: unknown): boolean {
  const status = (error as { $metadata?: { httpStatusCode?: number } } | null)?.$metadata?.httpStatusCode;
  if (status === undefined || isRetryable(error)) return false;
  return status >= 300 && status < 500 && status !== 408 && status !== 429;
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as { Code?: unknown }).Code;
  const name = typeof code === 'string' ? code : error.name;
  return error.message && error.message !== name ? `${name}: ${error.message}` : name;
}
