import { type SFNClient, StartExecutionCommand, StopExecutionCommand } from '@aws-sdk/client-sfn';
import { DependencyError } from '../../core/errors.ts';
import type { WorkflowStarter } from '../../core/ports.ts';

/**
 * Starts the export state machine with the export id as the execution name, so the console lists
 * `exp_…` executions and a second start of the same export is refused by Step Functions itself.
 */
export class StepFunctionsWorkflowStarter implements WorkflowStarter {
  constructor(
    private readonly sfn: SFNClient,
    private readonly stateMachineArn: string,
  ) {}

  async startExport(exportId: string): Promise<void> {
    try {
      await this.sfn.send(
        new StartExecutionCommand({
          stateMachineArn: this.stateMachineArn,
          name: exportId,
          input: JSON.stringify({ exportId }),
        }),
      );
    } catch (error) {
      // Same name and same input within 90 days: Step Functions says it is already running or done.
      if (error instanceof Error && error.name === 'ExecutionAlreadyExists') return;
      throw new DependencyError(`Starting the export workflow for ${exportId} failed.`, { cause: error });
    }
  }

  async stopExport(exportId: string): Promise<void> {
    try {
      // No error or cause: with them, an encrypted state machine would need KMS for the stop.
      await this.sfn.send(new StopExecutionCommand({ executionArn: executionArnOf(this.stateMachineArn, exportId) }));
    } catch (error) {
      // Never started (a queued export whose start had not happened yet): nothing to stop. An
      // execution that has already ended is stopped without an error by Step Functions itself.
      if (error instanceof Error && error.name === 'ExecutionDoesNotExist') return;
      throw new DependencyError(`Stopping the export workflow of ${exportId} failed.`, { cause: error });
    }
  }

  async redeliverExport(exportId: string, executionName: string): Promise<void> {
    try {
      await this.sfn.send(
        new StartExecutionCommand({
          stateMachineArn: this.stateMachineArn,
          name: executionName,
          input: JSON.stringify({ exportId, redeliver: true }),
        }),
      );
    } catch (error) {
      throw new DependencyError(`Starting the redelivery of ${exportId} failed.`, { cause: error });
    }
  }
}

/**
 * The ARN of the execution `name` of a state machine:
 * `arn:<partition>:states:<region>:<account>:stateMachine:<machine>` →
 * `arn:<partition>:states:<region>:<account>:execution:<machine>:<name>`.
 */
export function executionArnOf(stateMachineArn: string, name: string): string {
  const parts = stateMachineArn.split(':');
  if (parts.length !== 7 || parts[0] !== 'arn' || parts[2] !== 'states' || parts[5] !== 'stateMachine') {
    throw new DependencyError(`STATE_MACHINE_ARN is not a state machine ARN: ${stateMachineArn}`);
  }
  return [...parts.slice(0, 5), 'execution', parts[6], name].join(':');
}
