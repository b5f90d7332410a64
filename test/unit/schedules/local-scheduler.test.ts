import type { ScheduleStore } from '../../../functions/core/ports.ts';
import type { ExportSchedule } from '../../../functions/core/schedules/schedule.ts';
import { LocalScheduleTrigger } from '../../../infra/local/local-scheduler.ts';

/**
 * The local stack's scheduler fires with croner at the schedule's times (clock faked), hands the
 * handler the minute it was due, and after a restart arms the enabled schedules from now on only.
 */

const WEEKLY = { name: 'weekly', expression: 'cron(0 2 ? * MON *)', timezone: 'UTC', enabled: true };

describe('LocalScheduleTrigger', () => {
  beforeEach(() => jest.useFakeTimers({ now: new Date('2026-04-20T01:59:30Z') }));
  afterEach(() => jest.useRealTimers());

  it('fires at the scheduled time with that time, and not while paused or after deletion', async () => {
    const fires: { schedule: string; scheduledTime: string }[] = [];
    const trigger = new LocalScheduleTrigger(async (event) => void fires.push(event));
    await trigger.putTrigger(WEEKLY);
    await jest.advanceTimersByTimeAsync(29_000);
    expect(fires).toEqual([]);
    await jest.advanceTimersByTimeAsync(2_000);
    expect(fires).toEqual([{ schedule: 'weekly', scheduledTime: '2026-04-20T02:00:00Z' }]);

    await trigger.putTrigger({ ...WEEKLY, enabled: false });
    expect(trigger.armed()).toEqual([]);
    await jest.advanceTimersByTimeAsync(7 * 86_400_000);
    expect(fires).toHaveLength(1);

    await trigger.putTrigger(WEEKLY);
    await trigger.deleteTrigger('weekly');
    await jest.advanceTimersByTimeAsync(7 * 86_400_000);
    expect(fires).toHaveLength(1);
    await trigger.stop();
  });

  it('a failed fire is reported, and the schedule keeps firing', async () => {
    const errors: string[] = [];
    let calls = 0;
    const trigger = new LocalScheduleTrigger(
      async () => {
        calls += 1;
        throw new Error('no table');
      },
      (name, error) => errors.push(`${name}: ${(error as Error).message}`),
    );
    await trigger.putTrigger({ ...WEEKLY, expression: 'cron(0 * * * ? *)' });
    await jest.advanceTimersByTimeAsync(2 * 3_600_000);
    expect(calls).toBe(2);
    expect(errors).toEqual(['weekly: no table', 'weekly: no table']);
    await trigger.stop();
  });

  it('rearm arms the stored enabled schedules; runs missed before it are not replayed', async () => {
    const daily = 'cron(0 2 * * ? *)';
    const stored = [
      { name: 'daily', expression: daily, timezone: 'UTC', state: 'enabled' },
      { name: 'paused', expression: daily, timezone: 'UTC', state: 'paused' },
    ] as unknown as ExportSchedule[];
    const fires: string[] = [];
    const trigger = new LocalScheduleTrigger(async (event) => void fires.push(event.scheduledTime));
    jest.setSystemTime(new Date('2026-04-20T03:00:00Z')); // an hour after today's run was due
    expect(await trigger.rearm({ listSchedules: async () => stored } as unknown as ScheduleStore)).toBe(1);
    expect(trigger.armed()).toEqual(['daily']);
    await jest.advanceTimersByTimeAsync(86_400_000);
    expect(fires).toEqual(['2026-04-21T02:00:00Z']);
    await trigger.stop();
  });
});
