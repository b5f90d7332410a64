import { Duration } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import type { Construct } from 'constructs';

/**
 * The export workflow's definition: the one place that says which states exist, how they
 * connect and how they retry. The CDK construct (workflow.ts) deploys it to Step Functions; the
 * local stack renders the same states to plain ASL (infra/local/workflow-definition.ts) for
 * aws-local-stepfunctions. So this module stays free of anything that only exists on AWS.
 *
 * ```
 * Redeliver? ─ otherwise → Prepare → ExportPage → AllEventsWritten? ─ $.done == true → IsPdf?
 *     │                                  ▲                │ otherwise                 │     │
 *     │                                  └────────────────┘     $.report == true ─────┘     │ otherwise
 *     │                                                          → RenderReport → Finalize ←┘
 *     │                                                                              │
 *     └─ $.redeliver == true ───────────────────────────────────────────────→ Deliver ←┘
 *                                                                               │
 *                                  RecordAudit ← Catch States.ALL, ResultPath $.deliveryFailure
 *                                       │       (and on success)
 *                                       ▼
 *                                   Succeeded
 * any other task (after its retries) ─ Catch States.ALL, ResultPath $.failure → MarkFailed → Failed
 * ```
 *
 * Deliver copies the artifact and its manifest to the customer bucket when the job has a
 * delivery, and passes otherwise. A failed delivery never fails the export: Deliver records a
 * refusal itself, and a transient failure that outlasts its retries goes on to RecordAudit with
 * `deliveryFailure`, which records it on the delivery. `POST /v1/exports/{id}/redeliver` starts
 * an execution with `{"exportId","redeliver":true}`, which runs Deliver and RecordAudit only.
 *
 * State data (JSONPath only: the local runner ignores JSONata). Only ids and flags travel in
 * state; rows, cursors, part lists and counters live in the job item.
 * - execution input: `{"exportId":"exp_…"}` (the execution's name is the export id as well), or
 *   `{"exportId","redeliver":true}` for a redelivery (named `<export id>-redeliver-<ms>`);
 * - Prepare, ExportPage return `{"exportId","done":boolean}`; ExportPage of a PDF job adds
 *   `"report":true` once done, and RenderReport (the PDF, drawn after the companion CSV is
 *   written) returns `{"exportId","done":true}`;
 * - Finalize, Deliver, RecordAudit return `{"exportId"}`; RecordAudit may receive
 *   `"deliveryFailure":{"Error","Cause"}`;
 * - MarkFailed receives the state the failing task got, plus `"failure":{"Error","Cause"}`, and
 *   returns `{"exportId"}`.
 */

export const WORKFLOW_STEPS = [
  'prepare',
  'exportPage',
  'renderReport',
  'finalize',
  'deliver',
  'recordAudit',
  'markFailed',
] as const;

export type WorkflowStep = (typeof WORKFLOW_STEPS)[number];

/** A record with one value per step, in WORKFLOW_STEPS order. */
export function mapWorkflowSteps<T>(valueFor: (step: WorkflowStep) => T): Record<WorkflowStep, T> {
  const out: Partial<Record<WorkflowStep, T>> = {};
  for (const step of WORKFLOW_STEPS) out[step] = valueFor(step);
  return out as Record<WorkflowStep, T>;
}

/**
 * State names as the console shows them; the local runner keys its task handlers and retry
 * interval overrides by these names.
 */
export const WORKFLOW_STATE_NAMES: Readonly<Record<WorkflowStep, string>> = {
  prepare: 'Prepare',
  exportPage: 'ExportPage',
  renderReport: 'RenderReport',
  finalize: 'Finalize',
  deliver: 'Deliver',
  recordAudit: 'RecordAudit',
  markFailed: 'MarkFailed',
};

/** The names of the states that are not tasks. */
export const WORKFLOW_CONTROL_STATE_NAMES = {
  redeliver: 'Redeliver?',
  loop: 'AllEventsWritten?',
  isPdf: 'IsPdf?',
  succeeded: 'Succeeded',
  failed: 'Failed',
} as const;

