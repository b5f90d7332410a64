import { apiClientFor, type CliContext, type GlobalOptions } from '../context.ts';
import { CommandFailedError, oneLine } from '../errors.ts';
import { isHumanOutput, printJson, printLines, printSuccess } from '../output.ts';
import { exportsApi } from './exports-api.ts';
import { exportIdFlag } from './flags.ts';
import type { ExportJobView } from './job-view.ts';
import { deliveryLine } from './render.ts';
import { POLL_INTERVAL_MS } from './wait.ts';

/**
 * `kt export redeliver --id`: asks the API to deliver a failed delivery again (it re-runs the
 * workflow's Deliver step), then polls the job until the delivery has an outcome and prints it.
 * Exit 1 when it failed again, with the reason.
 */

export interface RedeliverTiming {
  /** Between polls (tests shorten it). */
  readonly pollIntervalMs?: number;
  readonly sleep?: (ms: number) => Promise<void>;
}

export async function redeliverExport(
  context: CliContext,
  globals: GlobalOptions,
  flags: { readonly id: string },
  timing: RedeliverTiming = {},
): Promise<void> {
  const id = exportIdFlag(flags.id);
  const api = exportsApi(apiClientFor(context, globals));
  const sleep = timing.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  let view: ExportJobView = await api.redeliver(id);
  while (view.delivery?.status === 'pending') {
    await sleep(timing.pollIntervalMs ?? POLL_INTERVAL_MS);
    view = await api.get(id);
  }
  const delivery = view.delivery;
  if (isHumanOutput(globals.outputFormat)) {
    if (delivery?.status === 'delivered') printSuccess(context.io, `Export ${id} delivered`);
    printLines(context.io, [
      `Delivery: ${deliveryLine(view) ?? 'none'}`,
      ...(delivery?.manifestUri === undefined ? [] : [`Manifest: ${oneLine(delivery.manifestUri)}`]),
    ]);
  } else {
    printJson(context.io, view);
  }
  if (delivery?.status !== 'delivered') {
    throw new CommandFailedError(
      `delivery of export ${id} failed: ${oneLine(delivery?.error ?? 'no reason given')}; kt export redeliver --id ${id} tries again`,
    );
  }
}
