import { ValidationError } from '../../core/errors.ts';
import { isExportId } from '../../core/export/export-id.ts';
import type { WorkflowFailure } from '../../core/export/workflow/mark-export-failed.ts';

/**
 * The state a workflow step receives: `{"exportId": …}`, for MarkFailed the caught failure, and
 * for RecordAudit the failure of Deliver when its Catch passed one on.
 */
export interface StepInput {
  readonly exportId: string;
  readonly failure?: WorkflowFailure;
  readonly deliveryFailure?: WorkflowFailure;
}

/** Checks the state machine's input; a malformed one is a defect upstream and is not retried. */
export function parseStepInput(input: unknown): StepInput {
  const value = (typeof input === 'object' && input !== null ? input : {}) as Record<string, unknown>;
  if (!isExportId(value.exportId)) {
    throw new ValidationError('The workflow step input is invalid.', [
      { field: 'exportId', rule: 'must be an export id (exp_ and 20 base32 characters)' },
    ]);
  }
  const failure = failureOf(value.failure);
  const deliveryFailure = failureOf(value.deliveryFailure);
  return {
    exportId: value.exportId,
    ...(failure === undefined ? {} : { failure }),
    ...(deliveryFailure === undefined ? {} : { deliveryFailure }),
  };
}

function failureOf(raw: unknown): WorkflowFailure | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const failure = raw as Record<string, unknown>;
  return {
    ...(typeof failure.Error === 'string' ? { Error: failure.Error } : {}),
    ...(typeof failure.Cause === 'string' ? { Cause: failure.Cause } : {}),
  };
}
