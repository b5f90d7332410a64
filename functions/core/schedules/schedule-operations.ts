import type { Principal } from '../auth/token-record.ts';
import { requireScope } from '../auth/tokens.ts';
import { ConflictError, DependencyError, NotFoundError } from '../errors.ts';
import type { DeliveryBucket } from '../export/delivery.ts';
import { type ExportJob, newExportJob } from '../export/export-job.ts';
import { claimRunningSlot, type RunningExportLimit } from '../export/export-limits.ts';
import { parseExportRequest } from '../export/export-request.ts';
import type { AuditLog, ExportJobStore, Revisioned, ScheduleStore, ScheduleTrigger, WorkflowStarter } from '../ports.ts';
import {
  canSeeSchedule,
  DEFAULT_MAX_SCHEDULES,
  type ExportSchedule,
  parseRunRequest,
  parseScheduleListQuery,
  parseScheduleRequest,
  recordRun,
  SCHEDULE_NAME,
  type ScheduleView,
  scheduleView,
  setState,
} from './schedule.ts';
import { parseWindow, runRange, scheduledExportId } from './window.ts';

/** What the schedule operations need; the composition root provides it. */
export interface ScheduleOperationDeps {
  readonly schedules: ScheduleStore;
  readonly trigger: ScheduleTrigger;
  readonly jobs: ExportJobStore;
  readonly audit: AuditLog;
  readonly workflow: WorkflowStarter;
  readonly now: () => Date;
  /** @default DEFAULT_MAX_SCHEDULES */
  readonly maxSchedules?: number;
  /** @default DEFAULT_MIN_INTERVAL_MINUTES */
  readonly minIntervalMinutes?: number;
  /** @default - none: schedules that deliver are refused */
  readonly deliveryBuckets?: readonly DeliveryBucket[];
  /** The longest window, as the longest export range (`maxRangeDays`). @default DEFAULT_MAX_RANGE_DAYS */
  readonly maxRangeDays?: number;
  /**
   * The limit on exports one principal may have queued or running: it holds for runs a caller
   * starts (`run`), not for those the scheduler fires, which the schedule limit bounds already.
   * @default - no limit
   */
  readonly runningExports?: RunningExportLimit;
}

/** The actor of runs the scheduler fires (audit entries, the job's createdBy). */
export const SCHEDULER_ACTOR = 'scheduler';

/** POST /v1/export-schedules. */
export async function createSchedule(
  deps: ScheduleOperationDeps,
  body: unknown,
  principal: Principal,
): Promise<ScheduleView> {
  requireScope(principal, 'schedules:write');
  const now = deps.now();
  const schedule = parseScheduleRequest(body, principal, now, {
    ...(deps.minIntervalMinutes === undefined ? {} : { minIntervalMinutes: deps.minIntervalMinutes }),
    ...(deps.deliveryBuckets === undefined ? {} : { deliveryBuckets: deps.deliveryBuckets }),
    ...(deps.maxRangeDays === undefined ? {} : { maxRangeDays: deps.maxRangeDays }),
  });
  const max = deps.maxSchedules ?? DEFAULT_MAX_SCHEDULES;
  // A 409, not a 429: the limit does not pass with time, only a delete makes room. Count, then
  // create: creates racing for the last place may each pass the count, so the deployment can hold
  // one more per concurrent create; schedules are made by people, a few a day, and each costs at
  // most one run per hour (the minimum interval), so the bound is the number of such races.
  const count = await deps.schedules.countSchedules();
  if (count >= max) {
    throw new ConflictError(
      `This deployment already has ${count} schedules and allows at most ${max} (MAX_SCHEDULES); ` +
        'delete one (kt export schedule delete --name <name>) before adding another.',
    );
  }
  try {
    await deps.schedules.createSchedule(schedule);
  } catch (error) {
    if (!(error instanceof ConflictError)) throw error;
    throw new ConflictError(
      `A schedule named ${schedule.name} already exists; choose another name, or delete it first.`,
      { cause: error },
    );
  }
  try {
    await deps.trigger.putTrigger(triggerOf(schedule));
  } catch (cause) {
    // A stored schedule that never fires would look scheduled and prove nothing: take it back.
    await deps.schedules.deleteSchedule(schedule.name);
    throw new DependencyError(`Schedule ${schedule.name} could not be armed; nothing was stored. Try again.`, {
      cause,
    });
  }
  await audit(deps, 'schedule.created', schedule, principal.tokenId, now, {
    cron: schedule.cron,
    expression: schedule.expression,
    timezone: schedule.timezone,
    window: schedule.window,
    format: schedule.format,
    ...(schedule.filters.team === undefined ? {} : { team: schedule.filters.team }),
    ...(schedule.filters.policy === undefined ? {} : { policy: schedule.filters.policy }),
    ...(schedule.delivery === undefined
      ? {}
      : { deliveryBucket: schedule.delivery.bucket, deliveryPrefix: schedule.delivery.prefix }),
  });
  return scheduleView(schedule, now);
}

