import { ValidationError } from '../../core/errors.ts';
import { isExportId } from '../../core/export/export-id.ts';
import type { WorkflowFailure } from '../../core/export/workflow/mark-export-failed.ts';

/** The state a workflow step receives: `{"exportId": …}`, and for MarkFailed the caught failure. */
export interface StepInput {
  readonly exportId: string;
  readonly failure?: WorkflowFailure;
}

/** Checks the state machine's input; a malformed one is a defect upstream and is not retried. */
export function parseStepInput(input: unknown): StepInput {
  const value = (typeof input === 'object' && input !== null ? input : {}) as Record<string, unknown>;
  if (!isExportId(value.exportId)) {
    throw new ValidationError('The workflow step input is invalid.', [
      { field: 'exportId', rule: 'must be an export id (exp_ and 20 base32 characters)' },
    ]);
  }
  const failure = value.failure as Record<string, unknown> | undefined;
  return {
    exportId: value.exportId,
    ...(typeof failure === 'object' && failure !== null
      ? {
          failure: {
            ...(typeof failure.Error === 'string' ? { Error: failure.Error } : {}),
            ...(typeof failure.Cause === 'string' ? { Cause: failure.Cause } : {}),
          },
        }
      : {}),
  };
}
