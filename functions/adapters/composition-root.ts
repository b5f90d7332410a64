import type { S3Client } from '@aws-sdk/client-s3';
import { SchedulerClient } from '@aws-sdk/client-scheduler';
import { SFNClient } from '@aws-sdk/client-sfn';
import { type CheckpointObjects, DEFAULT_CHECKPOINT_EVERY } from '../core/audit/checkpoint.ts';
import type { AuditReadDeps } from '../core/audit/read-audit.ts';
import type { IngestDeps } from '../core/events/ingest.ts';
import type { KeyOperationDeps } from '../core/evidence/list-public-keys.ts';
import type { TokenOperationDeps } from '../core/auth/token-operations.ts';
import { generateToken } from '../core/auth/tokens.ts';
import type { ExportOperationDeps } from '../core/export/operations/operation-deps.ts';
import type { ScheduleOperationDeps } from '../core/schedules/schedule-operations.ts';
import type { ExportWorkflowDeps } from '../core/export/workflow/workflow-deps.ts';
import { newExportId } from '../core/export/export-id.ts';
import { DEFAULT_MAX_RUNNING_EXPORTS, type RunningExportLimit } from '../core/export/export-limits.ts';
import type {
  ArtifactStore,
  AuditLog,
  DeliveryStore,
  EventStore,
  EvidenceSigner,
  ExportJobStore,
  PublicKeyDirectory,
  TokenStore,
  RunningExportSlots,
  ScheduleStore,
  ScheduleTrigger,
  WorkflowStarter,
} from '../core/ports.ts';
import { type AwsClients, createAwsClients, createS3Client } from './aws-clients.ts';
import { DynamoAuditLog } from './dynamodb/audit-log.ts';
import { DynamoEventStore } from './dynamodb/event-store.ts';
import { DynamoJobStore } from './dynamodb/job-store.ts';
import { DynamoRunningExportSlots } from './dynamodb/running-export-slots.ts';
import { DynamoScheduleStore } from './dynamodb/schedule-store.ts';
import { DynamoTokenStore } from './dynamodb/token-store.ts';
import { type EvidenceSigning, kmsSigning } from './kms/kms-signing.ts';
import { ConfigurationError, type RuntimeConfig, runtimeConfigFromEnv } from './runtime-config.ts';
import { S3ArtifactStore } from './s3/artifact-store.ts';
import { EventBridgeScheduleTrigger } from './scheduler/eventbridge-trigger.ts';
import { S3DeliveryStore } from './s3/delivery-store.ts';
import { StepFunctionsWorkflowStarter } from './sfn/workflow-starter.ts';

/**
 * The one place that builds adapters. Handlers ask for them here; the Lambda gets them from its
 * environment, the local stack from the embedded servers' endpoints (and its own workflow runner
 * in place of Step Functions).
 */
export interface Adapters {
  readonly config: RuntimeConfig;
  readonly clients: AwsClients;
  readonly eventStore: EventStore;
  readonly tokenStore: TokenStore;
  readonly jobStore: ExportJobStore;
  readonly artifactStore: ArtifactStore;
  readonly auditLog: AuditLog;
  /** Signed checkpoints of the audit chain head, in the artifact bucket. */
  readonly auditCheckpoints: CheckpointObjects;
  readonly workflow: WorkflowStarter;
  /** Signs manifests and audit checkpoints with the current key. */
  readonly signer: EvidenceSigner;
  /** The public keys evidence verifies with (GET /v1/keys). */
  readonly publicKeys: PublicKeyDirectory;
  /** Copies artifacts to allow-listed customer buckets (config.deliveryBuckets). */
  readonly deliveryStore: DeliveryStore;
  /** Recurring export schedules, in the control table. */
  readonly scheduleStore: ScheduleStore;
  /** What fires schedules: EventBridge Scheduler, or croner on the local stack. */
  readonly scheduleTrigger: ScheduleTrigger;
  /** Each principal's running-export slots, in the control table. */
  readonly runningExportSlots: RunningExportSlots;
}

