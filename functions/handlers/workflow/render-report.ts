import middy from '@middy/core';
import { ValidationError } from '../../core/errors.ts';
import { DEFAULT_MAX_DETAIL_ROWS, renderExportReport } from '../../core/export/workflow/render-export-report.ts';
import { workflowDeps } from '../../adapters/composition-root.ts';
import { MAX_DETAIL_ROWS_VARIABLE } from '../../adapters/fonts/report-font-files.ts';
import { loadReportFonts } from '../../adapters/fonts/report-fonts.ts';
import { parseStepInput } from './step-input.ts';

/** The deployment's cap on the report's table rows; rows past it are in the companion CSV. */
export function maxDetailRowsFrom(env: NodeJS.ProcessEnv): number {
  const raw = env[MAX_DETAIL_ROWS_VARIABLE];
  if (raw === undefined || raw === '') return DEFAULT_MAX_DETAIL_ROWS;
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(value)) {
    throw new ValidationError(`${MAX_DETAIL_ROWS_VARIABLE} must be a whole number.`, [
      { field: MAX_DETAIL_ROWS_VARIABLE, rule: 'must be a whole number of 0 or more' },
    ]);
  }
  return value;
}

/** Workflow step RenderReport (see core/export/workflow/render-export-report.ts). */
export const handler = middy().handler(async (input: unknown) =>
  renderExportReport(workflowDeps(), parseStepInput(input).exportId, {
    fonts: await loadReportFonts(),
    maxDetailRows: maxDetailRowsFrom(process.env),
  }),
);
