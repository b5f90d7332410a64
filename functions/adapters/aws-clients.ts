import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import type { RuntimeConfig } from './runtime-config.ts';

/** s3rver accepts only this access key; dynalite accepts any. */
const LOCAL_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

export interface AwsClients {
  readonly dynamodb: DynamoDBClient;
  readonly documents: DynamoDBDocumentClient;
  readonly s3: S3Client;
}

export function createAwsClients(config: RuntimeConfig): AwsClients {
  const local = config.endpoints;
  const dynamodb = new DynamoDBClient({
    region: config.region,
    maxAttempts: 5,
    ...(local ? { endpoint: local.dynamodb, credentials: LOCAL_CREDENTIALS } : {}),
  });
  const documents = DynamoDBDocumentClient.from(dynamodb, {
    marshallOptions: { removeUndefinedValues: true },
  });
  const s3 = createS3Client(config, config.region);
  return { dynamodb, documents, s3 };
}

/** An S3 client for `region` (customer buckets may live in another region than ours). */
export function createS3Client(config: RuntimeConfig, region: string): S3Client {
  const local = config.endpoints;
  return new S3Client({
    region,
    // Checksums only where S3 requires them, locally and on AWS alike: s3rver stores the
    // aws-chunked framing of flexible checksums verbatim, and on AWS a part sent with a CRC32
    // would oblige the upload's completion to list every part's CRC32 too. Artifacts are
    // verified end to end instead: the SHA-256 of every byte uploaded and the stored size.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    ...(local ? { endpoint: local.s3, credentials: LOCAL_CREDENTIALS, forcePathStyle: true } : {}),
  });
}