export interface AdapterOverrides {
  /** The local stack runs the state machine itself. */
  readonly workflow?: WorkflowStarter;
  /** The local stack may wrap the artifact store (fault injection). */
  readonly artifactStore?: (store: ArtifactStore) => ArtifactStore;
  /** The local stack signs with a key pair in its data folder instead of KMS. */
  readonly signing?: EvidenceSigning;
  /** The local stack fires schedules with croner instead of EventBridge Scheduler. */
  readonly scheduleTrigger?: ScheduleTrigger;
}

export function createAdapters(config: RuntimeConfig, overrides: AdapterOverrides = {}): Adapters {
  const clients = createAwsClients(config);
  const artifactStore = new S3ArtifactStore(clients.s3, config.artifactBucket);
  const signing = overrides.signing ?? kmsSigning(config);
  // Checkpoints sit in the artifact bucket, written whole like manifests.
  const auditCheckpoints: CheckpointObjects = artifactStore;
  return {
    config,
    clients,
    eventStore: new DynamoEventStore(clients.documents, config.eventsTable),
    tokenStore: new DynamoTokenStore(clients.documents, config.controlTable),
    jobStore: new DynamoJobStore(clients.documents, config.controlTable),
    artifactStore: overrides.artifactStore?.(artifactStore) ?? artifactStore,
    // Only a function that has the signing key signs checkpoints: the stack gives it to exactly
    // the functions that append to the audit trail.
    auditLog: new DynamoAuditLog(clients.documents, config.controlTable, {
      ...(overrides.signing === undefined && config.signingKeyId === undefined
        ? {}
        : {
            checkpoints: {
              objects: auditCheckpoints,
              signer: signing.signer,
              every: config.auditCheckpointEvery ?? DEFAULT_CHECKPOINT_EVERY,
              now: () => new Date(),
            },
          }),
      onCheckpointError: reportCheckpointError,
    }),
    auditCheckpoints,
    workflow: overrides.workflow ?? stepFunctionsStarter(config),
    signer: signing.signer,
    publicKeys: signing.publicKeys,
    deliveryStore: new S3DeliveryStore(clients.s3, config.artifactBucket, s3ClientsByRegion(config, clients)),
    scheduleStore: new DynamoScheduleStore(clients.documents, config.controlTable),
    scheduleTrigger: overrides.scheduleTrigger ?? eventBridgeTrigger(config),
    runningExportSlots: new DynamoRunningExportSlots(clients.documents, config.controlTable),
  };
}

/** The limit on exports one principal may have queued or running, from a set of adapters. */
function runningExportLimit(from: Adapters): RunningExportLimit {
  return {
    slots: from.runningExportSlots,
    max: from.config.limits?.maxRunningExportsPerPrincipal ?? DEFAULT_MAX_RUNNING_EXPORTS,
  };
}

/** One S3 client per region a customer bucket is in, made when first needed. */
function s3ClientsByRegion(config: RuntimeConfig, clients: AwsClients): (region: string | undefined) => S3Client {
  const byRegion = new Map<string, S3Client>([[config.region, clients.s3]]);
  return (region) => {
    const name = region ?? config.region;
    let client = byRegion.get(name);
    if (client === undefined) {
      client = createS3Client(config, name);
      byRegion.set(name, client);
    }
    return client;
  };
}

function eventBridgeTrigger(config: RuntimeConfig): ScheduleTrigger {
  const target = config.schedules?.target;
  if (target === undefined) {
    // Only the API arms schedules; the other Lambdas never reach this.
    const missing = () => Promise.reject(new ConfigurationError('SCHEDULE_GROUP_NAME'));
    return { putTrigger: missing, deleteTrigger: missing };
  }
  return new EventBridgeScheduleTrigger(new SchedulerClient({ region: config.region }), target);
}

function stepFunctionsStarter(config: RuntimeConfig): WorkflowStarter {
  const arn = config.stateMachineArn;
  if (arn === undefined) {
    // Only the API Lambda starts exports; the workflow Lambdas never reach this.
    return {
      startExport: () => Promise.reject(new ConfigurationError('STATE_MACHINE_ARN')),
      stopExport: () => Promise.reject(new ConfigurationError('STATE_MACHINE_ARN')),
    };
  }
  return new StepFunctionsWorkflowStarter(new SFNClient({ region: config.region }), arn);
}

