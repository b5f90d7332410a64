import path from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createTables } from '../functions/adapters/dynamodb/create-tables.ts';
import { startEmbeddedDynamoDb } from '../infra/local/embedded-dynamodb.ts';
import { startEmbeddedS3 } from '../infra/local/embedded-s3.ts';

/**
 * The embedded DynamoDB (dynalite, on disk) and S3 (s3rver) for `npm run bench -- export`, in a
 * process of their own so that the exporter's peak RSS is its own. Run as
 * `tsx bench/servers.ts <data dir> <events table> <control table> <bucket>`; prints one JSON line
 * `{"dynamodb":…,"s3":…}` once the tables and bucket exist, and stops when stdin closes or on
 * SIGTERM/SIGINT. The caller owns (and removes) the data dir.
 */
async function main(): Promise<void> {
  const [dataDir, eventsTable, controlTable, bucket] = process.argv.slice(2);
  if (!dataDir || !eventsTable || !controlTable || !bucket) {
    throw new Error('usage: servers.ts <data dir> <events table> <control table> <bucket>');
  }
  const dynamodb = await startEmbeddedDynamoDb({ port: 0, path: path.join(dataDir, 'dynamodb') });
  const s3 = await startEmbeddedS3({ port: 0, directory: path.join(dataDir, 's3'), buckets: [bucket] });
  const client = new DynamoDBClient({
    region: 'us-east-1',
    endpoint: dynamodb.endpoint,
    credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' },
  });
  await createTables(client, { eventsTable, controlTable });
  client.destroy();

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await Promise.allSettled([dynamodb.close(), s3.close()]);
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop());
  process.on('SIGINT', () => void stop());
  // The parent holds our stdin open: if it dies, stdin ends and the servers do not linger.
  process.stdin.on('end', () => void stop());
  process.stdin.resume();
  process.stdout.write(`${JSON.stringify({ dynamodb: dynamodb.endpoint, s3: s3.endpoint })}\n`);
}

main().catch((error: unknown) => {
  console.error(`bench servers: ${(error as Error).stack ?? String(error)}`);
  process.exit(1);
});
