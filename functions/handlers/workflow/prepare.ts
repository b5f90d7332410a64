import middy from '@middy/core';
import { prepareExport } from '../../core/export/workflow/prepare-export.ts';
import { workflowDeps } from '../../adapters/composition-root.ts';
import { parseStepInput } from './step-input.ts';

/** Workflow step Prepare (see core/export/workflow/prepare-export.ts). */
export const handler = middy().handler(async (input: unknown) =>
  prepareExport(workflowDeps(), parseStepInput(input).exportId),
);
