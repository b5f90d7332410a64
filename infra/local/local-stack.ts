import { type Adapters, createAdapters, useAdapters } from '../../functions/adapters/composition-root.ts';
import { createTables } from '../../functions/adapters/dynamodb/create-tables.ts';
import type { RuntimeConfig } from '../../functions/adapters/runtime-config.ts';
import { handler as api } from '../../functions/handlers/api.ts';
import { handler as authorizer } from '../../functions/handlers/authorizer.ts';
import { type AdminToken, ensureAdminToken } from './admin-token.ts';
import { openDataDir } from './data-dir.ts';
import { type EmbeddedServer, startEmbeddedDynamoDb } from './embedded-dynamodb.ts';
import { startEmbeddedS3 } from './embedded-s3.ts';
import { createHttpFront } from './http-front.ts';
import { closeServer, listenOnLoopback } from './listen.ts';
import type { LocalConfig } from './local-config.ts';
import { seedDemoEvents } from './seed-demo-events.ts';

export const LOCAL_RESOURCES = {
  eventsTable: 'keeptrusts-decision-events',
  controlTable: 'keeptrusts-export-control',
  artifactBucket: 'keeptrusts-artifacts',
} as const;

export interface LocalStack {
  readonly apiUrl: string;
  readonly dynamodbEndpoint: string;
  readonly s3Endpoint: string;
  readonly dataDir: string;
  readonly admin: AdminToken;
  /** Demo events seeded on this start (0 when the data dir already had them). */
  readonly seeded: number;
  readonly adapters: Adapters;
  stop(): Promise<void>;
}

export interface LocalStackHooks {
  readonly onSeedProgress?: (done: number, total: number) => void;
  readonly onRequest?: (line: string) => void;
}

/**
 * Starts the whole system in this process: embedded DynamoDB and S3 with data under the data
 * dir, the tables and bucket the CDK stack defines, and the HTTP front calling the Lambda
 * handlers. Whatever started is stopped again if a later step fails.
 */
export async function startLocalStack(config: LocalConfig, hooks: LocalStackHooks = {}): Promise<LocalStack> {
  const started: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const stop of started.reverse()) await stop().catch(() => undefined);
    started.length = 0;
  };
  try {
    const dir = await openDataDir(config.dataDir);
    const dynamodb: EmbeddedServer = await startEmbeddedDynamoDb({
      port: config.dynamodbPort,
      path: dir.dynamodbPath,
    });
    started.push(dynamodb.close);
    const s3 = await startEmbeddedS3({
      port: config.s3Port,
      directory: dir.s3Path,
      buckets: [LOCAL_RESOURCES.artifactBucket],
    });
    started.push(s3.close);

    const runtime: RuntimeConfig = {
      region: 'us-east-1',
      ...LOCAL_RESOURCES,
      endpoints: { dynamodb: dynamodb.endpoint, s3: s3.endpoint },
    };
    const adapters = createAdapters(runtime);
    await createTables(adapters.clients.dynamodb, runtime);
    useAdapters(adapters);

    const admin = await ensureAdminToken(dir, adapters.tokenStore, config.adminToken);
    const seeded = await seedDemoEvents(
      dir,
      adapters.eventStore,
      config.demoEvents,
      hooks.onSeedProgress ?? (() => {}),
    );

    const front = createHttpFront({
      api,
      authorizer,
      ...(hooks.onRequest ? { onRequest: hooks.onRequest } : {}),
    });
    const apiPort = await listenOnLoopback(front, config.apiPort, 'the API', 'PORT');
    started.push(() => closeServer(front));

    return {
      apiUrl: `http://localhost:${apiPort}`,
      dynamodbEndpoint: dynamodb.endpoint,
      s3Endpoint: s3.endpoint,
      dataDir: dir.root,
      admin,
      seeded,
      adapters,
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