/** The error of the Fail state an execution ends in when the export failed. */
export const EXPORT_FAILED_ERROR = 'ExportFailed';

/**
 * The timeout of each step's function. The task timeout derives from it, so the definition the
 * local stack runs and the functions deployed on AWS cannot disagree. ExportPage works in
 * time-budgeted slices (it stops reading pages before the deadline and persists its cursor).
 */
export const WORKFLOW_FUNCTION_TIMEOUTS: Readonly<Record<WorkflowStep, Duration>> = {
  prepare: Duration.minutes(1),
  exportPage: Duration.minutes(15),
  // One pass over the events, drawing the PDF: 100,000 events take well under a minute.
  renderReport: Duration.minutes(15),
  finalize: Duration.minutes(2),
  // Deliver streams the artifact to the customer bucket: a few GB take minutes.
  deliver: Duration.minutes(15),
  recordAudit: Duration.seconds(30),
  markFailed: Duration.minutes(1),
};

/**
 * V8 heap limits for ExportPage. Its live data is small and bounded (two part buffers, which live
 * outside the V8 heap, and a page of events per shard) while it allocates fast (every event is
 * decoded and encoded): a small young generation and a capped old one make the collector reclaim
 * as it goes, so memory stays flat however many events an export holds. `npm run bench -- export`
 * runs its measuring process with the same flags.
 */
export const EXPORT_PAGE_NODE_OPTIONS: readonly string[] = ['--max-semi-space-size=4', '--max-old-space-size=128'];

/**
 * How much longer the task waits than the function may run: room for a cold start and the
 * invocation round trip, so a function that runs to its own timeout reports its own error
 * (`Lambda.Unknown`/`Sandbox.Timedout`) rather than the task timing out first.
 */
export const TASK_TIMEOUT_MARGIN = Duration.seconds(30);

/** The longest an export may take end to end before Step Functions stops it. */
export const DEFAULT_WORKFLOW_TIMEOUT = Duration.hours(12);

/** The top-level comment of the definition. */
export const WORKFLOW_COMMENT =
  'Keeptrusts Export: one execution per export (execution name = export id); state holds ids and flags only';

/**
 * Failures of the Lambda service itself, and throttling: the invocation never ran our code or
 * its result was lost on the way back. (`retryOnServiceExceptions` is off so this one retrier,
 * with jitter and the throttling error, replaces the CDK default.)
 */
export const LAMBDA_SERVICE_ERRORS = [
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
  'Lambda.TooManyRequestsException',
  'Lambda.ClientExecutionTimeoutException',
] as const;

/**
 * Transient failures: a dependency failed or throttled (`DependencyError` from
 * functions/core/errors.ts), the function crashed or ran out of time (`Lambda.Unknown`), or the
 * task timed out. Every step is safe to run again: each persists its progress in the job item
 * and resumes from there.
 */
export const TRANSIENT_ERRORS = ['DependencyError', 'Lambda.Unknown', sfn.Errors.TIMEOUT] as const;

const SERVICE_RETRY: sfn.RetryProps = {
  errors: [...LAMBDA_SERVICE_ERRORS],
  interval: Duration.seconds(1),
  backoffRate: 2,
  maxAttempts: 6,
  maxDelay: Duration.seconds(30),
  jitterStrategy: sfn.JitterType.FULL,
};

const TRANSIENT_RETRY: sfn.RetryProps = {
  errors: [...TRANSIENT_ERRORS],
  interval: Duration.seconds(2),
  backoffRate: 2,
  maxAttempts: 3,
  jitterStrategy: sfn.JitterType.FULL,
};

const FAILURE_CATCH: sfn.CatchProps = { errors: [sfn.Errors.ALL], resultPath: '$.failure' };
const DELIVERY_FAILURE_CATCH: sfn.CatchProps = { errors: [sfn.Errors.ALL], resultPath: '$.deliveryFailure' };

/** The task timeout of a step: its function's timeout plus the margin. */
export function taskTimeoutOf(step: WorkflowStep): Duration {
  return Duration.seconds(WORKFLOW_FUNCTION_TIMEOUTS[step].toSeconds() + TASK_TIMEOUT_MARGIN.toSeconds());
}

