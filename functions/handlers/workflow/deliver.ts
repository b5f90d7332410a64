import middy from '@middy/core';
import { deliverExport } from '../../core/export/workflow/deliver-export.ts';
import { workflowDeps } from '../../adapters/composition-root.ts';
import { parseStepInput } from './step-input.ts';

/** Workflow step Deliver (see core/export/workflow/deliver-export.ts). */
export const handler = middy().handler(async (input: unknown) =>
  deliverExport(workflowDeps(), parseStepInput(input).exportId),
);
