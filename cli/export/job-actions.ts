import {
  DEFAULT_LIST_LIMIT,
  exportListQuerySchema,
  MAX_LIST_LIMIT,
} from '../../functions/core/export/operations/read-exports.ts';
import { checkQuery } from '../../functions/core/request-schema.ts';
import { apiClientFor, type CliContext, type GlobalOptions } from '../context.ts';
import { refuseIssues } from '../request-checks.ts';
import { isHumanOutput, printJson, printLines, printSuccess } from '../output.ts';
import { exportsApi } from './exports-api.ts';
import { cursorFlag, exportIdFlag } from './flags.ts';
import { listLines, statusLines } from './render.ts';

/**
 * `kt export status | list | delete`: one request each, printed as the tutorial shows, or the
 * API's JSON document as is with `-o json`. Flags are checked before the client is built, so a
 * wrong command line is a usage error (exit 2) even without a token.
 */

export { DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT };

export async function showExportStatus(
  context: CliContext,
  globals: GlobalOptions,
  flags: { readonly id: string },
): Promise<void> {
  const id = exportIdFlag(flags.id);
  const view = await exportsApi(apiClientFor(context, globals)).get(id);
  if (isHumanOutput(globals.outputFormat)) printLines(context.io, statusLines(view));
  else printJson(context.io, view);
}

export async function listExports(
  context: CliContext,
  globals: GlobalOptions,
  flags: { readonly limit: number; readonly cursor?: string },
): Promise<void> {
  const cursor = cursorFlag(flags.cursor);
  const checked = checkQuery(exportListQuerySchema, { limit: String(flags.limit), cursor });
  if (!checked.ok) refuseIssues(checked.issues, { limit: '--limit', cursor: '--cursor' });
  const page = await exportsApi(apiClientFor(context, globals)).list({
    limit: flags.limit,
    ...(cursor !== undefined && { cursor }),
  });
  if (!isHumanOutput(globals.outputFormat)) {
    printJson(context.io, page);
    return;
  }
  if (page.exports.length > 0) printLines(context.io, listLines(page.exports));
  else if (cursor !== undefined) context.io.stdout.write('No more exports.\n');
  else {
    context.io.stdout.write(
      'No exports yet. Create one with: kt export create --from <start> --to <end> --format json\n',
    );
  }
  // On stderr, so the table on stdout stays exactly the table.
  if (page.cursor !== undefined) {
    const limit = flags.limit === DEFAULT_LIST_LIMIT ? '' : ` --limit ${flags.limit}`;
    context.io.stderr.write(`More exports: kt export list${limit} --cursor ${shellWord(page.cursor)}\n`);
  }
}

export async function deleteExport(
  context: CliContext,
  globals: GlobalOptions,
  flags: { readonly id: string },
): Promise<void> {
  const id = exportIdFlag(flags.id);
  const view = await exportsApi(apiClientFor(context, globals)).remove(id);
  if (!isHumanOutput(globals.outputFormat)) {
    printJson(context.io, view);
    return;
  }
  printSuccess(context.io, `Export ${id} deleted`);
  printLines(context.io, ['The artifact was removed; the job and its audit entries remain.']);
}

/** A cursor is opaque: quote it when a shell would otherwise split or expand it. */
function shellWord(value: string): string {
  return /^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replaceAll("'", `'\\''`)}'`;
}
