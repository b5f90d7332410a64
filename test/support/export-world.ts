import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  type Adapters,
  createAdapters,
  type AdapterOverrides,
} from '../../functions/adapters/composition-root.ts';
import { createTables } from '../../functions/adapters/dynamodb/create-tables.ts';
import { LocalEvidenceSigner } from '../../functions/adapters/local/local-signer.ts';
import { startEmbeddedDynamoDb } from '../../infra/local/embedded-dynamodb.ts';
import { startEmbeddedS3 } from '../../infra/local/embedded-s3.ts';

/**
 * The real embedded DynamoDB and S3 on free ports, with tables and a bucket to build any number
 * of independent "worlds" (adapters over their own control table and bucket) that share one
 * decision-events table: two exports of the same events can then run side by side.
 */
const MAX_WORLDS = 8;

export interface ExportServers {
  readonly eventsTable: string;
  world(name: string, overrides?: AdapterOverrides): Promise<Adapters>;
  close(): Promise<void>;
}

export async function startExportServers(): Promise<ExportServers> {
  const directory = mkdtempSync(path.join(tmpdir(), 'kt-export-s3-'));
  const dynamodb = await startEmbeddedDynamoDb({ port: 0 });
  const worlds: Adapters[] = [];
  const suffix = Math.random().toString(36).slice(2, 8);
  const eventsTable = `DecisionEvents-${suffix}`;
  // s3rver creates its buckets at start: enough for every world a test file builds.
  const bucketNames = Array.from({ length: MAX_WORLDS }, (_, i) => `artifacts-${i}-${suffix}`);
  const s3 = await startEmbeddedS3({ port: 0, directory, buckets: bucketNames });
  return {
    eventsTable,
    async world(name, overrides = {}) {
      const index = worlds.length;
      const bucket = bucketNames[index];
      if (bucket === undefined) throw new Error(`at most ${MAX_WORLDS} worlds per test file`);
      const config = {
        region: 'us-east-1',
        eventsTable,
        controlTable: `ExportControl-${name}-${suffix}`,
        artifactBucket: bucket,
        endpoints: { dynamodb: dynamodb.endpoint, s3: s3.endpoint },
      };
      // Each world signs with its own key pair, as each deployment would.
      const signer = await LocalEvidenceSigner.open({
        privateKeyFile: path.join(directory, `${name}-signing-key.pem`),
        publicKeysDir: path.join(directory, `${name}-keys`),
      });
      const adapters = createAdapters(config, { signing: { signer, publicKeys: signer }, ...overrides });
      await createTables(adapters.clients.dynamodb, config);
      worlds.push(adapters);
      return adapters;
    },
    async close() {
      for (const world of worlds) {
        world.clients.dynamodb.destroy();
        world.clients.s3.destroy();
      }
      await s3.close();
      await dynamodb.close();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}
