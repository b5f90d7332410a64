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
  const s3 = new S3Client({
    region: config.region,
    ...(local
      ? {
          endpoint: local.s3,
          credentials: LOCAL_CREDENTIALS,
          forcePathStyle: true,
          // s3rver stores aws-chunked framing verbatim when the SDK adds flexible checksums.
          requestChecksumCalculation: 'WHEN_REQUIRED' as const,
          responseChecksumValidation: 'WHEN_REQUIRED' as const,
        }
      : {}),
  });
  return { dynamodb, documents, s3 };
}
