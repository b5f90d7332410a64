import middy from '@middy/core';
import { recordExportCompletion } from '../../core/export/workflow/record-completion.ts';
import { workflowDeps } from '../../adapters/composition-root.ts';
import { parseStepInput } from './step-input.ts';

/** Workflow step RecordAudit (see core/export/workflow/record-completion.ts). */
export const handler = middy().handler(async (input: unknown) => {
  const { exportId, deliveryFailure } = parseStepInput(input);
  return recordExportCompletion(workflowDeps(), exportId, deliveryFailure);
});