/** GET /v1/export-schedules: every schedule the caller may see, by name, with its last run's status. */
export async function listSchedules(
  deps: ScheduleOperationDeps,
  principal: Principal,
  query: Readonly<Record<string, string | undefined>> = {},
): Promise<{ readonly schedules: readonly ScheduleView[] }> {
  requireScope(principal, 'exports:read');
  parseScheduleListQuery(query);
  const now = deps.now();
  const visible = (await deps.schedules.listSchedules()).filter((s) => canSeeSchedule(principal, s));
  return { schedules: await Promise.all(visible.map((schedule) => viewWithRun(deps, schedule, now))) };
}

/** GET /v1/export-schedules/{name}. */
export async function getSchedule(
  deps: ScheduleOperationDeps,
  name: string,
  principal: Principal,
): Promise<ScheduleView> {
  requireScope(principal, 'exports:read');
  const { value } = await visibleSchedule(deps, name, principal);
  return viewWithRun(deps, value, deps.now());
}

/** DELETE /v1/export-schedules/{name}: the trigger first, so nothing fires for a deleted schedule. */
export async function deleteSchedule(
  deps: ScheduleOperationDeps,
  name: string,
  principal: Principal,
): Promise<ScheduleView> {
  requireScope(principal, 'schedules:write');
  const { value } = await visibleSchedule(deps, name, principal);
  const now = deps.now();
  await deps.trigger.deleteTrigger(value.name);
  await deps.schedules.deleteSchedule(value.name);
  await audit(deps, 'schedule.deleted', value, principal.tokenId, now);
  const { nextRun: _none, ...view } = scheduleView(value, now);
  return view;
}

/** POST /v1/export-schedules/{name}/pause and /resume; repeating one changes nothing. */
export async function setScheduleState(
  deps: ScheduleOperationDeps,
  name: string,
  state: 'enabled' | 'paused',
  principal: Principal,
): Promise<ScheduleView> {
  requireScope(principal, 'schedules:write');
  const found = await visibleSchedule(deps, name, principal);
  const now = deps.now();
  if (found.value.state === state) return viewWithRun(deps, found.value, now);
  const changed = setState(found.value, state, now);
  // The trigger first: a failure here leaves the stored state as it was, and a retry repeats it.
  await deps.trigger.putTrigger(triggerOf(changed));
  await deps.schedules.saveSchedule(changed, found.revision);
  await audit(deps, state === 'paused' ? 'schedule.paused' : 'schedule.resumed', changed, principal.tokenId, now);
  return viewWithRun(deps, changed, now);
}

export interface ScheduleRunResult {
  readonly job: ExportJob;
  /** False when the run for this scheduled time existed already (a repeat fire, a retry, a re-run). */
  readonly created: boolean;
}

/**
 * POST /v1/export-schedules/{name}/run: runs the window ending at `at` (default: now, to the
 * second). A time in the future is refused: its window is not over, and the scheduled fire at
 * that time would find this run's job and export nothing more.
 */
export async function runScheduleNow(
  deps: ScheduleOperationDeps,
  name: string,
  body: unknown,
  principal: Principal,
): Promise<ScheduleRunResult> {
  requireScope(principal, 'schedules:write');
  const now = deps.now();
  const at = parseRunRequest(body, now);
  const { value } = await visibleSchedule(deps, name, principal);
  return runSchedule(deps, value, at, principal.tokenId, deps.runningExports);
}

/**
 * The scheduled Lambda's entry: the run of `name` for the scheduled time the scheduler reported.
 * A schedule deleted or paused after the fire was sent is not run (undefined).
 */
export async function fireSchedule(
  deps: ScheduleOperationDeps,
  name: string,
  scheduledAt: Date,
): Promise<ScheduleRunResult | undefined> {
  const found = await deps.schedules.getSchedule(name);
  if (found === undefined || found.value.state !== 'enabled') return undefined;
  // Scheduler reports the minute it was due; anything finer is not a scheduled time.
  const at = new Date(Math.floor(scheduledAt.getTime() / 1000) * 1000);
  return runSchedule(deps, found.value, at, SCHEDULER_ACTOR);
}

/**
 * Exactly one job per (schedule, T), however often T fires: the export id is derived from both
 * and the job is stored with a conditional write, so a second attempt finds the first one's job.
 */
