import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { CheckpointObjects } from '../../core/audit/checkpoint.ts';
import { DependencyError } from '../../core/errors.ts';
import { contentMd5 } from './content-md5.ts';

/**
 * Audit checkpoints (small JSON documents) in the artifact bucket, under the keys the core names
 * (`audit/checkpoints/…`). I/O only: S3 failures become DependencyError, a missing object undefined.
 */
export class S3CheckpointObjects implements CheckpointObjects {
  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
  ) {}

  async putCheckpointObject(key: string, body: string): Promise<void> {
    try {
      await this.s3.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Body: body,
          ContentType: 'application/json',
          ContentMD5: contentMd5(body),
        }),
      );
    } catch (error) {
      throw new DependencyError(`Writing s3://${this.bucket}/${key} failed: ${describe(error)}`, {
        cause: error,
      });
    }
  }

  async getCheckpointObject(key: string): Promise<string | undefined> {
    try {
      const output = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      return (await output.Body?.transformToString('utf-8')) ?? '';
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw new DependencyError(`Reading s3://${this.bucket}/${key} failed: ${describe(error)}`, {
        cause: error,
      });
    }
  }
}

function isNotFound(error: unknown): boolean {
  const name = error instanceof Error ? error.name : undefined;
  const status = (error as { $metadata?: { httpStatusCode?: number } } | null)?.$metadata?.httpStatusCode;
  return name === 'NoSuchKey' || name === 'NotFound' || status === 404;
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
