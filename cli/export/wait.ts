import { type ExportJobView, isTerminal } from './job-view.ts';

/**
 * `kt export create --wait`: polls the job until it can no longer change. About once a second is
 * quick enough for a person watching and cheap for the API; transient API errors are already
 * retried by the client, so one failed poll does not end the wait.
 */

export interface WaitOptions {
  /** Between polls; default 1 s. */
  readonly intervalMs?: number;
  readonly sleep?: (ms: number) => Promise<void>;
  /** Every view seen, the first included (progress bars). */
  readonly onUpdate?: (view: ExportJobView) => void;
}

export const POLL_INTERVAL_MS = 1_000;

/** Returns the job's terminal view (completed, failed, cancelled or deleted), starting from `first`. */
export async function waitForExport(
  first: ExportJobView,
  poll: (id: string) => Promise<ExportJobView>,
  options: WaitOptions = {},
): Promise<ExportJobView> {
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  let view = first;
  options.onUpdate?.(view);
  while (!isTerminal(view.status)) {
    await sleep(options.intervalMs ?? POLL_INTERVAL_MS);
    view = await poll(first.id);
    options.onUpdate?.(view);
  }
  return view;
}
