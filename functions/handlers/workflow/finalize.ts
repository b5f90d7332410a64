import middy from '@middy/core';
import { finalizeExport } from '../../core/export/workflow/finalize-export.ts';
import { workflowDeps } from '../../adapters/composition-root.ts';
import { parseStepInput } from './step-input.ts';

/** Workflow step Finalize (see core/export/workflow/finalize-export.ts). */
export const handler = middy().handler(async (input: unknown) =>
  finalizeExport(workflowDeps(), parseStepInput(input).exportId),
);
