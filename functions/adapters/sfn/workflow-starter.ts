import { type SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
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