/**
 * Builds the export workflow's states as children of `scope` (their construct ids are the state
 * names, so give it a scope of its own) and returns the chain, starting at Prepare.
 *
 * Every task invokes its function with the whole state as the payload and replaces the state
 * with the function's result (`payloadResponseOnly`: Resource = the function ARN).
 */
export function buildExportWorkflow(
  scope: Construct,
  functions: Readonly<Record<WorkflowStep, lambda.IFunction>>,
): sfn.IChainable {
  const task = (step: WorkflowStep, comment: string): tasks.LambdaInvoke => {
    const invoke = tasks.LambdaInvoke.jsonPath(scope, WORKFLOW_STATE_NAMES[step], {
      lambdaFunction: functions[step],
      payloadResponseOnly: true,
      retryOnServiceExceptions: false,
      taskTimeout: sfn.Timeout.duration(taskTimeoutOf(step)),
      comment,
    });
    invoke.addRetry(SERVICE_RETRY);
    invoke.addRetry(TRANSIENT_RETRY);
    return invoke;
  };

  const prepare = task('prepare', 'Check the job, mark it running and start the artifact upload');
  const exportPage = task(
    'exportPage',
    'Write the next pages of events to the artifact within the time budget; done when all are written',
  );
  const renderReport = task(
    'renderReport',
    "PDF jobs: draw the report from the events and the checkpoint's summaries and upload it (Finalize completes it)",
  );
  const finalize = task('finalize', 'Complete the artifact upload, check its size and mark the job completed with its SHA-256');
  const deliver = task(
    'deliver',
    "Copy the artifact and its manifest to the job's allow-listed customer bucket, if it has one; a failure is recorded on the delivery",
  );
  const recordAudit = task('recordAudit', 'Append the completion to the audit trail');
  // No Catch on MarkFailed: if it fails after its retries, the execution fails with its error.
  const markFailed = task('markFailed', 'Abort the upload, mark the job failed with the reason and audit it');

  const failed = new sfn.Fail(scope, WORKFLOW_CONTROL_STATE_NAMES.failed, {
    error: EXPORT_FAILED_ERROR,
    cause: "The export failed; the job's error field (kt export status) has the reason.",
  });
  markFailed.next(failed);

  for (const step of [prepare, exportPage, renderReport, finalize, recordAudit]) step.addCatch(markFailed, FAILURE_CATCH);
  // The export is complete whatever happens to its delivery: RecordAudit records both.
  deliver.addCatch(recordAudit, DELIVERY_FAILURE_CATCH);

  finalize.next(deliver).next(recordAudit).next(new sfn.Succeed(scope, WORKFLOW_CONTROL_STATE_NAMES.succeeded));
  // JSON and CSV jobs go straight to Finalize; a PDF job's last ExportPage says `report: true`.
  const isPdf = new sfn.Choice(scope, WORKFLOW_CONTROL_STATE_NAMES.isPdf, {
    comment: 'A PDF job renders its report before Finalize',
  })
    .when(
      sfn.Condition.and(sfn.Condition.isPresent('$.report'), sfn.Condition.booleanEquals('$.report', true)),
      renderReport.next(finalize),
    )
    .otherwise(finalize);

  const allWritten = new sfn.Choice(scope, WORKFLOW_CONTROL_STATE_NAMES.loop, {
    comment: 'Loop on ExportPage until it reports done',
  })
    .when(sfn.Condition.booleanEquals('$.done', true), isPdf)
    .otherwise(exportPage);

  const redeliver = new sfn.Choice(scope, WORKFLOW_CONTROL_STATE_NAMES.redeliver, {
    comment: 'A redelivery of a completed export runs Deliver (and RecordAudit) only',
  })
    .when(
      sfn.Condition.and(sfn.Condition.isPresent('$.redeliver'), sfn.Condition.booleanEquals('$.redeliver', true)),
      deliver,
    )
    .otherwise(prepare);
  prepare.next(exportPage).next(allWritten);
  return sfn.Chain.start(redeliver);
}
