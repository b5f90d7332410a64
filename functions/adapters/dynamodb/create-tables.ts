import {
  type AttributeDefinition,
  CreateTableCommand,
  DescribeTableCommand,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { DECISION_EVENTS_TABLE, EXPORT_CONTROL_TABLE, type TableLayout } from './tables.ts';

export interface TableNames {
  readonly eventsTable: string;
  readonly controlTable: string;
}

/**
 * Creates both tables from the layouts in tables.ts (the CDK stack uses the same layouts) and
 * waits until they and their indexes are ACTIVE. Tables that already exist are left as they are,
 * so the local stack can call this on every start.
 */
export async function createTables(
  client: DynamoDBClient,
  names: TableNames,
  options: { readonly timeoutMs?: number } = {},
): Promise<void> {
  const tables: [string, TableLayout][] = [
    [names.eventsTable, DECISION_EVENTS_TABLE],
    [names.controlTable, EXPORT_CONTROL_TABLE],
  ];
  await Promise.all(tables.map(([name, layout]) => createTable(client, name, layout)));
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  await Promise.all(tables.map(([name]) => waitUntilActive(client, name, deadline)));
}

async function createTable(client: DynamoDBClient, tableName: string, layout: TableLayout): Promise<void> {
  const attributes = new Map<string, AttributeDefinition>();
  for (const key of [
    layout.partitionKey,
    layout.sortKey,
    ...layout.indexes.flatMap((i) => [i.partitionKey, i.sortKey]),
  ]) {
    attributes.set(key.name, { AttributeName: key.name, AttributeType: key.type });
  }
  try {
    await client.send(
      new CreateTableCommand({
        TableName: tableName,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [...attributes.values()],
        KeySchema: [
          { AttributeName: layout.partitionKey.name, KeyType: 'HASH' },
          { AttributeName: layout.sortKey.name, KeyType: 'RANGE' },
        ],
        ...(layout.indexes.length === 0
          ? {}
          : {
              GlobalSecondaryIndexes: layout.indexes.map((index) => ({
                IndexName: index.indexName,
                KeySchema: [
                  { AttributeName: index.partitionKey.name, KeyType: 'HASH' as const },
                  { AttributeName: index.sortKey.name, KeyType: 'RANGE' as const },
                ],
                Projection: { ProjectionType: 'ALL' as const },
              })),
            }),
      }),
    );
  } catch (error) {
    // Compared by name: an error class from another copy of the SDK would fail instanceof.
    if (!(error instanceof Error && error.name === 'ResourceInUseException')) throw error;
  }
}

async function waitUntilActive(client: DynamoDBClient, tableName: string, deadline: number): Promise<void> {
  for (;;) {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
    const indexesActive = (Table?.GlobalSecondaryIndexes ?? []).every(
      (index) => index.IndexStatus === 'ACTIVE',
    );
    if (Table?.TableStatus === 'ACTIVE' && indexesActive) return;
    if (Date.now() > deadline) throw new Error(`Table ${tableName} did not become ACTIVE in time`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
