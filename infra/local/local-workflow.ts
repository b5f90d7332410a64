import type { Context } from 'aws-lambda';
import { StateMachine } from 'aws-local-stepfunctions';
import type { WorkflowStarter } from '../../functions/core/ports.ts';
import { lambdaContext } from './lambda-context.ts';
import {
  WORKFLOW_FUNCTION_TIMEOUTS,
  WORKFLOW_STATE_NAMES,
  WORKFLOW_STEPS,
  type WorkflowStep,
} from '../constructs/workflow-definition.ts';

/** A workflow step's Lambda handler, called in this process instead of through Lambda. */
/** What aws-local-stepfunctions passes to and expects from a local Task handler. */
type LocalTaskHandler = NonNullable<
  NonNullable<NonNullable<Parameters<StateMachine['run']>[1]>['overrides']>['taskResourceLocalHandlers']
>[string];
type JSONValue = Parameters<LocalTaskHandler>[0];

export type StepHandler = (input: unknown, context: Context) => Promise<unknown>;

export interface LocalWorkflowOptions {
  /** The ASL definition synthesized from infra/ (renderExportWorkflowDefinition). */
  readonly definition: Record<string, unknown>;
  readonly handlers: Readonly<Record<WorkflowStep, StepHandler>>;
  /**
   * The timeout each step would have as a Lambda; a handler sees what remains of it through
   * `context.getRemainingTimeInMillis()`, as on AWS.
   * @default - the deployed functions' timeouts (WORKFLOW_FUNCTION_TIMEOUTS)
   */
  readonly stepTimeoutMs?: Partial<Readonly<Record<WorkflowStep, number>>>;
  /**
   * Milliseconds to wait before each retry, by state name, instead of the definition's backoff.
   * @default - the definition's intervals
   */
  readonly retryIntervalOverrides?: Readonly<Record<string, number>>;
  /** Called when an execution ends in failure (the job itself records why). */
  readonly onExecutionFailed?: (exportId: string, error: unknown) => void;
}

/**
 * Step Functions for the local stack: runs the same state-machine definition as AWS with
 * aws-local-stepfunctions, each Task state calling the step's Lambda handler in this process.
 * An execution is named after its export id, like on AWS, and runs in the background.
 */
export class LocalWorkflowRunner implements WorkflowStarter {
  // aws-local-stepfunctions validates the whole definition on construction: build it once.
  private readonly machine: StateMachine;
  private readonly executions = new Map<string, { abort: () => void; settled: Promise<void> }>();
  // Aborting an execution does not stop a handler already running: stop() waits for these.
  private readonly invocations = new Set<Promise<unknown>>();
  private stopping = false;

  constructor(private readonly options: LocalWorkflowOptions) {
    this.machine = new StateMachine(options.definition as unknown as ConstructorParameters<typeof StateMachine>[0]);
  }

  async startExport(exportId: string): Promise<void> {
    this.run(exportId, exportId, { exportId });
  }

  /**
   * Aborts the export's execution, as StopExecution does on AWS: no further state runs. A step
   * already running runs on to its end (its result is dropped); it finds its job cancelled.
   */
  async stopExport(exportId: string): Promise<void> {
    this.executions.get(exportId)?.abort();
  }

  /** A redelivery: an execution of its own that runs Deliver and RecordAudit only. */
  async redeliverExport(exportId: string, executionName: string): Promise<void> {
    this.run(exportId, executionName, { exportId, redeliver: true });
  }

  private run(exportId: string, name: string, input: { exportId: string; redeliver?: true }): void {
    if (this.stopping || this.executions.has(name)) return;
    const started = new Date().toISOString();
    const execution = this.machine.run(
      input,
      {
        overrides: {
          taskResourceLocalHandlers: this.localHandlers(),
          ...(this.options.retryIntervalOverrides === undefined
            ? {}
            : { retryIntervalOverrides: { ...this.options.retryIntervalOverrides } }),
        },
        context: { Execution: { Id: `local:${name}`, Name: name, StartTime: started, Input: input } },
        noThrowOnAbort: true,
      },
    );
    const settled = execution.result.then(
      () => undefined,
      (error: unknown) => this.options.onExecutionFailed?.(exportId, error),
    );
    this.executions.set(name, {
      abort: execution.abort,
      settled: settled.finally(() => this.executions.delete(name)),
    });
  }

  /**
   * Resolves once every execution started so far has ended, and every step handler it called has
   * returned (a stopped execution ends at once; the step it was running may still be working).
   */
  async idle(): Promise<void> {
    while (this.executions.size > 0 || this.invocations.size > 0) {
      await Promise.allSettled([
        ...[...this.executions.values()].map((execution) => execution.settled),
        ...this.invocations,
      ]);
    }
  }

  /** Stops every running execution; their jobs resume from their checkpoints on the next start. */
  async stop(): Promise<void> {
    // Handlers see no time left, so an ExportPage returns after the part it is writing.
    this.stopping = true;
    const running = [...this.executions.values()];
    for (const execution of running) execution.abort();
    await Promise.all(running.map((execution) => execution.settled));
    await Promise.allSettled([...this.invocations]);
  }

  private localHandlers(): Record<string, (input: JSONValue) => Promise<JSONValue>> {
    const handlers: Record<string, (input: JSONValue) => Promise<JSONValue>> = {};
    for (const step of WORKFLOW_STEPS) {
      const timeoutMs = this.options.stepTimeoutMs?.[step] ?? WORKFLOW_FUNCTION_TIMEOUTS[step].toMilliseconds();
      handlers[WORKFLOW_STATE_NAMES[step]] = (input) => {
        const context = lambdaContext(WORKFLOW_STATE_NAMES[step], timeoutMs, { stopping: () => this.stopping });
        // Step results are small JSON objects ({exportId, done}), as on AWS.
        const invocation = this.options.handlers[step](input, context) as Promise<JSONValue>;
        this.invocations.add(invocation);
        const forget = () => this.invocations.delete(invocation);
        invocation.then(forget, forget);
        return invocation;
      };
    }
    return handlers;
  }
}
