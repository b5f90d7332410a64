import { type Adapters, createAdapters, useAdapters } from '../../functions/adapters/composition-root.ts';
import { createTables } from '../../functions/adapters/dynamodb/create-tables.ts';
import type { RuntimeConfig } from '../../functions/adapters/runtime-config.ts';
import type { WorkflowStarter } from '../../functions/core/ports.ts';
import { handler as api } from '../../functions/handlers/api.ts';
import { handler as authorizer } from '../../functions/handlers/authorizer.ts';
import { handler as scheduled } from '../../functions/handlers/scheduled.ts';
import { handler as deliver } from '../../functions/handlers/workflow/deliver.ts';
import { handler as exportPage } from '../../functions/handlers/workflow/export-page.ts';
import { handler as finalize } from '../../functions/handlers/workflow/finalize.ts';
import { handler as markFailed } from '../../functions/handlers/workflow/mark-failed.ts';
import { handler as prepare } from '../../functions/handlers/workflow/prepare.ts';
import { handler as recordAudit } from '../../functions/handlers/workflow/record-audit.ts';
import { handler as renderReport } from '../../functions/handlers/workflow/render-report.ts';
import { type AdminToken, ensureAdminToken } from './admin-token.ts';
import { openDataDir } from './data-dir.ts';
import { type EmbeddedServer, startEmbeddedDynamoDb } from './embedded-dynamodb.ts';
import { startEmbeddedS3 } from './embedded-s3.ts';
import { createHttpFront } from './http-front.ts';
import { lambdaContext } from './lambda-context.ts';
import { closeServer, listenOnLoopback } from './listen.ts';
import { LocalScheduleTrigger } from './local-scheduler.ts';
import { LOCAL_ACCOUNT_ID, LOCAL_DELIVERY_BUCKET, LOCAL_REGION, type LocalConfig } from './local-config.ts';
import { ensureLocalAwsCredentials, type LocalAwsCredentials } from './local-aws-credentials.ts';
import { LocalWorkflowRunner, type LocalWorkflowOptions } from './local-workflow.ts';
import { withPartUploadFault } from './part-upload-fault.ts';
import { resumeUnfinishedExports } from './resume-exports.ts';
import { seedDemoEvents } from './seed-demo-events.ts';
import { openLocalSigner } from './signing-key.ts';
import { SigV4Verifier } from './sigv4-verifier.ts';
import { recordSigningKey } from '../../functions/core/evidence/record-signing-key.ts';
import { renderExportWorkflowDefinition } from './workflow-definition.ts';

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
  /** The SigV4 credential pair the front accepts (`kt --auth sigv4`), and the region it signs for. */
  readonly aws: LocalAwsCredentials & { readonly region: string };
  /** Demo events seeded on this start (0 when the data dir already had them). */
  readonly seeded: number;
  readonly adapters: Adapters;
  readonly workflow: LocalWorkflowRunner;
  /** Exports left unfinished by the previous run and started again on this one. */
  readonly resumed: number;
  /** Fires schedules with croner, as EventBridge Scheduler does on AWS. */
  readonly scheduler: LocalScheduleTrigger;
  /** Enabled schedules armed again on this start (runs missed while stopped are not replayed). */
  readonly rearmed: number;
  stop(): Promise<void>;
}

export interface LocalStackHooks {
  readonly onSeedProgress?: (done: number, total: number) => void;
  readonly onRequest?: (line: string) => void;
  /** Called when an export's workflow ends in failure (its job says why). */
  readonly onExportFailed?: (exportId: string, error: unknown) => void;
  /** Test hook: retry waits by state name, in place of the definition's backoff. */
  readonly retryIntervalOverrides?: LocalWorkflowOptions['retryIntervalOverrides'];
  /** Called when a scheduled fire fails (the run's job, if any, says why). */
  readonly onScheduleError?: (schedule: string, error: unknown) => void;
  /** Test hook: the shortest interval a schedule may fire at. @default 60 */
  readonly scheduleMinIntervalMinutes?: number;
  /**
   * Test hook: what the API and the scheduler start exports with, given the local runner (a test
   * may hold starts back to keep jobs queued). Resuming unfinished exports on start uses the runner.
   * @default - the runner itself
   */
  readonly workflowStarter?: (runner: LocalWorkflowRunner) => WorkflowStarter;
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
    const deliveryBuckets = config.deliveryBuckets ?? [LOCAL_DELIVERY_BUCKET];
    const dynamodb: EmbeddedServer = await startEmbeddedDynamoDb({
      port: config.dynamodbPort,
      path: dir.dynamodbPath,
    });
    started.push(dynamodb.close);
    const s3 = await startEmbeddedS3({
      port: config.s3Port,
      directory: dir.s3Path,
      buckets: [LOCAL_RESOURCES.artifactBucket, ...deliveryBuckets],
    });
    started.push(s3.close);

