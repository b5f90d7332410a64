import aslValidator from 'asl-validator';
import { ExecutionError, StateMachine, type StateMachineDefinition } from 'aws-local-stepfunctions';
import { DependencyError, ValidationError } from '../../functions/core/errors.ts';
import { PUBLISH_CLAIM_MS } from '../../functions/core/export/export-job.ts';
import { ExportCancelledError } from '../../functions/core/export/workflow/cancelled-export.ts';
import {
  LAMBDA_SERVICE_ERRORS,
  TRANSIENT_ERRORS,
  WORKFLOW_STATE_NAMES,
  WORKFLOW_STEPS,
  type WorkflowStep,
  WORKFLOW_FUNCTION_TIMEOUTS,
} from '../../infra/constructs/workflow-definition.ts';
import { localFunctionArn, renderExportWorkflowDefinition } from '../../infra/local/workflow-definition.ts';
import { taskTimeoutOf } from '../../infra/constructs/workflow-definition.ts';

type State = {
  Type: string;
  Resource?: string;
  Next?: string;
  End?: boolean;
  TimeoutSeconds?: number;
  Retry?: Record<string, unknown>[];
  Catch?: Record<string, unknown>[];
  Choices?: Record<string, unknown>[];
  Default?: string;
  Error?: string;
  Cause?: string;
  Parameters?: unknown;
  ResultPath?: unknown;
  InputPath?: unknown;
  OutputPath?: unknown;
  ResultSelector?: unknown;
};
/** One entry of an execution's event log (the package does not export the type). */
type EventLog = ReturnType<StateMachine['run']>['eventLogs'] extends AsyncGenerator<infer E> ? E : never;
type Definition = { StartAt: string; States: Record<string, State>; [key: string]: unknown };

const TASKS = Object.values(WORKFLOW_STATE_NAMES);
const CAUGHT = TASKS.filter(
  (name) => name !== WORKFLOW_STATE_NAMES.markFailed && name !== WORKFLOW_STATE_NAMES.deliver,
);

