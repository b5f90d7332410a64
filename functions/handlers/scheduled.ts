import middy from '@middy/core';
import { ValidationError } from '../core/errors.ts';
import { isoUtcTimestamp } from '../core/events/decision-event.ts';
import { fireSchedule } from '../core/schedules/schedule-operations.ts';
import { scheduleOperationDeps } from '../adapters/composition-root.ts';
import { logger } from './http/logger.ts';

/**
 * The scheduled Lambda: EventBridge Scheduler (or the local stack's croner) invokes it with the
 * schedule's name and the time it was due, `{"schedule":"…","scheduledTime":"<aws.scheduler.scheduled-time>"}`.
 * It runs the window ending at that time; a repeated or retried fire finds the same job. An error
 * is thrown only when retrying may help, so Scheduler's retries and its dead-letter queue see it.
 */
export const handler = middy().handler(async (event: unknown) => {
  const { schedule, scheduledTime } = parseFire(event);
  const run = await fireSchedule(scheduleOperationDeps(), schedule, scheduledTime);
  const outcome = run === undefined ? 'skipped' : run.created ? 'created' : 'existing';
  // Which window ran, and whether this fire made its job (a repeat fire finds the first one's).
  logger.info('scheduled export', { schedule, scheduledTime: scheduledTime.toISOString(), outcome, exportId: run?.job.id });
  return { schedule, scheduledTime: scheduledTime.toISOString(), outcome, ...(run ? { exportId: run.job.id } : {}) };
});

function parseFire(event: unknown): { schedule: string; scheduledTime: Date } {
  const record = (event ?? {}) as Record<string, unknown>;
  const time = isoUtcTimestamp.safeParse(record.scheduledTime);
  if (typeof record.schedule !== 'string' || record.schedule === '' || !time.success) {
    throw new ValidationError('A scheduled fire must name its schedule and scheduled time.', [
      { field: 'schedule', rule: 'must be the schedule name' },
      { field: 'scheduledTime', rule: 'must be an ISO 8601 UTC timestamp' },
    ]);
  }
  return { schedule: record.schedule, scheduledTime: new Date(Date.parse(time.data)) };
}
