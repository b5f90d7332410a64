/**
 * Where recurring exports are armed on AWS (EventBridge Scheduler) and the deployment's limits on
 * them. On AWS these come from the API Lambda's environment, set by infra/constructs/scheduling.ts.
 */
export interface SchedulerTarget {
  /** The Scheduler schedule group the API creates schedules in (`SCHEDULE_GROUP_NAME`). */
  readonly groupName: string;
  /** The scheduled Lambda every schedule invokes (`SCHEDULED_FUNCTION_ARN`). */
  readonly functionArn: string;
  /** The role Scheduler assumes to invoke it (`SCHEDULER_ROLE_ARN`). */
  readonly roleArn: string;
  /** Where fires that still fail after their retries go (`SCHEDULE_DLQ_ARN`). */
  readonly deadLetterArn: string;
}

export interface ScheduleSettings {
  /** @default - none: creating a schedule fails with a ConfigurationError */
  readonly target?: SchedulerTarget;
  /** `MAX_SCHEDULES`. @default DEFAULT_MAX_SCHEDULES (100) */
  readonly maxSchedules?: number;
  /** `SCHEDULE_MIN_INTERVAL_MINUTES`. @default DEFAULT_MIN_INTERVAL_MINUTES (60) */
  readonly minIntervalMinutes?: number;
}

/** The environment variable names, shared by the stack that sets them and the code that reads them. */
export const SCHEDULER_VARIABLES = {
  groupName: 'SCHEDULE_GROUP_NAME',
  functionArn: 'SCHEDULED_FUNCTION_ARN',
  roleArn: 'SCHEDULER_ROLE_ARN',
  deadLetterArn: 'SCHEDULE_DLQ_ARN',
  maxSchedules: 'MAX_SCHEDULES',
  minIntervalMinutes: 'SCHEDULE_MIN_INTERVAL_MINUTES',
} as const;

export function scheduleSettingsFromEnv(env: NodeJS.ProcessEnv): ScheduleSettings {
  const v = SCHEDULER_VARIABLES;
  const maxSchedules = env[v.maxSchedules];
  const minInterval = env[v.minIntervalMinutes];
  const groupName = env[v.groupName];
  const functionArn = env[v.functionArn];
  const roleArn = env[v.roleArn];
  const deadLetterArn = env[v.deadLetterArn];
  return {
    ...(groupName && functionArn && roleArn && deadLetterArn
      ? { target: { groupName, functionArn, roleArn, deadLetterArn } }
      : {}),
    ...(maxSchedules ? { maxSchedules: wholeNumber(v.maxSchedules, maxSchedules) } : {}),
    ...(minInterval ? { minIntervalMinutes: wholeNumber(v.minIntervalMinutes, minInterval) } : {}),
  };
}

function wholeNumber(name: string, raw: string): number {
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || value < 1) throw new Error(`${name} must be a whole number of 1 or more, not "${raw}"`);
  return value;
}
