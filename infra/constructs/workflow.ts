import { type CfnElement, type Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import type * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import path from 'node:path';
import {
  bundledFontName,
  MAX_DETAIL_ROWS_VARIABLE,
  reportFontPaths,
} from '../../functions/adapters/fonts/report-font-files.ts';
import { type HandlerName, type ProjectPaths, projectPaths } from '../paths.ts';
import type { IExportData } from './data.ts';
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
   * The most event rows a PDF report's table shows (`PDF_MAX_DETAIL_ROWS`); the summaries and
   * the companion CSV always cover every event.
   * @default 100,000
   */
  readonly pdfMaxDetailRows?: number;
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

const STEP_SETTINGS: Readonly<Record<WorkflowStep, StepSettings>> = {
  prepare: {
    handler: 'workflow/prepare',
    description: 'Keeptrusts Export: workflow step Prepare',
    grant: (data, fn) => {
      data.grantControlReadWrite(fn);
      data.grantArtifactsWrite(fn);
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
      data.grantControlReadWrite(fn);
      data.grantArtifactsWrite(fn);
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
      data.grantControlReadWrite(fn);
      // It uploads the report's parts (Finalize completes the upload) and aborts a failed attempt's.
      data.grantArtifactsWrite(fn);
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
      data.grantControlReadWrite(fn);
      data.grantArtifactsWrite(fn);
      // It checks the completed object's size against the uploaded bytes (HeadObject, which needs
      // GetObject; ListBucket makes a missing object a 404, which it handles, instead of a 403).
      data.grantArtifactsRead(fn);
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
      data.grantControlReadWrite(fn);
      // It streams the artifact and its manifest out of the artifact bucket (GetObject, decrypt).
      data.grantArtifactsRead(fn);
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
      data.grantControlReadWrite(fn);
      data.grantAuditCheckpointsWrite(fn);
    },
  },
  markFailed: {
    handler: 'workflow/mark-failed',
    description: 'Keeptrusts Export: workflow step MarkFailed',
    // It appends export.failed to the audit trail, which may write a signed checkpoint.
    signsEvidence: true,
    grant: (data, fn) => {
      data.grantControlReadWrite(fn);
      // Aborting the open multipart upload is part of the write grant.
      data.grantArtifactsWrite(fn);
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
        },
        timeout: WORKFLOW_FUNCTION_TIMEOUTS[step],
        logRetention,
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
      return fn;
    });

    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: logRetention,
      removalPolicy: RemovalPolicy.RETAIN,
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
}

/** The logical id cdk-nag prints in its findings (`<LogicalId.Arn>`). */
function logicalIdOf(element: CfnElement): string {
  return Stack.of(element).resolve(element.logicalId) as string;
}
