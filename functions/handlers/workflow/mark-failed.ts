import middy from '@middy/core';
import { markExportFailed } from '../../core/export/workflow/mark-export-failed.ts';
import { workflowDeps } from '../../adapters/composition-root.ts';
import { parseStepInput } from './step-input.ts';

/** Workflow step MarkFailed (see core/export/workflow/mark-export-failed.ts). */
export const handler = middy().handler(async (input: unknown) => {
  const { exportId, failure } = parseStepInput(input);
  return markExportFailed(workflowDeps(), exportId, failure);
});
