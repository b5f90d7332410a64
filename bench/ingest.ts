import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchWriteCommand, DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createAwsClients } from '../functions/adapters/aws-clients.ts';
import { eventItem } from '../functions/adapters/dynamodb/event-keys.ts';
import { DynamoEventStore } from '../functions/adapters/dynamodb/event-store.ts';
import type { DecisionEvent } from '../functions/core/events/decision-event.ts';
import { generateDemoEvents } from '../functions/core/events/demo-events.ts';
import { storeEvents } from '../functions/core/events/store-events.ts';
import { formatCount } from '../cli/output.ts';
import { freePort } from '../test/support/free-port.ts';
import { startLocalStackProcess } from '../test/support/processes.ts';

const ROUNDS = 5;
const API_BATCH = 500;
const API_IN_FLIGHT = 4;
const RAW_BATCH = 25;
// The API path writes each 500-event batch as 25-item BatchWriteItems, 4 at a time, with 4
// batches in flight: 16 concurrent writes. The raw path gets the same concurrency.
const RAW_IN_FLIGHT = 16;
const EVENTS_TABLE = 'keeptrusts-decision-events';

/**
 * Ingest through the local stack's API (HTTP front → authorizer → API handler → DynamoDB) against
 * raw BatchWriteItem of the same kind of items into the same embedded DynamoDB, in alternating
 * rounds so that machine noise falls on both alike. A third path runs the API's storage work
 * alone: the event store's write-once storeEvents, called from this process.
 */
export async function benchIngest(options: { events?: number }): Promise<void> {
  const perPath = options.events ?? 50_000;
  const dataDir = mkdtempSync(path.join(tmpdir(), 'kt-bench-ingest-'));
  const dynamodbPort = await freePort();
  const stack = await startLocalStackProcess({
    PORT: String(await freePort()),
    KT_DYNAMODB_PORT: String(dynamodbPort),
    KT_S3_PORT: String(await freePort()),
    KT_DATA_DIR: dataDir,
    KT_DEMO_EVENTS: '0',
    KT_LOG_REQUESTS: '0',
    KEEPTRUSTS_API_TOKEN: '',
  });
  const dynamodb = new DynamoDBClient({
    region: 'us-east-1',
    endpoint: `http://127.0.0.1:${dynamodbPort}`,
    credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' },
    maxAttempts: 10,
  });
  // The event store as the API's composition root builds it (same client settings).
  const clients = createAwsClients({
    region: 'us-east-1',
    eventsTable: EVENTS_TABLE,
    controlTable: 'unused',
    artifactBucket: 'unused',
    endpoints: { dynamodb: `http://127.0.0.1:${dynamodbPort}`, s3: 'http://127.0.0.1:9' },
  });
  clients.s3.destroy();
  const store = new DynamoEventStore(clients.documents, EVENTS_TABLE);
  try {
    const range = { from: new Date('2026-03-01T00:00:00Z'), to: new Date('2026-03-31T23:59:59Z') };
    const apiEvents = [...generateDemoEvents({ count: perPath, ...range, seed: 1 })];
    const rawEvents = [...generateDemoEvents({ count: perPath, ...range, seed: 2 })];
    const guardedEvents = [...generateDemoEvents({ count: perPath, ...range, seed: 3 })];
    const perRound = Math.ceil(perPath / ROUNDS);
    let apiMs = 0;
    let rawMs = 0;
    let guardedMs = 0;
    console.log(`ingest: ${formatCount(perPath)} events per path in ${ROUNDS} alternating rounds`);
    for (let round = 0; round < ROUNDS; round++) {
      const slice = (events: DecisionEvent[]) => events.slice(round * perRound, (round + 1) * perRound);
      rawMs += await timed(() => rawBatchWrite(dynamodb, slice(rawEvents)));
      apiMs += await timed(() => apiIngest(stack.apiUrl, stack.token, slice(apiEvents)));
      guardedMs += await timed(() => storeWithoutApi(store, slice(guardedEvents)));
    }
    const apiRate = perPath / (apiMs / 1000);
    const rawRate = perPath / (rawMs / 1000);
    const guardedRate = perPath / (guardedMs / 1000);
    console.log(`  API ingest (POST /v1/events, ${API_BATCH}/batch, ${API_IN_FLIGHT} in flight)  ${rate(apiRate)}`);
    console.log(`  raw BatchWriteItem (${RAW_BATCH}/request, ${RAW_IN_FLIGHT} in flight)          ${rate(rawRate)}`);
    console.log(`  storeEvents without the API (${API_BATCH}/call, ${API_IN_FLIGHT} in flight)       ${rate(guardedRate)}`);
    console.log(`  ratio API / raw: ${(apiRate / rawRate).toFixed(2)}`);
    console.log(`  ratio storeEvents / raw (write-once storage alone, no API): ${(guardedRate / rawRate).toFixed(2)}`);
  } finally {
    dynamodb.destroy();
    clients.dynamodb.destroy();
    await stack.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const rate = (perSecond: number) => `${formatCount(Math.round(perSecond)).padStart(8)} events/s`;

async function timed(work: () => Promise<void>): Promise<number> {
  const started = performance.now();
  await work();
  return performance.now() - started;
}

async function inParallel<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await work(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  return Array.from({ length: Math.ceil(items.length / size) }, (_, i) => items.slice(i * size, (i + 1) * size));
}

async function apiIngest(apiUrl: string, token: string, events: readonly DecisionEvent[]): Promise<void> {
  await inParallel(chunks(events, API_BATCH), API_IN_FLIGHT, async (batch) => {
    const response = await fetch(`${apiUrl}/v1/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ events: batch }),
    });
    const body = (await response.json()) as { written?: number };
    if (response.status !== 200 || body.written !== batch.length) {
      throw new Error(`API ingest answered ${response.status}: ${JSON.stringify(body)}`);
    }
  });
}

/** BatchWriteItem with the same item shape and marshalling the event store uses, and nothing else. */
async function rawBatchWrite(client: DynamoDBClient, events: readonly DecisionEvent[]): Promise<void> {
  const documents = DynamoDBDocumentClient.from(client);
  await inParallel(chunks(events, RAW_BATCH), RAW_IN_FLIGHT, async (batch) => {
    let requests = batch.map((event) => ({ PutRequest: { Item: { ...eventItem(event) } } }));
    while (requests.length > 0) {
      const out = await documents.send(new BatchWriteCommand({ RequestItems: { [EVENTS_TABLE]: requests } }));
      requests = (out.UnprocessedItems?.[EVENTS_TABLE] ?? []) as typeof requests;
    }
  });
}

/**
 * The storage work of write-once ingest without the API, done as the API does it: the event
 * store's storeEvents (one TransactWriteItems of id records per 100 events, then the event items
 * by BatchWriteItem) on the API path's batches, as many in flight.
 */
async function storeWithoutApi(store: DynamoEventStore, events: readonly DecisionEvent[]): Promise<void> {
  await inParallel(chunks(events, API_BATCH), API_IN_FLIGHT, async (batch) => {
    const outcome = await storeEvents(store, batch);
    if (outcome.written.length !== batch.length) {
      throw new Error(`storeEvents wrote ${outcome.written.length} of ${batch.length}: ${JSON.stringify(outcome.failed[0])}`);
    }
  });
}
