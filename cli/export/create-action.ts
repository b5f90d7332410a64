import { randomUUID } from 'node:crypto';
import { apiClientFor, type CliContext, type GlobalOptions } from '../context.ts';
import { CommandFailedError, oneLine, UsageError } from '../errors.ts';
import { isHumanOutput, printJson, printLines, printSuccess } from '../output.ts';
import { createProgress } from '../progress.ts';
import { exportRequestIssues } from '../../functions/core/export/export-request.ts';
import { refuseIssues } from '../request-checks.ts';
import { type CreateExportBody, EXPORT_FLAG_FOR_FIELD, exportsApi } from './exports-api.ts';
import { deliveryFlags, filterFlag, idempotencyKeyFlag, rangeFlags, titleFlag } from './flags.ts';
import type { ExportFormatChoice, ExportJobView } from './job-view.ts';
import { createdLines, statusLines, wholePercent } from './render.ts';
import { POLL_INTERVAL_MS, waitForExport } from './wait.ts';

/** `kt export create`: starts a job, and with --wait follows it to its end. */

export interface CreateFlags {
  readonly from: string;
  readonly to: string;
  readonly format: ExportFormatChoice;
  readonly title?: string;
  /** PDF only: a4 (the default) or letter. */
  readonly pageSize?: string;
  readonly filterTeam?: string;
  readonly team?: string;
  readonly filterPolicy?: string;
  readonly policy?: string;
  readonly wait?: boolean;
  readonly idempotencyKey?: string;
  readonly s3Bucket?: string;
  readonly s3Prefix?: string;
  readonly s3Region?: string;
}

export interface CreateTiming {
  /** Between polls with --wait (tests shorten it). */
  readonly pollIntervalMs?: number;
}

export async function createExport(
  context: CliContext,
  globals: GlobalOptions,
  flags: CreateFlags,
  timing: CreateTiming = {},
): Promise<void> {
  const body = requestBody(flags);
  // One key per invocation: the client may resend the POST after a timeout or a 5xx, and the API
  // must then answer with the same job instead of starting a second one.
  const key = flags.idempotencyKey === undefined ? randomUUID() : idempotencyKeyFlag(flags.idempotencyKey);
  const api = exportsApi(apiClientFor(context, globals));
  const human = isHumanOutput(globals.outputFormat);

  const job = await api.create(body, key);
  if (human) {
    printSuccess(context.io, 'Export job created');
    printLines(context.io, createdLines(job));
  }
  if (!flags.wait) {
    if (!human) printJson(context.io, job);
    return;
  }

  let final = await followWithProgress(context, globals, job, (id) => api.get(id), timing);
  // The job completes before its delivery does: wait for the delivery's outcome as well.
  while (final.status === 'completed' && final.delivery?.status === 'pending') {
    await new Promise((resolve) => setTimeout(resolve, timing.pollIntervalMs ?? POLL_INTERVAL_MS));
    final = await api.get(final.id);
  }
  if (human) {
    context.io.stdout.write('\n');
    printLines(context.io, statusLines(final));
  } else {
    printJson(context.io, final);
  }
  // The block above already shows the outcome; the exit code lets a script stop here.
  if (final.status === 'failed') {
    throw new CommandFailedError(
      `export ${final.id} failed: ${oneLine(final.error?.reason ?? 'no reason given')}`,
    );
  }
  if (final.status === 'cancelled') {
    throw new CommandFailedError(`export ${final.id} was cancelled`);
  }
  if (final.status === 'deleted') {
    throw new CommandFailedError(`export ${final.id} was deleted while kt was waiting for it`);
  }
  if (final.delivery?.status === 'failed') {
    throw new CommandFailedError(
      `export ${final.id} completed but its delivery failed: ${oneLine(final.delivery.error ?? 'no reason given')}; ` +
        `kt export redeliver --id ${final.id} tries again`,
    );
  }
}

/** The POST body from the flags, each checked locally first (usage errors, exit 2). */
function requestBody(flags: CreateFlags): CreateExportBody {
  const range = rangeFlags(flags.from, flags.to);
  const team = filterFlag('team', flags.filterTeam, flags.team);
  const policy = filterFlag('policy', flags.filterPolicy, flags.policy);
  const title = titleFlag(flags.title);
  const delivery = deliveryFlags(flags);
  if (flags.pageSize !== undefined && flags.format !== 'pdf') {
    throw new UsageError('--page-size applies to --format pdf only');
  }
  const body: CreateExportBody = {
    // As the user wrote them: the API echoes the range back and the output prints it as given.
    from: range.from,
    to: range.to,
    format: flags.format,
    ...(title !== undefined && { title }),
    ...(flags.pageSize !== undefined && { pageSize: flags.pageSize }),
    ...((team !== undefined || policy !== undefined) && {
      filters: { ...(team !== undefined && { team }), ...(policy !== undefined && { policy }) },
    }),
    ...(delivery !== undefined && { delivery }),
  };
  // The API's own schema, without what only the deployment knows (its longest range, its buckets).
  refuseIssues(exportRequestIssues(body), EXPORT_FLAG_FOR_FIELD);
  return body;
}

async function followWithProgress(
  context: CliContext,
  globals: GlobalOptions,
  job: ExportJobView,
  poll: (id: string) => Promise<ExportJobView>,
  timing: CreateTiming,
): Promise<ExportJobView> {
  const progress = createProgress(context.io, globals.outputFormat);
  progress.start('Exporting', 100, 'percent');
  try {
    return await waitForExport(job, poll, {
      ...(timing.pollIntervalMs !== undefined && { intervalMs: timing.pollIntervalMs }),
      onUpdate: (view) => {
        if (view.status === 'completed') progress.update(100);
        else if (view.progress !== undefined) progress.update(wholePercent(view.progress.percent));
      },
    });
  } finally {
    progress.stop();
  }
}
