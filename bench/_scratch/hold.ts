// Temporary investigation helper (to be deleted): servers on a kept data dir, loaded once.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchWriteCommand, DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { eventItem } from '../../functions/adapters/dynamodb/event-keys.ts';
import { generateDemoEvents } from '../../functions/core/events/demo-events.ts';

const [dir, countText] = process.argv.slice(2);
const total = Number(countText);
mkdirSync(dir!, { recursive: true });
const child = spawn(process.execPath, ['--import', 'tsx', 'bench/servers.ts', dir!, 'keeptrusts-decision-events', 'keeptrusts-export-control', 'keeptrusts-artifacts'], { stdio: ['pipe', 'pipe', 'inherit'] });
child.stdout!.once('data', async (chunk: Buffer) => {
  const endpoints = JSON.parse(chunk.toString());
  writeFileSync(path.join(dir!, 'endpoints.json'), JSON.stringify(endpoints));
  if (!existsSync(path.join(dir!, 'loaded'))) {
    const documents = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1', endpoint: endpoints.dynamodb, credentials: { accessKeyId: 'b', secretAccessKey: 'b' }, maxAttempts: 10 }));
    const events = generateDemoEvents({ count: total, from: new Date('2026-03-01T00:00:00Z'), to: new Date('2026-03-31T23:59:59Z'), seed: 7 });
    const worker = async () => {
      for (;;) {
        const batch = [];
        for (let n = events.next(); !n.done; n = events.next()) { batch.push(n.value); if (batch.length === 25) break; }
        if (batch.length === 0) return;
        let requests = batch.map((e) => ({ PutRequest: { Item: { ...eventItem(e) } } }));
        while (requests.length > 0) {
          const out = await documents.send(new BatchWriteCommand({ RequestItems: { 'keeptrusts-decision-events': requests } }));
          requests = (out.UnprocessedItems?.['keeptrusts-decision-events'] ?? []) as typeof requests;
        }
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));
    writeFileSync(path.join(dir!, 'loaded'), '1');
  }
  console.log('ready', JSON.stringify(endpoints));
});
