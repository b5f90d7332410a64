import { randomUUID } from 'node:crypto';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createAwsClients } from '../../functions/adapters/aws-clients.ts';
import { createTables, type TableNames } from '../../functions/adapters/dynamodb/create-tables.ts';
import { startEmbeddedDynamoDb as startServer } from '../../infra/local/embedded-dynamodb.ts';

export interface EmbeddedDynamoDb {
  readonly endpoint: string;
  readonly client: DynamoDBClient;
  readonly documents: DynamoDBDocumentClient;
  readonly tables: TableNames;
  close(): Promise<void>;
}

/**
 * The local stack's in-memory dynalite on a free loopback port, with both tables created under
 * names unique to this call, so test files can run in parallel without seeing each other's items.
 */
export async function startEmbeddedDynamoDb(): Promise<EmbeddedDynamoDb> {
  const server = await startServer({ port: 0 });
  const suffix = randomUUID().slice(0, 8);
  const tables = { eventsTable: `DecisionEvents-${suffix}`, controlTable: `ExportControl-${suffix}` };
  const { dynamodb, documents, s3 } = createAwsClients({
    region: 'us-east-1',
    ...tables,
    artifactBucket: 'unused',
    endpoints: { dynamodb: server.endpoint, s3: 'http://127.0.0.1:9' },
  });
  s3.destroy();
  await createTables(dynamodb, tables);
  return {
    endpoint: server.endpoint,
    client: dynamodb,
    documents,
    tables,
    async close() {
      dynamodb.destroy();
      await server.close();
    },
  };
}
