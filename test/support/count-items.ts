import { type DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';

/** Items in a table, counted independently of the code under test (every Scan page). */
export async function countItems(client: DynamoDBClient, table: string): Promise<number> {
  let count = 0;
  let start: Record<string, unknown> | undefined;
  do {
    const page = await client.send(
      new ScanCommand({
        TableName: table,
        Select: 'COUNT',
        ...(start ? { ExclusiveStartKey: start as never } : {}),
      }),
    );
    count += page.Count ?? 0;
    start = page.LastEvaluatedKey;
  } while (start !== undefined);
  return count;
}
