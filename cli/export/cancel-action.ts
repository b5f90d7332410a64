import { apiClientFor, type CliContext, type GlobalOptions } from '../context.ts';
import { isHumanOutput, printJson, printLines, printSuccess } from '../output.ts';
import { exportsApi } from './exports-api.ts';
import { exportIdFlag } from './flags.ts';

/**
 * `kt export cancel --id`: stops a queued or running export (POST /v1/exports/{id}/cancel). It
 * ends with no artifact, and its place among the exports the token may run at once is free again.
 * Cancelling a cancelled export succeeds again; a finished one (completed, failed, deleted) is
 * refused by the API with its reason, which kt prints as its one error line (exit 1).
 */
export async function cancelExport(
  context: CliContext,
  globals: GlobalOptions,
  flags: { readonly id: string },
): Promise<void> {
  const id = exportIdFlag(flags.id);
  const view = await exportsApi(apiClientFor(context, globals)).cancel(id);
  if (!isHumanOutput(globals.outputFormat)) {
    printJson(context.io, view);
    return;
  }
  printSuccess(context.io, `Export ${id} cancelled`);
  printLines(context.io, ['No artifact was published; the job and its audit entries remain.']);
}