async function runSchedule(
  deps: ScheduleOperationDeps,
  schedule: ExportSchedule,
  at: Date,
  actor: string,
  limit?: RunningExportLimit,
): Promise<ScheduleRunResult> {
  const id = scheduledExportId(schedule.name, at, schedule.createdAt);
  const existing = await deps.jobs.getJob(id);
  if (existing !== undefined) return resumeRun(deps, existing.value);

  // The stored window as it is: the export request's checks below hold it to today's longest range.
  const range = runRange(at, parseWindow(schedule.window, Number.POSITIVE_INFINITY).ms);
  const delivery = schedule.delivery;
  // The export request's own checks, so a run is held to the rules of today (the allow-list may
  // have changed since the schedule was made).
  const request = parseExportRequest(
    {
      ...range,
      format: schedule.format,
      ...(schedule.title === undefined ? {} : { title: schedule.title }),
      filters: schedule.filters,
      ...(delivery === undefined
        ? {}
        : {
            delivery: {
              s3Bucket: delivery.bucket,
              s3Prefix: delivery.prefix,
              ...(delivery.region === undefined ? {} : { s3Region: delivery.region }),
            },
          }),
    },
    { tokenId: actor, name: `schedule ${schedule.name}`, scopes: [] },
    {
      ...(deps.deliveryBuckets === undefined ? {} : { deliveryBuckets: deps.deliveryBuckets }),
      ...(deps.maxRangeDays === undefined ? {} : { maxRangeDays: deps.maxRangeDays }),
    },
  );
  const now = deps.now();
  const job: ExportJob = {
    ...newExportJob(request, { tokenId: actor, name: actor, scopes: [] }, now, id),
    schedule: schedule.name,
  };
  // After the request's checks, before anything is written: a refused run (429) leaves nothing.
  if (limit !== undefined) await claimRunningSlot(limit, deps.jobs, actor, id, now);
  try {
    await deps.jobs.createJob(job);
  } catch (error) {
    if (!(error instanceof ConflictError)) throw error;
    // Another fire of the same T stored it between our read and our write: it is that run.
    const raced = await deps.jobs.getJob(id);
    if (raced === undefined) throw error;
    // Its creator's slot is the one its end frees (ours too when we are its creator).
    if (limit !== undefined && raced.value.createdBy !== actor) await limit.slots.releaseSlot(actor, id);
    return resumeRun(deps, raced.value);
  }
  await deps.audit.append({
    action: 'export.created',
    subject: id,
    actor,
    at: job.createdAt,
    details: {
      format: job.format,
      from: job.range.from,
      to: job.range.to,
      schedule: schedule.name,
      scheduledAt: at.toISOString(),
      ...(job.filters.team === undefined ? {} : { team: job.filters.team }),
      ...(job.filters.policy === undefined ? {} : { policy: job.filters.policy }),
    },
  });
  await start(deps, id);
  await noteRun(deps, schedule.name, { scheduledAt: at.toISOString(), exportId: id });
  return { job, created: true };
}

/** A run found again: if the first attempt stopped before its workflow started, start it now. */
async function resumeRun(deps: ScheduleOperationDeps, job: ExportJob): Promise<ScheduleRunResult> {
  if (job.status === 'queued') await start(deps, job.id);
  return { job, created: false };
}

async function start(deps: ScheduleOperationDeps, id: string): Promise<void> {
  try {
    await deps.workflow.startExport(id);
  } catch (cause) {
    // The job stays queued: the scheduler's retry (or running the same time again) starts it.
    throw new DependencyError(`Export ${id} could not be started; run the schedule for the same time again.`, {
      cause,
    });
  }
}

/** Best effort: the run's job is what counts; a lost race only delays what `list` shows. */
async function noteRun(
  deps: ScheduleOperationDeps,
  name: string,
  run: { readonly scheduledAt: string; readonly exportId: string },
): Promise<void> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const found = await deps.schedules.getSchedule(name);
    if (found === undefined) return;
    const next = recordRun(found.value, run);
    if (next === found.value) return;
    try {
      await deps.schedules.saveSchedule(next, found.revision);
      return;
    } catch (error) {
      if (!(error instanceof ConflictError)) throw error;
    }
  }
}

async function visibleSchedule(
  deps: ScheduleOperationDeps,
  name: string,
  principal: Principal,
): Promise<Revisioned<ExportSchedule>> {
  const found = SCHEDULE_NAME.test(name) ? await deps.schedules.getSchedule(name) : undefined;
  // Another team's schedule reads as missing, so names of other teams' schedules leak nothing.
  if (found === undefined || !canSeeSchedule(principal, found.value)) throw new NotFoundError('Schedule', name);
  return found;
}

async function viewWithRun(deps: ScheduleOperationDeps, schedule: ExportSchedule, now: Date): Promise<ScheduleView> {
  const run = schedule.lastRun === undefined ? undefined : await deps.jobs.getJob(schedule.lastRun.exportId);
  return scheduleView(schedule, now, run?.value.status);
}

function triggerOf(schedule: ExportSchedule) {
  return {
    name: schedule.name,
    expression: schedule.expression,
    timezone: schedule.timezone,
    enabled: schedule.state === 'enabled',
  };
}

async function audit(
  deps: ScheduleOperationDeps,
  action: 'schedule.created' | 'schedule.deleted' | 'schedule.paused' | 'schedule.resumed',
  schedule: ExportSchedule,
  actor: string,
  now: Date,
  details?: Readonly<Record<string, string>>,
): Promise<void> {
  await deps.audit.append({
    action,
    subject: schedule.name,
    actor,
    at: now.toISOString(),
    ...(details === undefined ? {} : { details }),
  });
}