describe('renderExportWorkflowDefinition (the ASL the local stack runs)', () => {
  let definition: Definition;

  beforeAll(() => {
    definition = renderExportWorkflowDefinition() as Definition;
  });

  it('is plain JSON with no CDK tokens or CloudFormation intrinsics', () => {
    const json = JSON.stringify(definition);
    expect(json).not.toMatch(/\$\{Token\[|"Ref"|"Fn::/);
    expect(JSON.parse(json)).toEqual(definition);
  });

  it('renders the same definition as a fresh object each time', () => {
    const again = renderExportWorkflowDefinition();
    expect(again).toEqual(definition);
    expect(again).not.toBe(definition);
  });

  it('passes asl-validator, with path and ARN checks', () => {
    const result = aslValidator(structuredClone(definition), { checkPaths: true, checkArn: true });
    expect(result.errorsText()).toBe('');
    expect(result.isValid).toBe(true);
  });

  it('is accepted by aws-local-stepfunctions (which validates on construction)', () => {
    expect(
      () => new StateMachine(structuredClone(definition) as unknown as StateMachineDefinition),
    ).not.toThrow();
  });

  it('is JSONPath only, Standard-compatible, with a top-level timeout of 12 hours', () => {
    expect(definition.QueryLanguage).toBe('JSONPath');
    expect(JSON.stringify(definition)).not.toContain('{%');
    expect(definition.TimeoutSeconds).toBe(12 * 3600);
  });

  it('has exactly the designed states and transitions', () => {
    const { States: states } = definition;
    expect(definition.StartAt).toBe('Redeliver?');
    expect(Object.keys(states).sort()).toEqual(
      [
        'Redeliver?',
        'AllEventsWritten?',
        'IsPdf?',
        'Deliver',
        'ExportPage',
        'RenderReport',
        'Failed',
        'Finalize',
        'MarkFailed',
        'Prepare',
        'RecordAudit',
        'Succeeded',
      ].sort(),
    );
    expect(states['Redeliver?']).toEqual({
      Type: 'Choice',
      Comment: expect.any(String),
      Choices: [
        {
          And: [
            { Variable: '$.redeliver', IsPresent: true },
            { Variable: '$.redeliver', BooleanEquals: true },
          ],
          Next: 'Deliver',
        },
      ],
      Default: 'Prepare',
    });
    expect(states.Prepare).toMatchObject({ Type: 'Task', Next: 'ExportPage' });
    expect(states.ExportPage).toMatchObject({ Type: 'Task', Next: 'AllEventsWritten?' });
    expect(states['AllEventsWritten?']).toEqual({
      Type: 'Choice',
      Comment: expect.any(String),
      Choices: [{ Variable: '$.done', BooleanEquals: true, Next: 'IsPdf?' }],
      Default: 'ExportPage',
    });
    expect(states['IsPdf?']).toEqual({
      Type: 'Choice',
      Comment: expect.any(String),
      Choices: [
        {
          And: [
            { Variable: '$.report', IsPresent: true },
            { Variable: '$.report', BooleanEquals: true },
          ],
          Next: 'RenderReport',
        },
      ],
      Default: 'Finalize',
    });
    expect(states.RenderReport).toMatchObject({ Type: 'Task', Next: 'Finalize' });
    expect(states.Finalize).toMatchObject({ Type: 'Task', Next: 'Deliver' });
    expect(states.Deliver).toMatchObject({ Type: 'Task', Next: 'RecordAudit' });
    expect(states.RecordAudit).toMatchObject({ Type: 'Task', Next: 'Succeeded' });
    expect(states.Succeeded).toEqual({ Type: 'Succeed' });
    expect(states.MarkFailed).toMatchObject({ Type: 'Task', Next: 'Failed' });
    expect(states.Failed).toEqual({
      Type: 'Fail',
      Error: 'ExportFailed',
      Cause: expect.stringContaining("job's error field"),
    });
  });

  it.each(WORKFLOW_STEPS.map((step) => [WORKFLOW_STATE_NAMES[step], step] as const))(
    '%s invokes its function with the whole state and replaces the state with the result',
    (name, step) => {
      const state = definition.States[name]!;
      expect(state.Resource).toBe(localFunctionArn(step));
      for (const key of ['Parameters', 'InputPath', 'OutputPath', 'ResultPath', 'ResultSelector'] as const) {
        expect(state[key]).toBeUndefined();
      }
      // Above the function's own timeout (the local runner would otherwise stop it after 60 s).
      expect(state.TimeoutSeconds).toBeGreaterThan(WORKFLOW_FUNCTION_TIMEOUTS[step].toSeconds());
      expect(state.TimeoutSeconds).toBeLessThanOrEqual(WORKFLOW_FUNCTION_TIMEOUTS[step].toSeconds() + 60);
    },
  );

  it('retries Lambda service errors and throttling, then transient failures, on every task', () => {
    for (const name of TASKS) {
      expect(definition.States[name]!.Retry).toEqual([
        {
          ErrorEquals: [...LAMBDA_SERVICE_ERRORS],
          IntervalSeconds: 1,
          BackoffRate: 2,
          MaxAttempts: 6,
          MaxDelaySeconds: 30,
          JitterStrategy: 'FULL',
        },
        {
          ErrorEquals: ['DependencyError', 'Lambda.Unknown', 'States.Timeout'],
          IntervalSeconds: 2,
          BackoffRate: 2,
          MaxAttempts: 3,
          JitterStrategy: 'FULL',
        },
      ]);
    }
    expect([...LAMBDA_SERVICE_ERRORS].sort()).toEqual(
      [
        'Lambda.AWSLambdaException',
        'Lambda.ClientExecutionTimeoutException',
        'Lambda.SdkClientException',
        'Lambda.ServiceException',
        'Lambda.TooManyRequestsException',
      ].sort(),
    );
    expect(TRANSIENT_ERRORS).toContain(DependencyError.name);
  });

  it('catches everything on the main tasks into MarkFailed with the failure in $.failure', () => {
    expect(CAUGHT).toEqual(['Prepare', 'ExportPage', 'RenderReport', 'Finalize', 'RecordAudit']);
    for (const name of CAUGHT) {
      expect(definition.States[name]!.Catch).toEqual([
        { ErrorEquals: ['States.ALL'], ResultPath: '$.failure', Next: 'MarkFailed' },
      ]);
    }
    expect(definition.States.MarkFailed!.Catch).toBeUndefined();
  });

  it('catches everything on Deliver into RecordAudit with the failure in $.deliveryFailure: a delivery never fails the export', () => {
    expect(definition.States.Deliver!.Catch).toEqual([
      { ErrorEquals: ['States.ALL'], ResultPath: '$.deliveryFailure', Next: 'RecordAudit' },
    ]);
  });
});

describe('the export workflow run by aws-local-stepfunctions', () => {
  const exportId = 'exp_01JTESTWORKFLOW0000000000';
  let machine: StateMachine;

  beforeAll(() => {
    machine = new StateMachine(renderExportWorkflowDefinition() as unknown as StateMachineDefinition);
  });

  type Handler = (input: Record<string, unknown>) => Promise<Record<string, unknown>>;

  /** Task handlers keyed by state name, recording every call; `exportPage` is done on its 3rd call. */
  const steps = (overrides: Partial<Record<WorkflowStep, Handler>> = {}) => {
    const calls: { state: string; input: Record<string, unknown> }[] = [];
    let pages = 0;
    const defaults: Record<WorkflowStep, Handler> = {
      prepare: async (input) => ({ exportId: input.exportId, done: false }),
      exportPage: async (input) => {
        pages += 1;
        return { exportId: input.exportId, done: pages >= 3 };
      },
      renderReport: async (input) => ({ exportId: input.exportId, done: true }),
      finalize: async (input) => ({ exportId: input.exportId }),
      deliver: async (input) => ({ exportId: input.exportId }),
      recordAudit: async (input) => ({ exportId: input.exportId }),
      markFailed: async (input) => ({ exportId: input.exportId }),
    };
    const handlers = Object.fromEntries(
      WORKFLOW_STEPS.map((step) => {
        const handler = overrides[step] ?? defaults[step];
        const name = WORKFLOW_STATE_NAMES[step];
        return [
          name,
          async (input: unknown) => {
            calls.push({ state: name, input: input as Record<string, unknown> });
            return (await handler(input as Record<string, unknown>)) as never;
          },
        ];
      }),
    );
    return { calls, handlers, states: () => calls.map((call) => call.state) };
  };

  const run = async (
    taskResourceLocalHandlers: Record<string, (input: unknown) => Promise<never>>,
    input: { exportId: string; redeliver?: boolean } = { exportId },
  ) => {
    const execution = machine.run(
      input,
      {
        overrides: {
          taskResourceLocalHandlers,
          // No waiting between retries (the real intervals are seconds, with jitter).
          retryIntervalOverrides: Object.fromEntries(TASKS.map((name) => [name, 0])),
        },
        context: { Execution: { Name: exportId } },
      },
    );
    const outcome = await execution.result.then(
      (output) => ({ output, error: undefined }),
      (error: unknown) => ({ output: undefined, error }),
    );
    const events: EventLog[] = [];
    for await (const event of execution.eventLogs) events.push(event);
    return { ...outcome, events };
  };

  it('loops ExportPage until it reports done, then finalizes, audits and succeeds', async () => {
    const { handlers, states, calls } = steps();
    const { output, error } = await run(handlers);
    expect(error).toBeUndefined();
    expect(output).toEqual({ exportId });
    expect(states()).toEqual([
      'Prepare',
      'ExportPage',
      'ExportPage',
      'ExportPage',
      'Finalize',
      'Deliver',
      'RecordAudit',
    ]);
    expect(calls[0]!.input).toEqual({ exportId });
    expect(calls.at(-3)!.input).toEqual({ exportId, done: true });
  });

  it('renders the report between the last ExportPage and Finalize for a PDF job', async () => {
    let pages = 0;
    const { handlers, states, calls } = steps({
      exportPage: async (input) => {
        pages += 1;
        return pages >= 2 ? { exportId: input.exportId, done: true, report: true } : { exportId: input.exportId, done: false };
      },
    });
    const { output, error } = await run(handlers);
    expect(error).toBeUndefined();
    expect(output).toEqual({ exportId });
    expect(states()).toEqual(['Prepare', 'ExportPage', 'ExportPage', 'RenderReport', 'Finalize', 'Deliver', 'RecordAudit']);
    expect(calls[3]!.input).toEqual({ exportId, done: true, report: true });
    expect(calls[4]!.input).toEqual({ exportId, done: true });
  });

  it('sends a failed RenderReport to MarkFailed', async () => {
    const { handlers, states } = steps({
      exportPage: async (input) => ({ exportId: input.exportId, done: true, report: true }),
      renderReport: async () => {
        throw Object.assign(new Error('the fonts are missing'), { name: 'ConfigurationError' });
      },
    });
    const { error } = await run(handlers);
    expect(error).toBeDefined();
    expect(states()).toEqual(['Prepare', 'ExportPage', 'RenderReport', 'MarkFailed']);
  });

  it('runs only Deliver and RecordAudit for a redelivery', async () => {
    const { handlers, states, calls } = steps();
    const { output, error } = await run(handlers, { exportId, redeliver: true });
    expect(error).toBeUndefined();
    expect(output).toEqual({ exportId });
    expect(states()).toEqual(['Deliver', 'RecordAudit']);
    expect(calls[0]!.input).toEqual({ exportId, redeliver: true });
  });

  it('retries a persistent DependencyError on Deliver, then hands it to RecordAudit and succeeds', async () => {
    const { handlers, states, calls } = steps({
      deliver: async () => {
        throw new DependencyError('S3 is unavailable');
      },
    });
    const { output, error } = await run(handlers);
    expect(error).toBeUndefined();
    expect(output).toEqual({ exportId });
    expect(states().slice(-5)).toEqual(['Deliver', 'Deliver', 'Deliver', 'Deliver', 'RecordAudit']);
    expect(calls.at(-1)!.input).toEqual({
      exportId,
      deliveryFailure: { Error: 'DependencyError', Cause: 'S3 is unavailable' },
    });
    expect(states()).not.toContain('MarkFailed');
  });

  it('retries a DependencyError thrown once by ExportPage, and the run succeeds', async () => {
    let thrown = false;
    const { handlers, states } = steps({
      exportPage: async (input) => {
        if (!thrown) {
          thrown = true;
          throw new DependencyError('DynamoDB throttled the query');
        }
        return { exportId: input.exportId, done: true };
      },
    });
    const { output, error, events } = await run(handlers);
    expect(error).toBeUndefined();
    expect(output).toEqual({ exportId });
    expect(states()).toEqual(['Prepare', 'ExportPage', 'ExportPage', 'Finalize', 'Deliver', 'RecordAudit']);
    const retried = events.filter((event) => event.type === 'StateRetried');
    expect(retried).toHaveLength(1);
    expect(retried[0]).toMatchObject({
      state: { name: 'ExportPage' },
      retry: { retrier: { ErrorEquals: expect.arrayContaining(['DependencyError']) } },
    });
    expect(events.some((event) => event.type === 'StateCaught')).toBe(false);
  });

  it('retries Lambda throttling up to 6 times on a task', async () => {
    let throttled = 0;
    const { handlers, states } = steps({
      finalize: async (input) => {
        if (throttled < 6) {
          throttled += 1;
          throw Object.assign(new Error('Rate exceeded'), { name: 'Lambda.TooManyRequestsException' });
        }
        return { exportId: input.exportId };
      },
    });
    const { error } = await run(handlers);
    expect(error).toBeUndefined();
    expect(states().filter((state) => state === 'Finalize')).toHaveLength(7);
  });

  it('ends a persistent DependencyError in MarkFailed, then Failed, with the failure in $.failure', async () => {
    const { handlers, states, calls } = steps({
      exportPage: async () => {
        throw new DependencyError('S3 is unavailable');
      },
    });
    const { output, error, events } = await run(handlers);
    expect(output).toBeUndefined();
    // One attempt and three retries, then the catch.
    expect(states()).toEqual([
      'Prepare',
      'ExportPage',
      'ExportPage',
      'ExportPage',
      'ExportPage',
      'MarkFailed',
    ]);
    expect(calls.at(-1)!.input).toEqual({
      exportId,
      done: false,
      failure: { Error: 'DependencyError', Cause: 'S3 is unavailable' },
    });
    expect(error).toBeInstanceOf(ExecutionError);
    expect((error as ExecutionError).cause).toMatchObject({ name: 'ExportFailed' });
    expect(events.at(-1)).toMatchObject({ type: 'ExecutionFailed', Error: 'ExportFailed' });
    expect(events.filter((event) => event.type === 'StateCaught')).toEqual([
      expect.objectContaining({ state: expect.objectContaining({ name: 'ExportPage' }) }),
    ]);
  });

  it('does not retry an error that is not transient (it goes straight to MarkFailed)', async () => {
    const { handlers, states, calls } = steps({
      prepare: async () => {
        throw new ValidationError('the time range is empty');
      },
    });
    const { error } = await run(handlers);
    expect(error).toBeInstanceOf(ExecutionError);
    expect(states()).toEqual(['Prepare', 'MarkFailed']);
    expect(calls[1]!.input).toEqual({
      exportId,
      failure: { Error: 'ValidationError', Cause: 'the time range is empty' },
    });
  });

  it('does not retry a step that found its export cancelled: MarkFailed (which keeps it cancelled), then Failed', async () => {
    const { handlers, states } = steps({
      exportPage: async () => {
        throw new ExportCancelledError(`Export ${exportId} was cancelled; ExportPage stopped and published nothing.`);
      },
    });
    const { error } = await run(handlers);
    expect(error).toBeInstanceOf(ExecutionError);
    expect(states()).toEqual(['Prepare', 'ExportPage', 'MarkFailed']);
  });

  it('fails the execution with MarkFailed’s own error when MarkFailed itself keeps failing', async () => {
    const { handlers, states } = steps({
      recordAudit: async () => {
        throw new ValidationError('audit chain head moved');
      },
      markFailed: async () => {
        throw new DependencyError('DynamoDB is unavailable');
      },
    });
    const { error, events } = await run(handlers);
    expect(error).toBeInstanceOf(ExecutionError);
    expect(states().filter((state) => state === 'MarkFailed')).toHaveLength(4);
    expect(events.at(-1)).toMatchObject({ type: 'ExecutionFailed', Error: 'DependencyError' });
  });
});

describe("Finalize's claim to publish", () => {
  it('holds off a cancellation for longer than any Finalize invocation can run', () => {
    // A claim older than PUBLISH_CLAIM_MS is taken to belong to an invocation that is gone.
    expect(taskTimeoutOf('finalize').toMilliseconds()).toBeLessThan(PUBLISH_CLAIM_MS);
    expect(WORKFLOW_FUNCTION_TIMEOUTS.finalize.toMilliseconds()).toBeLessThan(PUBLISH_CLAIM_MS);
  });
});
