import { type CfnElement, Duration, Stack, Token, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { SCHEDULER_VARIABLES } from '../../functions/adapters/scheduler/scheduler-settings.ts';
import { type ProjectPaths, projectPaths } from '../paths.ts';
import type { IExportData } from './data.ts';
import { ExportFunction } from './function.ts';
import type { IEvidenceSigningKey } from './signing.ts';
import type { IExportWorkflow } from './workflow.ts';

/** The API's runtime calls on the group's schedules, and nothing else of Scheduler's. */
export const SCHEDULE_MANAGEMENT_ACTIONS = [
  'scheduler:CreateSchedule',
  'scheduler:UpdateSchedule',
  'scheduler:DeleteSchedule',
  'scheduler:GetSchedule',
] as const;

export interface ExportSchedulingProps {
  /** The tables the scheduled Lambda stores runs in; grants are taken from it. */
  readonly data: IExportData;
  /** The export workflow each run starts. */
  readonly workflow: IExportWorkflow;
  /** Runs append `export.created` to the audit trail, which may sign a checkpoint. */
  readonly signingKey: IEvidenceSigningKey;
  /**
   * Where the handler entry files and the lock file are.
   * @default - found from the working directory (the folder holding cdk.json)
   */
  readonly paths?: ProjectPaths;
  /**
   * The Scheduler schedule group's name.
   * @default - a name CloudFormation generates
   */
  readonly scheduleGroupName?: string;
  /**
   * How long fires that failed every retry stay in the dead-letter queue for someone to look at
   * (and to backfill with `kt export schedule run --at`).
   * @default Duration.days(14) (the SQS maximum)
   */
  readonly deadLetterRetention?: Duration;
  /**
   * At most this many schedules per deployment (`MAX_SCHEDULES`).
   * @default 100
   */
  readonly maxSchedules?: number;
  /**
   * Schedules may not fire more often than this (`SCHEDULE_MIN_INTERVAL_MINUTES`).
   * @default 60
   */
  readonly minIntervalMinutes?: number;
  /**
   * Retention of the scheduled Lambda's log group.
   * @default logs.RetentionDays.ONE_YEAR
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * The KMS key that encrypts the scheduled Lambda's log group.
   * @default - none: CloudWatch Logs' own encryption at rest
   */
  readonly logEncryptionKey?: kms.IKey;
}

/**
 * Recurring exports on AWS. The API creates, updates (pauses, resumes) and deletes EventBridge
 * Scheduler schedules at run time, in this construct's own schedule group; every schedule invokes
 * the scheduled Lambda through a role that may invoke that function and nothing else, with a
 * retry policy and an encrypted SQS dead-letter queue for fires that still fail (undelivered, or
 * failed after Lambda's own retries of the asynchronous invocation). The Lambda reads
 * the scheduled time from its input (`<aws.scheduler.scheduled-time>`), so every retry of one fire
 * names the same window and finds the same job.
 */
export class ExportScheduling extends Construct {
  readonly group: scheduler.ScheduleGroup;
  readonly scheduledFunction: ExportFunction;
  /** The role Scheduler assumes to invoke the scheduled Lambda. */
  readonly schedulerRole: iam.Role;
  readonly deadLetterQueue: sqs.Queue;
  private readonly settings: Readonly<Record<string, string>>;

  constructor(scope: Construct, id: string, props: ExportSchedulingProps) {
    super(scope, id);
    const paths = props.paths ?? projectPaths();
    const stack = Stack.of(this);

    this.group = new scheduler.ScheduleGroup(this, 'Group', {
      ...(props.scheduleGroupName === undefined ? {} : { scheduleGroupName: props.scheduleGroupName }),
    });

    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      // SSE with SQS-owned keys: Scheduler sends with the schedule's role, which then needs no KMS grant.
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: props.deadLetterRetention ?? Duration.days(14),
    });

    const settings = {
      ...(props.maxSchedules === undefined ? {} : { [SCHEDULER_VARIABLES.maxSchedules]: String(props.maxSchedules) }),
      ...(props.minIntervalMinutes === undefined
        ? {}
        : { [SCHEDULER_VARIABLES.minIntervalMinutes]: String(props.minIntervalMinutes) }),
    };
    this.scheduledFunction = new ExportFunction(this, 'Scheduled', {
      entry: paths.handlerEntry('scheduled'),
      paths,
      description: 'Keeptrusts Export: scheduled export runs (EventBridge Scheduler target)',
      environment: {
        ...props.data.runtimeEnvironment(),
        ...props.signingKey.runtimeEnvironment(),
        STATE_MACHINE_ARN: props.workflow.stateMachine.stateMachineArn,
        ...settings,
      },
      timeout: Duration.seconds(30),
      // Scheduler invokes asynchronously: its retry policy covers delivering the fire, Lambda's own
      // retries a run that threw; either way a fire that never ran ends in the same queue.
      deadLetterQueue: this.deadLetterQueue,
      ...(props.logRetention === undefined ? {} : { logRetention: props.logRetention }),
      ...(props.logEncryptionKey === undefined ? {} : { logEncryptionKey: props.logEncryptionKey }),
    });
    // A run reads its schedule, stores its job (conditional write), appends to the audit trail
    // (which may sign a checkpoint) and starts the workflow; nothing else.
    // Its items: the schedule (read, and its last run noted), the job it stores (conditional put,
    // or read when an earlier fire stored it) and the audit trail.
    props.data.grantControlItems(
      this.scheduledFunction,
      ['dynamodb:GetItem', 'dynamodb:PutItem'],
      ['schedules', 'jobs', 'auditTrail'],
    );
    props.data.grantAuditCheckpointsWrite(this.scheduledFunction);
    props.signingKey.grantSign(this.scheduledFunction);
    props.workflow.grantStartExecution(this.scheduledFunction);

    const schedulesArn = this.schedulesArn();
    this.schedulerRole = new iam.Role(this, 'SchedulerRole', {
      description: 'EventBridge Scheduler: invoke the Keeptrusts Export scheduled Lambda',
      assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com', {
        // Only schedules of this account's group may use the role (confused-deputy guard).
        conditions: {
          StringEquals: { 'aws:SourceAccount': stack.account },
          ArnLike: { 'aws:SourceArn': schedulesArn },
        },
      }),
    });
    this.schedulerRole.addToPolicy(
      new iam.PolicyStatement({
        actions: ['lambda:InvokeFunction'],
        resources: [this.scheduledFunction.function.functionArn],
      }),
    );
    // Scheduler writes failed fires to the dead-letter queue with the schedule's own role.
    this.deadLetterQueue.grantSendMessages(this.schedulerRole);
    this.settings = settings;

    Validations.of(this.scheduledFunction.function).acknowledge({
      id: 'HIPAA.Security-LambdaConcurrency',
      reason:
        'Only schedules invoke it, each at most once per fire: their number and their shortest interval ' +
        'are limited (maxSchedules, minIntervalMinutes); reserved concurrency would carve capacity out ' +
        "of the account's shared pool, and a deployment fails outright in an account whose quota leaves " +
        'less than the minimum unreserved (new accounts).',
    });
    Validations.of(this.schedulerRole).acknowledge({
      id: 'HIPAA.Security-IAMNoInlinePolicy',
      reason:
        'The role exists for this one target: its policy (invoke the scheduled function, send to the ' +
        'dead-letter queue) is generated by the grants above and attached to this role only; a customer ' +
        'managed policy would be the same two statements under a second name.',
    });
  }

  /**
   * Lets `fn` (the API) create, update, pause and delete schedules in this group, pass the
   * scheduler role to them (and no other role), and gives it the settings it needs for that.
   */
  allowManaging(fn: ExportFunction): void {
    fn.function.addEnvironment(SCHEDULER_VARIABLES.groupName, this.group.scheduleGroupName);
    fn.function.addEnvironment(SCHEDULER_VARIABLES.functionArn, this.scheduledFunction.function.functionArn);
    fn.function.addEnvironment(SCHEDULER_VARIABLES.roleArn, this.schedulerRole.roleArn);
    fn.function.addEnvironment(SCHEDULER_VARIABLES.deadLetterArn, this.deadLetterQueue.queueArn);
    for (const [name, value] of Object.entries(this.settings)) fn.function.addEnvironment(name, value);

    fn.role.addToPolicy(
      new iam.PolicyStatement({ actions: [...SCHEDULE_MANAGEMENT_ACTIONS], resources: [this.schedulesArn()] }),
    );
    fn.role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['iam:PassRole'],
        resources: [this.schedulerRole.roleArn],
        conditions: { StringEquals: { 'iam:PassedToService': 'scheduler.amazonaws.com' } },
      }),
    );
    // The group's name is known at synthesis unless it is a token (a name from a parameter).
    const group = Token.isUnresolved(this.group.scheduleGroupName)
      ? `<${Stack.of(this).getLogicalId(this.group.node.defaultChild as CfnElement)}>`
      : this.group.scheduleGroupName;
    Validations.of(fn.role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:scheduler:<AWS::Region>:<AWS::AccountId>:schedule/${group}/*]`,
      reason:
        'Schedules are named by users at run time (kt export schedule --name); the wildcard is confined ' +
        "to this deployment's own schedule group, and to Create/Update/Delete/GetSchedule.",
    });
  }

  /** Every schedule in the group: `arn:…:scheduler:region:account:schedule/<group>/*`. */
  private schedulesArn(): string {
    return Stack.of(this).formatArn({
      service: 'scheduler',
      resource: 'schedule',
      resourceName: `${this.group.scheduleGroupName}/*`,
    });
  }
}
