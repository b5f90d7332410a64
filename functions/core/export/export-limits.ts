import { AppError, LimitExceededError } from '../errors.ts';
import type { ExportJobStore, RunningExportSlot, RunningExportSlots } from '../ports.ts';
import { type ExportJob, isTerminal } from './export-job.ts';

/**
 * Limits against runaway cost: how many exports one principal may have queued or running at once
 * (a 429 with Retry-After beyond it), and how many records one export may hold (the job fails,
 * loudly, beyond it: nothing is ever truncated).
 */

/** Exports one principal (a token, or an IAM caller) may have queued or running at once. */
export const DEFAULT_MAX_RUNNING_EXPORTS = 5;
/** Records one export may hold; an export with more fails (ExportTooLargeError). */
export const DEFAULT_MAX_EXPORT_RECORDS = 10_000_000;
/**
 * The Retry-After of a refused create: about how long a typical export takes to finish and free
 * its slot (a few thousand to a few hundred thousand events take seconds to under a minute).
 */
export const RUNNING_LIMIT_RETRY_AFTER_SECONDS = 30;

/**
 * When a slot's holder no longer counts, though no one released the slot (a step that stopped
 * between saving the job and releasing it, a workflow that ended without MarkFailed):
 * - no job 5 minutes after the claim: the creating request stopped before storing it;
 * - still queued 15 minutes after creation: its workflow never started (a start takes seconds);
 * - still running 12 hours after it started: the state machine's time limit
 *   (DEFAULT_WORKFLOW_TIMEOUT) has stopped its execution, which leaves the job `running`.
 * A job freed this way that runs after all (the local stack resumes unfinished exports on start)
 * runs beyond the limit; at most one per slot, and only after such a failure.
 */
const MISSING_JOB_GRACE_MS = 5 * 60_000;
const STUCK_QUEUED_MS = 15 * 60_000;
const WORKFLOW_TIME_LIMIT_MS = 12 * 3_600_000;

/** What enforcing the running-exports limit needs. */
export interface RunningExportLimit {
  readonly slots: RunningExportSlots;
  /** At most this many exports queued or running per principal. */
  readonly max: number;
}

/** An export over the deployment's records limit; its job fails, naming the limit and the count. */
export class ExportTooLargeError extends AppError {
  readonly code = 'too_large';
}

/**
 * Takes one of `owner`'s running-export slots for `exportId`, before anything of the export is
 * written; a LimitExceededError (429) when all are held by exports still queued or running.
 *
 * Exact under concurrent creates: there are `max` slots and each claim is a conditional write, so
 * two creates racing for the last slot get one slot and one 429. A slot whose export finished
 * without releasing it is taken over (see MISSING_JOB_GRACE_MS above). Holding a slot already
 * (a repeat of a create that stopped half-way) is not an error.
 */
export async function claimRunningSlot(
  limit: RunningExportLimit,
  jobs: ExportJobStore,
  owner: string,
  exportId: string,
  now: Date,
): Promise<void> {
  const taken = await limit.slots.takenSlots(owner);
  if (taken.some((slot) => slot.exportId === exportId)) return;
  const claimedAt = now.toISOString();
  const used = new Set(taken.map((slot) => slot.index));
  let raced = 0;
  for (let index = 0; index < limit.max; index++) {
    if (used.has(index)) continue;
    if (await limit.slots.claimSlot(owner, { index, exportId, claimedAt })) return;
    raced += 1;
  }
  const finished = await Promise.all(taken.map((slot) => holderFinished(jobs, slot, now)));
  for (const [n, slot] of taken.entries()) {
    if (!finished[n]) continue;
    if (slot.index >= limit.max) {
      // A slot beyond a limit since lowered: it goes once its export has finished.
      await limit.slots.releaseSlot(owner, slot.exportId).catch(() => undefined);
      continue;
    }
    if (await limit.slots.claimSlot(owner, { index: slot.index, exportId, claimedAt }, slot.exportId)) return;
    raced += 1;
  }
  const running = finished.filter((done) => !done).length + raced;
  const exports = running === 1 ? '1 export' : `${running} exports`;
  throw new LimitExceededError(
    `${exports} of ${whose(owner)} ${running === 1 ? 'is' : 'are'} already queued or running ` +
      `(the limit is ${limit.max} at a time)`,
    RUNNING_LIMIT_RETRY_AFTER_SECONDS,
  );
}

/**
 * Frees the slot the job held, once it has finished (completed or failed). Best effort: should it
 * fail, the next create of the same principal finds the holder finished and takes the slot over.
 */
export async function releaseRunningSlot(
  slots: RunningExportSlots | undefined,
  job: ExportJob,
): Promise<void> {
  if (slots === undefined) return;
  await slots.releaseSlot(job.createdBy, job.id).catch(() => undefined);
}

async function holderFinished(jobs: ExportJobStore, slot: RunningExportSlot, now: Date): Promise<boolean> {
  const found = await jobs.getJob(slot.exportId);
  const age = (at: string | undefined) => now.getTime() - Date.parse(at ?? slot.claimedAt);
  if (found === undefined) return age(slot.claimedAt) > MISSING_JOB_GRACE_MS;
  const job = found.value;
  if (isTerminal(job.status)) return true;
  if (job.status === 'queued') return age(job.createdAt) > STUCK_QUEUED_MS;
  return age(job.startedAt ?? job.createdAt) > WORKFLOW_TIME_LIMIT_MS;
}

function whose(owner: string): string {
  return owner.startsWith('iam:') ? 'this IAM caller' : 'this token';
}

/** The error ExportPage fails a job with once it would write record `max + 1`. */
export function tooManyRecords(exportId: string, max: number): ExportTooLargeError {
  const count = (n: number) => n.toLocaleString('en-US');
  return new ExportTooLargeError(
    `Export ${exportId} matches more than ${count(max)} records, the most this deployment allows in one export ` +
      `(maxExportRecords); it stopped at record ${count(max + 1)} and no artifact was published. ` +
      'Export a shorter range or narrower filters, in several exports.',
  );
}