    const runtime: RuntimeConfig = {
      region: LOCAL_REGION,
      ...LOCAL_RESOURCES,
      endpoints: { dynamodb: dynamodb.endpoint, s3: s3.endpoint },
      ...(config.artifactRetention === undefined ? {} : { artifactRetention: config.artifactRetention }),
      deliveryBuckets: deliveryBuckets.map((bucket) => ({ bucket, account: LOCAL_ACCOUNT_ID })),
      ...schedulesOf(config, hooks),
      ...limitsOf(config),
      ...(config.maxRangeDays === undefined ? {} : { maxRangeDays: config.maxRangeDays }),
    };
    const workflow = new LocalWorkflowRunner({
      definition: renderExportWorkflowDefinition(),
      handlers: { prepare, exportPage, renderReport, finalize, deliver, recordAudit, markFailed },
      ...(hooks.onExportFailed ? { onExecutionFailed: hooks.onExportFailed } : {}),
      ...(hooks.retryIntervalOverrides ? { retryIntervalOverrides: hooks.retryIntervalOverrides } : {}),
    });
    const scheduler = new LocalScheduleTrigger(
      (event) => scheduled(event, lambdaContext('scheduled', 60_000)),
      hooks.onScheduleError ?? reportScheduleError,
    );
    const fault = config.fault;
    const signer = await openLocalSigner(dir);
    const adapters = createAdapters(runtime, {
      workflow: hooks.workflowStarter?.(workflow) ?? workflow,
      signing: { signer, publicKeys: signer },
      scheduleTrigger: scheduler,
      ...(fault === undefined ? {} : { artifactStore: (store) => withPartUploadFault(store, fault) }),
    });
    await createTables(adapters.clients.dynamodb, runtime);
    useAdapters(adapters);
    // Stopped before the servers it writes to.
    started.push(() => workflow.stop());

    await recordSigningKey({ audit: adapters.auditLog, publicKeys: adapters.publicKeys, now: () => new Date() }, 'local-stack');
    const admin = await ensureAdminToken(dir, adapters.tokenStore, config.adminToken);
    const aws = await ensureLocalAwsCredentials(dir);
    const seeded = await seedDemoEvents(
      dir,
      adapters.eventStore,
      config.demoEvents,
      hooks.onSeedProgress ?? (() => {}),
    );

    const resumed = await resumeUnfinishedExports(adapters.jobStore, workflow);
    const rearmed = await scheduler.rearm(adapters.scheduleStore);
    // Stopped before the workflow runner its fires start executions on.
    started.push(() => scheduler.stop());

    const front = createHttpFront({
      api,
      authorizer,
      sigv4: new SigV4Verifier({ keys: [aws], region: LOCAL_REGION }),
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
      aws: { ...aws, region: LOCAL_REGION },
      seeded,
      adapters,
      workflow,
      resumed,
      scheduler,
      rearmed,
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

function schedulesOf(config: LocalConfig, hooks: LocalStackHooks): Pick<RuntimeConfig, 'schedules'> {
  const schedules = {
    ...(hooks.scheduleMinIntervalMinutes === undefined ? {} : { minIntervalMinutes: hooks.scheduleMinIntervalMinutes }),
    ...(config.maxSchedules === undefined ? {} : { maxSchedules: config.maxSchedules }),
  };
  return Object.keys(schedules).length === 0 ? {} : { schedules };
}

function limitsOf(config: LocalConfig): Pick<RuntimeConfig, 'limits'> {
  const limits = {
    ...(config.maxRunningExports === undefined ? {} : { maxRunningExportsPerPrincipal: config.maxRunningExports }),
    ...(config.maxExportRecords === undefined ? {} : { maxExportRecords: config.maxExportRecords }),
  };
  return Object.keys(limits).length === 0 ? {} : { limits };
}

function reportScheduleError(schedule: string, error: unknown): void {
  console.error(
    JSON.stringify({
      level: 'ERROR',
      message: 'A scheduled export run failed',
      schedule,
      error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
    }),
  );
}
