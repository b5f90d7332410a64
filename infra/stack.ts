import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { ExportApi, type ExportApiProps } from './constructs/api.ts';
import { ExportData, type ExportDataProps } from './constructs/data.ts';
import { EvidenceSigningKey, type EvidenceSigningKeyProps } from './constructs/signing.ts';
import { ExportScheduling, type ExportSchedulingProps } from './constructs/scheduling.ts';
import { ExportWorkflow, type ExportWorkflowProps } from './constructs/workflow.ts';
import type { ProjectPaths } from './paths.ts';

/** The construct id (and default stack name) the app uses. */
export const STACK_ID = 'KeeptrustsExport';

export interface KeeptrustsExportStackProps extends StackProps {
  /**
   * Settings of the data layer (key, artifact version and access-log retention, and
   * `artifactRetention`: S3 Object Lock on the artifact bucket, which DELETE /v1/exports/{id}
   * then enforces).
   * @default - ExportData defaults (no Object Lock)
   */
  readonly data?: ExportDataProps;
  /**
   * Settings of the HTTP API (throttling, authorizer cache, log retention).
   * @default - ExportApi defaults
   */
  readonly api?: Omit<ExportApiProps, 'data' | 'paths' | 'workflow' | 'signingKey'>;
  /**
   * Settings of the export workflow (execution timeout, log retention).
   * @default - ExportWorkflow defaults
   */
  readonly workflow?: Omit<ExportWorkflowProps, 'data' | 'paths' | 'signingKey'>;
  /**
   * Settings of the evidence signing key (retired keys that still verify old evidence).
   * @default - EvidenceSigningKey defaults
   */
  readonly signing?: EvidenceSigningKeyProps;
  /**
   * Settings of recurring exports (schedule group name, dead-letter retention, the limits on
   * schedules).
   * @default - ExportScheduling defaults (at most 100 schedules, none more often than hourly)
   */
  readonly scheduling?: Omit<ExportSchedulingProps, 'data' | 'paths' | 'workflow' | 'signingKey'>;
  /**
   * Where the handler sources and the lock file are.
   * @default - found from the working directory (the folder holding cdk.json)
   */
  readonly paths?: ProjectPaths;
}

/**
 * Keeptrusts Export on AWS. Environment-agnostic (no account or region, no lookups), so it
 * synthesizes offline; `cdk deploy` resolves the environment from the credentials in use.
 */
export class KeeptrustsExportStack extends Stack {
  readonly data: ExportData;
  readonly signingKey: EvidenceSigningKey;
  readonly workflow: ExportWorkflow;
  readonly api: ExportApi;
  readonly scheduling: ExportScheduling;

  constructor(scope: Construct, id: string, props: KeeptrustsExportStackProps = {}) {
    super(scope, id, {
      description: 'Keeptrusts Export: compliance evidence exports of gateway decision events',
      ...props,
    });

    const paths = props.paths === undefined ? {} : { paths: props.paths };
    this.data = new ExportData(this, 'Data', props.data);
    this.signingKey = new EvidenceSigningKey(this, 'Signing', props.signing);
    const signingKey = this.signingKey;
    this.workflow = new ExportWorkflow(this, 'Workflow', {
      ...props.workflow,
      data: this.data,
      signingKey,
      ...paths,
    });
    this.api = new ExportApi(this, 'Api', {
      ...props.api,
      data: this.data,
      workflow: this.workflow,
      signingKey,
      ...paths,
    });

    this.scheduling = new ExportScheduling(this, 'Scheduling', {
      ...props.scheduling,
      data: this.data,
      workflow: this.workflow,
      signingKey,
      ...paths,
    });
    // The API arms, pauses and removes schedules at run time (POST /v1/export-schedules, ...).
    this.scheduling.allowManaging(this.api.apiFunction);

    new CfnOutput(this, 'ApiUrl', {
      description: 'Base URL of the HTTP API (KEEPTRUSTS_API_URL)',
      value: this.api.url,
    });
    new CfnOutput(this, 'StateMachineArn', {
      description: 'The export workflow (STATE_MACHINE_ARN); executions are named after export ids',
      value: this.workflow.stateMachine.stateMachineArn,
    });
    new CfnOutput(this, 'ScheduleGroupName', {
      description: 'The EventBridge Scheduler group recurring exports live in (SCHEDULE_GROUP_NAME)',
      value: this.scheduling.group.scheduleGroupName,
    });
    new CfnOutput(this, 'ScheduleDeadLetterQueueUrl', {
      description: 'Scheduled fires that failed every retry',
      value: this.scheduling.deadLetterQueue.queueUrl,
    });
    new CfnOutput(this, 'EventsTableName', {
      description: 'DecisionEvents table (EVENTS_TABLE)',
      value: this.data.eventsTable.tableName,
    });
    new CfnOutput(this, 'ControlTableName', {
      description: 'ExportControl table: jobs, schedules, tokens, audit (CONTROL_TABLE)',
      value: this.data.controlTable.tableName,
    });
    new CfnOutput(this, 'SigningKeyArn', {
      description: 'The KMS key that signs evidence (SIGNING_KEY_ID); its public key is at GET /v1/keys',
      value: this.signingKey.key.keyArn,
    });
    new CfnOutput(this, 'ArtifactBucketName', {
      description: 'Export artifacts and manifests (ARTIFACT_BUCKET)',
      value: this.data.artifactBucket.bucketName,
    });
  }
}
