import { SFNClient } from '@aws-sdk/client-sfn';
import type { ExportOperationDeps } from '../core/export/operations/operation-deps.ts';
import type { ExportWorkflowDeps } from '../core/export/workflow/workflow-deps.ts';
import { newExportId } from '../core/export/export-id.ts';
import type {
  ArtifactStore,
  AuditLog,
  EventStore,
  ExportJobStore,
  TokenStore,
  WorkflowStarter,
} from '../core/ports.ts';
import { type AwsClients, createAwsClients } from './aws-clients.ts';
import { DynamoAuditLog } from './dynamodb/audit-log.ts';
import { DynamoEventStore } from './dynamodb/event-store.ts';
import { DynamoJobStore } from './dynamodb/job-store.ts';
import { DynamoTokenStore } from './dynamodb/token-store.ts';
import { ConfigurationError, type RuntimeConfig, runtimeConfigFromEnv } from './runtime-config.ts';
import { S3ArtifactStore } from './s3/artifact-store.ts';
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
  readonly workflow: WorkflowStarter;
}

export interface AdapterOverrides {
  /** The local stack runs the state machine itself. */
  readonly workflow?: WorkflowStarter;
  /** The local stack may wrap the artifact store (fault injection). */
  readonly artifactStore?: (store: ArtifactStore) => ArtifactStore;
}

export function createAdapters(config: RuntimeConfig, overrides: AdapterOverrides = {}): Adapters {
  const clients = createAwsClients(config);
  const artifactStore = new S3ArtifactStore(clients.s3, config.artifactBucket);
  return {
    config,
    clients,
    eventStore: new DynamoEventStore(clients.documents, config.eventsTable),
    tokenStore: new DynamoTokenStore(clients.documents, config.controlTable),
    jobStore: new DynamoJobStore(clients.documents, config.controlTable),
    artifactStore: overrides.artifactStore?.(artifactStore) ?? artifactStore,
    auditLog: new DynamoAuditLog(clients.documents, config.controlTable),
    workflow: overrides.workflow ?? stepFunctionsStarter(config),
  };
}

function stepFunctionsStarter(config: RuntimeConfig): WorkflowStarter {
  const arn = config.stateMachineArn;
  if (arn === undefined) {
    // Only the API Lambda starts exports; the workflow Lambdas never reach this.
    return {
      startExport: () => Promise.reject(new ConfigurationError('STATE_MACHINE_ARN')),
    };
  }
  return new StepFunctionsWorkflowStarter(new SFNClient({ region: config.region }), arn);
}

/** What the workflow steps need, from a set of adapters. */
export function workflowDeps(from: Adapters = adapters()): ExportWorkflowDeps {
  return {
    jobs: from.jobStore,
    events: from.eventStore,
    artifacts: from.artifactStore,
    audit: from.auditLog,
    now: () => new Date(),
  };
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