/**
 * A checkpoint that failed to be written leaves its append done; the next append tries again.
 * Logged (one JSON line, as Lambda logs are) so a persistent failure, such as a missing grant, shows.
 */
function reportCheckpointError(error: unknown): void {
  console.error(
    JSON.stringify({
      level: 'WARN',
      message: 'Writing the audit checkpoint failed; the next append tries again',
      error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
    }),
  );
}

/** What the audit trail's API routes need, from a set of adapters. */
export function auditReadDeps(from: Adapters = adapters()): AuditReadDeps {
  return { audit: from.auditLog, checkpoints: from.auditCheckpoints };
}

/** What the workflow steps need, from a set of adapters. */
export function workflowDeps(from: Adapters = adapters()): ExportWorkflowDeps {
  return {
    jobs: from.jobStore,
    events: from.eventStore,
    artifacts: from.artifactStore,
    audit: from.auditLog,
    signer: from.signer,
    now: () => new Date(),
    delivery: from.deliveryStore,
    deliveryBuckets: from.config.deliveryBuckets ?? [],
    runningExportSlots: from.runningExportSlots,
    ...(from.config.limits?.maxExportRecords === undefined ? {} : { maxExportRecords: from.config.limits.maxExportRecords }),
  };
}

/** What ingest needs, from a set of adapters. */
export function ingestDeps(from: Adapters = adapters()): IngestDeps {
  return { events: from.eventStore, audit: from.auditLog, now: () => new Date() };
}

/** What the token routes need, from a set of adapters. */
export function tokenOperationDeps(from: Adapters = adapters()): TokenOperationDeps {
  return { tokens: from.tokenStore, audit: from.auditLog, now: () => new Date(), newSecret: generateToken };
}

/** What GET /v1/keys needs, from a set of adapters. */
export function keyOperationDeps(from: Adapters = adapters()): KeyOperationDeps {
  return { publicKeys: from.publicKeys };
}

/** What the API's export operations need, from a set of adapters. */
export function exportOperationDeps(from: Adapters = adapters()): ExportOperationDeps {
  return {
    jobs: from.jobStore,
    artifacts: from.artifactStore,
    audit: from.auditLog,
    workflow: from.workflow,
    now: () => new Date(),
    newId: newExportId,
    ...(from.config.artifactRetention === undefined ? {} : { retention: from.config.artifactRetention }),
    deliveryBuckets: from.config.deliveryBuckets ?? [],
    runningExports: runningExportLimit(from),
    ...(from.config.maxRangeDays === undefined ? {} : { maxRangeDays: from.config.maxRangeDays }),
  };
}

/** What the schedule operations and the scheduled Lambda need, from a set of adapters. */
export function scheduleOperationDeps(from: Adapters = adapters()): ScheduleOperationDeps {
  const settings = from.config.schedules;
  return {
    schedules: from.scheduleStore,
    trigger: from.scheduleTrigger,
    jobs: from.jobStore,
    audit: from.auditLog,
    workflow: from.workflow,
    now: () => new Date(),
    ...(settings?.maxSchedules === undefined ? {} : { maxSchedules: settings.maxSchedules }),
    ...(settings?.minIntervalMinutes === undefined ? {} : { minIntervalMinutes: settings.minIntervalMinutes }),
    deliveryBuckets: from.config.deliveryBuckets ?? [],
    runningExports: runningExportLimit(from),
    ...(from.config.maxRangeDays === undefined ? {} : { maxRangeDays: from.config.maxRangeDays }),
  };
}

let current: Adapters | undefined;

/** Adapters for this process, built once (at a Lambda's cold start) unless set by the local stack. */
export function adapters(): Adapters {
  current ??= createAdapters(runtimeConfigFromEnv());
  return current;
}

/** The local stack installs adapters for its embedded servers before it serves a request. */
export function useAdapters(value: Adapters): void {
  current = value;
}
