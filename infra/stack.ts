import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import { MAX_RANGE_DAYS_VARIABLE, maxRangeDaysFrom } from '../functions/adapters/runtime-config.ts';
import type { Construct } from 'constructs';
import { ExportApi, type ExportApiProps } from './constructs/api.ts';
import { ExportData, type ExportDataProps } from './constructs/data.ts';
import { LogEncryptionKey } from './constructs/log-encryption.ts';
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
   * Settings of the HTTP APIs, token and IAM (throttling of each stage, authorizer cache, log
   * retention).
   * @default - ExportApi defaults (each stage 100 requests/s, burst 200)
   */
  readonly api?: Omit<ExportApiProps, 'data' | 'paths' | 'workflow' | 'signingKey' | 'logEncryptionKey'>;
  /**
   * Settings of the export workflow (execution timeout, log retention).
   * @default - ExportWorkflow defaults
   */
  readonly workflow?: Omit<ExportWorkflowProps, 'data' | 'paths' | 'signingKey' | 'logEncryptionKey'>;
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
  readonly scheduling?: Omit<
    ExportSchedulingProps,
    'data' | 'paths' | 'workflow' | 'signingKey' | 'logEncryptionKey'
  >;
  /**
   * The longest time range one export (or a schedule's window) may cover, in whole days
   * (`MAX_RANGE_DAYS`, read by the API and the scheduled function, the two that accept ranges).
   * @default DEFAULT_MAX_RANGE_DAYS (366)
   */
  readonly maxRangeDays?: number;
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
  /** Encrypts every log group of the stack (functions, API access logs, workflow executions). */
  readonly logKey: LogEncryptionKey;
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
    this.logKey = new LogEncryptionKey(this, 'Logs');
    const logEncryptionKey = this.logKey.key;
    this.workflow = new ExportWorkflow(this, 'Workflow', {
      ...props.workflow,
      data: this.data,
      signingKey,
      logEncryptionKey,
      ...paths,
    });
    this.api = new ExportApi(this, 'Api', {
      ...props.api,
      data: this.data,
      workflow: this.workflow,
      signingKey,
      logEncryptionKey,
      ...paths,
    });

    this.scheduling = new ExportScheduling(this, 'Scheduling', {
      ...props.scheduling,
      data: this.data,
      workflow: this.workflow,
      signingKey,
      logEncryptionKey,
      ...paths,
    });
    // The API arms, pauses and removes schedules at run time (POST /v1/export-schedules, ...).
    this.scheduling.allowManaging(this.api.apiFunction);
    if (props.maxRangeDays !== undefined) {
      // Checked here, so a bad setting fails the synthesis rather than every request.
      const days = String(maxRangeDaysFrom(props.maxRangeDays, 'maxRangeDays'));
      for (const fn of [this.api.apiFunction, this.scheduling.scheduledFunction]) {
        fn.function.addEnvironment(MAX_RANGE_DAYS_VARIABLE, days);
      }
    }

    new CfnOutput(this, 'ApiUrl', {
      description: 'Base URL of the HTTP API (KEEPTRUSTS_API_URL)',
      value: this.api.url,
    });
    new CfnOutput(this, 'IamApiUrl', {
      description:
        'Base URL of the IAM-authorised HTTP API: SigV4-signed requests (kt --auth sigv4), each ' +
        'route allowed by execute-api:Invoke',
      value: this.api.iamUrl,
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
