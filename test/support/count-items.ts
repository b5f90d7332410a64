import { type DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';

/**
 * Items in a table, counted independently of the code under test (every Scan page); with
 * `pkPrefix`, only items whose pk starts with it (`D#` event items, `ID#` event id records).
 */
export async function countItems(client: DynamoDBClient, table: string, pkPrefix?: string): Promise<number> {
  let count = 0;
  let start: Record<string, unknown> | undefined;
  do {
    const page = await client.send(
      new ScanCommand({
        TableName: table,
        Select: 'COUNT',
        ...(pkPrefix === undefined
          ? {}
          : {
              FilterExpression: 'begins_with(pk, :prefix)',
              ExpressionAttributeValues: { ':prefix': { S: pkPrefix } },
            }),
        ...(start ? { ExclusiveStartKey: start as never } : {}),
      }),
    );
    count += page.Count ?? 0;
    start = page.LastEvaluatedKey;
  } while (start !== undefined);
  return count;
}
