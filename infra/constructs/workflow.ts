import { type CfnElement, type Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import type * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import path from 'node:path';
import {
  bundledFontName,
  MAX_DETAIL_ROWS_VARIABLE,
  reportFontPaths,
} from '../../functions/adapters/fonts/report-font-files.ts';
import { exportLimitsEnvironment } from '../../functions/adapters/runtime-config.ts';
import { type HandlerName, type ProjectPaths, projectPaths } from '../paths.ts';
import type { ControlItemAction, IExportData } from './data.ts';
import { ExportFunction } from './function.ts';
import type { IEvidenceSigningKey } from './signing.ts';
import {
  EXPORT_PAGE_NODE_OPTIONS,
  buildExportWorkflow,
  DEFAULT_WORKFLOW_TIMEOUT,
  mapWorkflowSteps,
  WORKFLOW_COMMENT,
  WORKFLOW_FUNCTION_TIMEOUTS,
  WORKFLOW_STATE_NAMES,
  WORKFLOW_STEPS,
  type WorkflowStep,
} from './workflow-definition.ts';

/** What callers of the workflow (the API, the scheduler) need from it. */
export interface IExportWorkflow {
  readonly stateMachine: sfn.IStateMachine;
  /**
   * StartExecution on this state machine only. The caller names the execution after the export
   * id (StartExecution `name`), so a repeated start of the same export never runs it twice (Step
   * Functions returns the running execution, or refuses with ExecutionAlreadyExists), and the
   * console lists `exp_…` executions.
   */
  grantStartExecution(grantee: iam.IGrantable): iam.Grant;
  /**
   * StopExecution on this state machine's executions only (`execution:<machine>:*`): cancelling
   * an export stops the execution named after it.
   */
  grantStopExecution(grantee: iam.IGrantable): iam.Grant;
}

export interface ExportWorkflowProps {
  /** The tables and bucket the steps read and write; grants are taken from it. */
  readonly data: IExportData;
  /** The key Finalize signs manifests with, and audit appends sign checkpoints with. */
  readonly signingKey: IEvidenceSigningKey;
  /**
   * Where the handler entry files and the lock file are.
   * @default - found from the working directory (the folder holding cdk.json)
   */
  readonly paths?: ProjectPaths;
  /**
   * The longest one export may run before Step Functions stops it (the job then stays
   * `running`; MarkFailed does not run on an execution timeout).
   * @default DEFAULT_WORKFLOW_TIMEOUT (12 hours)
   */
  readonly timeout?: Duration;
  /**
   * Retention of the state machine's log group and of the step functions' log groups.
   * @default logs.RetentionDays.ONE_YEAR
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * The KMS key that encrypts the state machine's log group and the step functions' log groups.
   * @default - none: CloudWatch Logs' own encryption at rest
   */
  readonly logEncryptionKey?: kms.IKey;
  /**
   * The most event rows a PDF report's table shows (`PDF_MAX_DETAIL_ROWS`); the summaries and
   * the companion CSV always cover every event.
   * @default 100,000
   */
  readonly pdfMaxDetailRows?: number;
  /**
   * The most records one export may hold (`MAX_EXPORT_RECORDS`, ExportPage's): an export with
   * more fails, naming the limit, before its artifact is published.
   * @default DEFAULT_MAX_EXPORT_RECORDS (10,000,000)
   */
  readonly maxExportRecords?: number;
}

interface StepSettings {
  readonly handler: HandlerName;
  readonly description: string;
  readonly memorySize?: number;
  readonly nodeOptions?: readonly string[];
  /** The least privilege the step needs on the data layer. */
  readonly grant: (data: IExportData, fn: ExportFunction) => void;
  /** The step signs evidence: it gets SIGNING_KEY_ID and kms:Sign on that key, nothing more. */
  readonly signsEvidence?: true;
  /** The step draws PDF reports: its bundle carries the fonts they embed. */
  readonly drawsReports?: true;
}

/** Read an item and write it whole (every store writes with conditional PutItem). */
const ITEM_READ_WRITE: readonly ControlItemAction[] = ['dynamodb:GetItem', 'dynamodb:PutItem'];
/** Free a running-export slot: Query the creator's slots, conditionally DeleteItem its own. */
const RELEASE_SLOT: readonly ControlItemAction[] = ['dynamodb:Query', 'dynamodb:DeleteItem'];

const STEP_SETTINGS: Readonly<Record<WorkflowStep, StepSettings>> = {
  prepare: {
    handler: 'workflow/prepare',
    description: 'Keeptrusts Export: workflow step Prepare',
    grant: (data, fn) => {
      // It reads and saves the job (with its upload's checkpoint), starts the upload and aborts a
      // previous attempt's.
      data.grantControlItems(fn, ITEM_READ_WRITE, ['jobs']);
      data.grantExportObjects(fn, ['s3:PutObject', 's3:AbortMultipartUpload']);
    },
  },
  exportPage: {
    handler: 'workflow/export-page',
    description: 'Keeptrusts Export: workflow step ExportPage',
    // Encoding (CSV quoting, PDF layout) is CPU-bound; memory buys CPU, and parts are buffered.
    memorySize: 1024,
    nodeOptions: EXPORT_PAGE_NODE_OPTIONS,
    grant: (data, fn) => {
      data.grantEventsRead(fn);
      // It saves its cursor in the job after every page, and uploads parts (UploadPart is PutObject).
      // Finding its export cancelled, it aborts the upload again: a part in flight while the
      // cancellation aborted it may have outlived that abort.
      data.grantControlItems(fn, ITEM_READ_WRITE, ['jobs']);
      data.grantExportObjects(fn, ['s3:PutObject', 's3:AbortMultipartUpload']);
    },
  },
  renderReport: {
    handler: 'workflow/render-report',
    description: 'Keeptrusts Export: workflow step RenderReport',
    // Drawing the PDF is CPU-bound and holds the parsed fonts (CJK is large); memory buys CPU.
    memorySize: 2048,
    drawsReports: true,
    grant: (data, fn) => {
      // It reads the events again for the report's table.
      data.grantEventsRead(fn);
      data.grantControlItems(fn, ITEM_READ_WRITE, ['jobs']);
      // It uploads the report's parts (Finalize completes the upload) and aborts a failed attempt's.
      data.grantExportObjects(fn, ['s3:PutObject', 's3:AbortMultipartUpload']);
    },
  },
  finalize: {
    handler: 'workflow/finalize',
    description: 'Keeptrusts Export: workflow step Finalize',
    // It signs the export's manifest.
    signsEvidence: true,
    grant: (data, fn) => {
      // The completeness check counts the matching events with a query of its own.
      data.grantEventsRead(fn);
      data.grantControlItems(fn, ITEM_READ_WRITE, ['jobs']);
      // The manifest names the audit head it follows (read only: Finalize appends nothing).
      data.grantControlItems(fn, ['dynamodb:GetItem'], ['auditTrail']);
      // The completed export frees its creator's running-export slot (read the slots, delete its own).
      data.grantControlItems(fn, RELEASE_SLOT, ['runningExports']);
      // It completes the upload and writes the manifest (PutObject), and checks the completed
      // object's size against the uploaded bytes (HeadObject, which needs GetObject; ListBucket
      // makes a missing object a 404, which it handles, instead of a 403).
      data.grantExportObjects(fn, ['s3:PutObject', 's3:GetObject']);
    },
  },
  deliver: {
    handler: 'workflow/deliver',
    description: 'Keeptrusts Export: workflow step Deliver',
    // One 8 MiB part is held at a time while the artifact streams through.
    memorySize: 512,
    // It appends export.delivered or export.delivery_failed, which may write a signed checkpoint.
    signsEvidence: true,
    grant: (data, fn) => {
      // It records the delivery's outcome in the job, and appends it to the audit trail once per
      // attempt (it looks for the export's earlier entries on gsi1 first).
      data.grantControlItems(fn, ITEM_READ_WRITE, ['jobs', 'auditTrail']);
      data.grantControlIndexQuery(fn);
      // It streams the artifact and its manifest out of the artifact bucket (GetObject, decrypt).
      data.grantExportObjects(fn, ['s3:GetObject']);
      data.grantAuditCheckpointsWrite(fn);
      // And writes them only to the allow-listed buckets, while their listed accounts own them.
      data.grantDeliveryWrite(fn);
    },
  },
  recordAudit: {
    handler: 'workflow/record-audit',
    description: 'Keeptrusts Export: workflow step RecordAudit',
    // Appending to the audit trail may write a signed checkpoint.
    signsEvidence: true,
    grant: (data, fn) => {
      // It reads the job, looks for the export's earlier entries on gsi1 and appends export.completed.
      data.grantControlItems(fn, ['dynamodb:GetItem'], ['jobs']);
      data.grantControlItems(fn, ITEM_READ_WRITE, ['auditTrail']);
      data.grantControlIndexQuery(fn);
      data.grantAuditCheckpointsWrite(fn);
    },
  },
  markFailed: {
    handler: 'workflow/mark-failed',
    description: 'Keeptrusts Export: workflow step MarkFailed',
    // It appends export.failed to the audit trail, which may write a signed checkpoint.
    signsEvidence: true,
    grant: (data, fn) => {
      // It marks the job failed, appends export.failed to the audit trail and frees the creator's
      // running-export slot.
      data.grantControlItems(fn, ITEM_READ_WRITE, ['jobs', 'auditTrail']);
      data.grantControlItems(fn, RELEASE_SLOT, ['runningExports']);
      // It aborts the open multipart uploads (the artifact's and a report's); it writes no objects.
      data.grantExportObjects(fn, ['s3:AbortMultipartUpload']);
      data.grantAuditCheckpointsWrite(fn);
    },
  },
};

/**
 * The export workflow: a Standard state machine (the definition in workflow-definition.ts) and
 * one function per step, each under its own role with only the grants that step needs.
 *
 * The state machine logs every event with its execution data to its own log group: state holds
 * only the export id, the `done` flag and, after a failure, the error (name, message and Lambda's
 * stack trace), never events or artifact contents: the log shows what happened without copying
 * evidence. X-Ray
 * tracing is on, so a trace follows an export from the API through every step.
 */
export class ExportWorkflow extends Construct implements IExportWorkflow {
  readonly stateMachine: sfn.StateMachine;
  readonly logGroup: logs.LogGroup;
  readonly functions: Readonly<Record<WorkflowStep, ExportFunction>>;

  constructor(scope: Construct, id: string, props: ExportWorkflowProps) {
    super(scope, id);
    const paths = props.paths ?? projectPaths();
    const logRetention = props.logRetention ?? logs.RetentionDays.ONE_YEAR;
    const { data } = props;
    const environment = data.runtimeEnvironment();
    if (props.pdfMaxDetailRows !== undefined && !(Number.isSafeInteger(props.pdfMaxDetailRows) && props.pdfMaxDetailRows >= 0)) {
      throw new Error(`pdfMaxDetailRows must be a whole number of 0 or more, not ${props.pdfMaxDetailRows}`);
    }

    this.functions = mapWorkflowSteps((step) => {
      const settings = STEP_SETTINGS[step];
      const fn = new ExportFunction(this, WORKFLOW_STATE_NAMES[step], {
        entry: paths.handlerEntry(settings.handler),
        paths,
        description: settings.description,
        environment: {
          ...environment,
          ...(settings.signsEvidence ? props.signingKey.runtimeEnvironment() : {}),
          ...(settings.drawsReports && props.pdfMaxDetailRows !== undefined
            ? { [MAX_DETAIL_ROWS_VARIABLE]: String(props.pdfMaxDetailRows) }
            : {}),
          ...(step === 'exportPage' ? exportLimitsEnvironment({ maxExportRecords: props.maxExportRecords }) : {}),
        },
        timeout: WORKFLOW_FUNCTION_TIMEOUTS[step],
        logRetention,
        ...(props.logEncryptionKey === undefined ? {} : { logEncryptionKey: props.logEncryptionKey }),
        ...(settings.memorySize === undefined ? {} : { memorySize: settings.memorySize }),
        ...(settings.nodeOptions === undefined ? {} : { nodeOptions: settings.nodeOptions }),
        ...(settings.drawsReports
          ? {
              bundledFiles: reportFontPaths().map((file) => ({
                from: path.join(paths.root, 'node_modules', ...file.split('/')),
                to: `fonts/${bundledFontName(file)}`,
              })),
            }
          : {}),
      });
      settings.grant(data, fn);
      if (settings.signsEvidence) props.signingKey.grantSign(fn);
      Validations.of(fn.function).acknowledge({
        id: 'HIPAA.Security-LambdaDLQ',
        reason:
          'The state machine invokes this step synchronously; its Retry and Catch handle every failure ' +
          '(a failed export ends in MarkFailed and the execution history keeps the error), and a ' +
          'dead-letter queue receives only failed asynchronous invocations, so it would stay empty.',
      });
      Validations.of(fn.function).acknowledge({
        id: 'HIPAA.Security-LambdaConcurrency',
        reason:
          'Each running export invokes one step at a time, so concurrency follows the exports running ' +
          '(limited per principal), and a throttled invoke is retried (Lambda.TooManyRequestsException); ' +
          "reserved concurrency would carve capacity out of the account's shared pool, and a deployment " +
          'fails outright in an account whose quota leaves less than the minimum unreserved (new accounts).',
      });
      return fn;
    });

    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: logRetention,
      removalPolicy: RemovalPolicy.RETAIN,
      ...(props.logEncryptionKey === undefined ? {} : { encryptionKey: props.logEncryptionKey }),
    });

    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      // No stateMachineName: CDK derives a unique one, so two stacks in one account never clash.
      stateMachineType: sfn.StateMachineType.STANDARD,
      definitionBody: sfn.DefinitionBody.fromChainable(
        buildExportWorkflow(
          new Construct(this, 'Definition'),
          mapWorkflowSteps((step) => this.functions[step].function),
        ),
      ),
      queryLanguage: sfn.QueryLanguage.JSON_PATH,
      comment: WORKFLOW_COMMENT,
      timeout: props.timeout ?? DEFAULT_WORKFLOW_TIMEOUT,
      tracingEnabled: true,
      logs: { destination: this.logGroup, level: sfn.LogLevel.ALL, includeExecutionData: true },
    });

    const role = this.stateMachine.role;
    Validations.of(role).acknowledge({
      id: 'HIPAA.Security-IAMNoInlinePolicy',
      reason:
        "CDK generates the state machine role's policy from the definition (invoke exactly these step " +
        'functions, deliver logs, trace) and attaches it to this role only; a customer managed policy ' +
        'would be the same statements under a second name.',
    });
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'Execution logging and tracing: the CloudWatch Logs vended-log-delivery actions ' +
        '(logs:CreateLogDelivery, PutResourcePolicy, ...) and xray:PutTraceSegments, ' +
        'PutTelemetryRecords, GetSamplingRules and GetSamplingTargets support no resource-level ' +
        'permissions; these are the only actions the role holds on "*".',
    });
    for (const step of WORKFLOW_STEPS) {
      const fnId = logicalIdOf(this.functions[step].function.node.defaultChild as CfnElement);
      Validations.of(role).acknowledge({
        id: `AwsSolutions-IAM5[Resource::<${fnId}.Arn>:*]`,
        reason:
          `The ${WORKFLOW_STATE_NAMES[step]} task invokes its function; CDK grants lambda:InvokeFunction ` +
          'on the function and its qualified ARNs (`:*`, versions and aliases) of that one function only.',
      });
    }
  }

  grantStartExecution(grantee: iam.IGrantable): iam.Grant {
    return this.stateMachine.grantStartExecution(grantee);
  }

  grantStopExecution(grantee: iam.IGrantable): iam.Grant {
    const grant = this.stateMachine.grantExecution(grantee, 'states:StopExecution');
    const principal: unknown = grantee.grantPrincipal;
    if (Construct.isConstruct(principal)) {
      // How cdk-nag prints the resource: the state machine's name cut from its ARN (Arn.split).
      const id = logicalIdOf(this.stateMachine.node.defaultChild as CfnElement);
      const name = JSON.stringify({ 'Fn::Select': [6, { 'Fn::Split': [':', { Ref: id }] }] });
      Validations.of(principal).acknowledge({
        id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:${name}:*]`,
        reason:
          'An execution is named after its export id, known only at run time, so StopExecution (cancelling an ' +
          'export) names the executions of this one state machine (execution:<machine>:*), and no other action.',
      });
    }
    return grant;
  }
}

/** The logical id cdk-nag prints in its findings (`<LogicalId.Arn>`). */
function logicalIdOf(element: CfnElement): string {
  return Stack.of(element).resolve(element.logicalId) as string;
}
