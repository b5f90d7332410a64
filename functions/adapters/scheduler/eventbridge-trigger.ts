import {
  CreateScheduleCommand,
  type CreateScheduleCommandInput,
  DeleteScheduleCommand,
  type SchedulerClient,
  UpdateScheduleCommand,
} from '@aws-sdk/client-scheduler';
import type { ScheduleTrigger } from '../../core/ports.ts';
import { callAws, errorName } from '../aws-call.ts';
import type { SchedulerTarget } from './scheduler-settings.ts';

/** Scheduler's retries of a failed invocation: an hour is enough to ride out a throttled Lambda. */
export const SCHEDULE_RETRY_POLICY = { MaximumRetryAttempts: 10, MaximumEventAgeInSeconds: 3600 } as const;

/**
 * Schedules as EventBridge Scheduler schedules in our own group, each invoking the scheduled
 * Lambda with its name and the time it was due (Scheduler fills in `<aws.scheduler.scheduled-time>`
 * on every attempt, retries included, so they all name the same window).
 */
export class EventBridgeScheduleTrigger implements ScheduleTrigger {
  constructor(
    private readonly client: SchedulerClient,
    private readonly target: SchedulerTarget,
  ) {}

  async putTrigger(schedule: {
    readonly name: string;
    readonly expression: string;
    readonly timezone: string;
    readonly enabled: boolean;
  }): Promise<void> {
    const input = this.definition(schedule);
    await callAws(`Arming schedule ${schedule.name} in ${this.target.groupName}`, async () => {
      try {
        await this.client.send(new CreateScheduleCommand(input));
      } catch (error) {
        if (errorName(error) !== 'ConflictException') throw error;
        // It exists: an update replaces the whole definition (state included).
        await this.client.send(new UpdateScheduleCommand(input));
      }
    });
  }

  async deleteTrigger(name: string): Promise<void> {
    await callAws(`Removing schedule ${name} from ${this.target.groupName}`, async () => {
      try {
        await this.client.send(new DeleteScheduleCommand({ Name: name, GroupName: this.target.groupName }));
      } catch (error) {
        if (errorName(error) !== 'ResourceNotFoundException') throw error;
      }
    });
  }

  private definition(schedule: {
    readonly name: string;
    readonly expression: string;
    readonly timezone: string;
    readonly enabled: boolean;
  }): CreateScheduleCommandInput {
    return {
      Name: schedule.name,
      GroupName: this.target.groupName,
      ScheduleExpression: schedule.expression,
      ScheduleExpressionTimezone: schedule.timezone,
      // Exactly at the scheduled time: the window ends there, whatever the delivery delay.
      FlexibleTimeWindow: { Mode: 'OFF' },
      State: schedule.enabled ? 'ENABLED' : 'DISABLED',
      Description: `Keeptrusts Export recurring export ${schedule.name}`,
      Target: {
        Arn: this.target.functionArn,
        RoleArn: this.target.roleArn,
        Input: JSON.stringify({ schedule: schedule.name, scheduledTime: '<aws.scheduler.scheduled-time>' }),
        RetryPolicy: { ...SCHEDULE_RETRY_POLICY },
        DeadLetterConfig: { Arn: this.target.deadLetterArn },
      },
    };
  }
}
