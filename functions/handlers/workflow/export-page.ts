import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { exportPage } from '../../core/export/workflow/export-page.ts';
import { workflowDeps } from '../../adapters/composition-root.ts';
import { parseStepInput } from './step-input.ts';

/**
 * Time kept back from the Lambda timeout: the time left is checked between parts, so one more part
 * (reading, encoding, uploading a few MiB) and the checkpoint must fit in it.
 */
export function pageReserveMs(remainingMs: number): number {
  return Math.max(60_000, remainingMs * 0.2);
}

/** Workflow step ExportPage (see core/export/workflow/export-page.ts). */
export const handler = middy().handler(async (input: unknown, context: Context) => {
  const reserve = pageReserveMs(context.getRemainingTimeInMillis());
  return exportPage(workflowDeps(), parseStepInput(input).exportId, {
    timeLeftMs: () => context.getRemainingTimeInMillis() - reserve,
  });
});
