import {
  CreateScheduleCommand,
  DeleteScheduleCommand,
  SchedulerClient,
  UpdateScheduleCommand,
} from '@aws-sdk/client-scheduler';
import { mockClient } from 'aws-sdk-client-mock';
import { backoffMs, callAws, isRetryable } from '../../../functions/adapters/aws-call.ts';
import { EventBridgeScheduleTrigger, SCHEDULE_RETRY_POLICY } from '../../../functions/adapters/scheduler/eventbridge-trigger.ts';
import { scheduleSettingsFromEnv } from '../../../functions/adapters/scheduler/scheduler-settings.ts';
import { DependencyError, NotFoundError } from '../../../functions/core/errors.ts';

const TARGET = {
  groupName: 'kt-schedules',
  functionArn: 'arn:aws:lambda:us-east-1:123456789012:function:scheduled',
  roleArn: 'arn:aws:iam::123456789012:role/scheduler',
  deadLetterArn: 'arn:aws:sqs:us-east-1:123456789012:dlq',
};
const SCHEDULE = { name: 'weekly', expression: 'cron(0 2 ? * MON *)', timezone: 'Europe/Berlin', enabled: true };

const named = (name: string, extra: Record<string, unknown> = {}) => Object.assign(new Error(name), { name, ...extra });

describe('EventBridgeScheduleTrigger', () => {
  const mock = mockClient(SchedulerClient);
  beforeEach(() => mock.reset());

  it('creates the schedule in the group: exact time, its time zone, the scheduled time in the input, retries and DLQ', async () => {
    mock.on(CreateScheduleCommand).resolves({});
    await new EventBridgeScheduleTrigger(new SchedulerClient({}), TARGET).putTrigger(SCHEDULE);
    const input = mock.commandCalls(CreateScheduleCommand)[0]!.args[0].input;
    expect(input).toEqual({
      Name: 'weekly',
      GroupName: 'kt-schedules',
      ScheduleExpression: 'cron(0 2 ? * MON *)',
      ScheduleExpressionTimezone: 'Europe/Berlin',
      FlexibleTimeWindow: { Mode: 'OFF' },
      State: 'ENABLED',
      Description: expect.any(String),
      Target: {
        Arn: TARGET.functionArn,
        RoleArn: TARGET.roleArn,
        Input: '{"schedule":"weekly","scheduledTime":"<aws.scheduler.scheduled-time>"}',
        RetryPolicy: SCHEDULE_RETRY_POLICY,
        DeadLetterConfig: { Arn: TARGET.deadLetterArn },
      },
    });
  });

  it('updates an existing schedule (pause: DISABLED)', async () => {
    mock.on(CreateScheduleCommand).rejects(named('ConflictException'));
    mock.on(UpdateScheduleCommand).resolves({});
    await new EventBridgeScheduleTrigger(new SchedulerClient({}), TARGET).putTrigger({ ...SCHEDULE, enabled: false });
    expect(mock.commandCalls(UpdateScheduleCommand)[0]!.args[0].input).toMatchObject({ Name: 'weekly', State: 'DISABLED' });
  });

  it('deleting a missing schedule is not an error; other failures are DependencyErrors', async () => {
    mock.on(DeleteScheduleCommand).rejectsOnce(named('ResourceNotFoundException')).rejects(named('AccessDeniedException'));
    const trigger = new EventBridgeScheduleTrigger(new SchedulerClient({}), TARGET);
    await trigger.deleteTrigger('weekly');
    await expect(trigger.deleteTrigger('weekly')).rejects.toThrow(
      /Removing schedule weekly from kt-schedules failed: AccessDeniedException/,
    );
  });
});

describe('callAws', () => {
  it('turns SDK errors into DependencyErrors naming what was done, and lets AppErrors through', async () => {
    await expect(callAws('Reading x', () => Promise.reject(named('ValidationException')))).rejects.toBeInstanceOf(
      DependencyError,
    );
    const notFound = new NotFoundError('Schedule', 'x');
    await expect(callAws('Reading x', () => Promise.reject(notFound))).rejects.toBe(notFound);
  });

  it('retries only what may pass, up to the attempts given', async () => {
    let calls = 0;
    const flaky = () => (++calls < 3 ? Promise.reject(named('ThrottlingException')) : Promise.resolve('ok'));
    expect(await callAws('x', flaky, { attempts: 3, baseDelayMs: 1, maxDelayMs: 2 })).toBe('ok');
    calls = 0;
    const denied = () => {
      calls += 1;
      return Promise.reject(named('AccessDeniedException'));
    };
    await expect(callAws('x', denied, { attempts: 3 })).rejects.toThrow();
    expect(calls).toBe(1);
    expect(isRetryable(named('X', { $metadata: { httpStatusCode: 503 } }))).toBe(true);
    expect(isRetryable(named('X', { $metadata: { httpStatusCode: 400 } }))).toBe(false);
    for (let attempt = 1; attempt < 10; attempt++) expect(backoffMs(attempt, 50, 2000)).toBeLessThanOrEqual(2000);
  });
});

describe('scheduleSettingsFromEnv', () => {
  it('needs all four target variables for a target; limits are whole numbers', () => {
    expect(scheduleSettingsFromEnv({ SCHEDULE_GROUP_NAME: 'g' })).toEqual({});
    expect(
      scheduleSettingsFromEnv({
        SCHEDULE_GROUP_NAME: 'g',
        SCHEDULED_FUNCTION_ARN: 'f',
        SCHEDULER_ROLE_ARN: 'r',
        SCHEDULE_DLQ_ARN: 'q',
        MAX_SCHEDULES: '10',
      }),
    ).toEqual({ target: { groupName: 'g', functionArn: 'f', roleArn: 'r', deadLetterArn: 'q' }, maxSchedules: 10 });
    expect(() => scheduleSettingsFromEnv({ SCHEDULE_MIN_INTERVAL_MINUTES: 'hourly' })).toThrow(/whole number/);
  });
});
