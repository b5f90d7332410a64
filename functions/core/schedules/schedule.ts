import { z } from 'zod';
import type { Principal } from '../auth/token-record.ts';
import { type FieldIssue, ValidationError } from '../errors.ts';
import { isoUtcTimestamp } from '../events/decision-event.ts';
import {
  type DeliveryBucket,
  type DeliveryTarget,
  deliveryLocation,
  deliveryRequestSchema,
} from '../export/delivery.ts';
import type { ExportFilters, ExportFormat } from '../export/export-metadata.ts';
import {
  DEFAULT_MAX_RANGE_DAYS,
  type DeploymentRules,
  exportFiltersSchema,
  exportFormatSchema,
  exportTitleSchema,
  selectionOf,
} from '../export/export-request.ts';
import { checkRequest, NAME, parseQuery, parseRequest, queryObject, requestObject } from '../request-schema.ts';
import {
  DEFAULT_MIN_INTERVAL_MINUTES,
  type ExpressionOptions,
  nextRuns,
  parseScheduleExpression,
  type ScheduleExpression,
} from './cron.ts';
import { describeSchedule } from './describe.ts';
import { describeWindow, parseWindow, WINDOW_RULE, windowMs, windowTooLongRule } from './window.ts';

/**
 * A recurring export: a cron expression in a time zone, and the rolling window each run exports
 * (functions/core/schedules/window.ts), with the export's own settings (format, title, filters,
 * delivery). Stored in the ExportControl table; fired by EventBridge Scheduler on AWS and by croner
 * on the local stack.
 */

export const SCHEDULE_STATES = ['enabled', 'paused'] as const;
export type ScheduleState = (typeof SCHEDULE_STATES)[number];

/** At most this many schedules per deployment unless configured otherwise. */
export const DEFAULT_MAX_SCHEDULES = 100;

const DAY_MS = 86_400_000;

export interface ScheduleRun {
  /** The scheduled time T the run exported the window before. */
  readonly scheduledAt: string;
  readonly exportId: string;
}

export interface ExportSchedule {
  readonly name: string;
  /** The expression as the caller wrote it. */
  readonly cron: string;
  /** What EventBridge Scheduler runs: `cron(m h dom mon dow year)`. */
  readonly expression: string;
  /** IANA time zone the expression is read in. */
  readonly timezone: string;
  /** `7d`, `24h`, `2w`. */
  readonly window: string;
  readonly format: ExportFormat;
  readonly title?: string;
  readonly filters: ExportFilters;
  readonly delivery?: DeliveryTarget;
  readonly state: ScheduleState;
  readonly createdAt: string;
  /** The tokenId of the principal that created it. */
  readonly createdBy: string;
  readonly updatedAt: string;
  /** The latest run by scheduled time. */
  readonly lastRun?: ScheduleRun;
}

/** A schedule as callers see it. */
export interface ScheduleView {
  readonly name: string;
  readonly cron: string;
  readonly expression: string;
  readonly timezone: string;
  /** "Every Monday at 02:00 UTC". */
  readonly description: string;
  readonly window: string;
  /** "7 days". */
  readonly windowDescription: string;
  readonly format: ExportFormat;
  readonly title?: string;
  readonly filters: ExportFilters;
  readonly delivery?: {
    readonly s3Bucket: string;
    readonly s3Prefix: string;
    readonly s3Region?: string;
    /** `s3://bucket/prefix`. */
    readonly location: string;
  };
  readonly state: ScheduleState;
  /** When it fires next; absent while paused. */
  readonly nextRun?: string;
  readonly lastRun?: ScheduleRun & { readonly status?: string };
  readonly created: string;
  readonly updated: string;
}

export interface ScheduleRules {
  /** Refuse expressions firing more often than this. @default DEFAULT_MIN_INTERVAL_MINUTES */
  readonly minIntervalMinutes?: number;
  /** The deployment's delivery allow-list. @default - none: delivery is refused */
  readonly deliveryBuckets?: readonly DeliveryBucket[];
  /** The longest window (the deployment's longest export range), in days. @default DEFAULT_MAX_RANGE_DAYS */
  readonly maxRangeDays?: number;
}

/** The rules a deployment sets for schedules; the CLI, which does not know them, leaves them to the API. */
export interface ScheduleDeploymentRules extends DeploymentRules {
  readonly minIntervalMinutes: number;
}

/** EventBridge Scheduler's own rule for schedule names, which ours become. */
export const SCHEDULE_NAME = NAME;
export const SCHEDULE_NAME_RULE = 'must be 1 to 64 letters, digits, _ . or -';
const CRON_RULE = 'must be a cron expression such as "0 2 * * MON"';
// EventBridge Scheduler's limit on a schedule expression.
const MAX_CRON_CHARS = 256;
const TIMEZONE_RULE = 'must be an IANA time zone such as UTC or Europe/Berlin';

/** `name`: a schedule's name, as in paths (`/v1/export-schedules/{name}`) and in EventBridge. */
export const scheduleNameSchema = z
  .string({ error: SCHEDULE_NAME_RULE })
  .regex(SCHEDULE_NAME, { error: SCHEDULE_NAME_RULE });

/** `timezone`: an IANA time zone name (Europe/Berlin); UTC when absent. */
export const timezoneSchema = z.string({ error: TIMEZONE_RULE }).refine(isTimezone, { error: TIMEZONE_RULE });

/**
 * The `POST /v1/export-schedules` body. The export settings obey the export request's own rules,
 * so a schedule is accepted only if every run it makes would be. With the deployment's rules it is
 * the API's schema; without them (the CLI) a cron expression may fire at any interval, a window be
 * of any length and a bucket be any well-named one. `now` is when upcoming runs are counted from.
 */
export function scheduleRequestSchema(now: Date, deployment?: ScheduleDeploymentRules) {
  return requestObject({
    name: scheduleNameSchema,
    cron: z
      .string({ error: CRON_RULE })
      .max(MAX_CRON_CHARS, { error: `must be at most ${MAX_CRON_CHARS} characters` }),
    timezone: timezoneSchema.optional(),
    window: z
      .string({ error: WINDOW_RULE })
      .refine((text) => windowMs(text) !== undefined, { error: WINDOW_RULE }),
    format: exportFormatSchema,
    title: exportTitleSchema.optional(),
    filters: exportFiltersSchema.optional(),
    delivery: deliveryRequestSchema(deployment?.deliveryBuckets).optional(),
  }).superRefine(
    (body, ctx) => {
      if (body === null || typeof body !== 'object') return;
      const { cron, timezone, window } = body as Record<string, unknown>;
      if (typeof cron === 'string' && cron.length <= MAX_CRON_CHARS) {
        const { issues } = checkExpression(cron, {
          // Fired often, a schedule costs the deployment; only the deployment says how often is too often.
          minIntervalMinutes: deployment?.minIntervalMinutes ?? 0,
          timezone: typeof timezone === 'string' && isTimezone(timezone) ? timezone : 'UTC',
          now,
        });
        for (const issue of issues) ctx.addIssue({ code: 'custom', path: ['cron'], message: issue.rule });
      }
      const ms = typeof window === 'string' ? windowMs(window) : undefined;
      if (ms !== undefined && deployment !== undefined && ms > deployment.maxRangeDays * DAY_MS) {
        ctx.addIssue({ code: 'custom', path: ['window'], message: windowTooLongRule(deployment.maxRangeDays) });
      }
    },
    // Beside the fields' own issues: every problem of the body is reported at once.
    { when: () => true },
  );
}

/** The body's issues, each naming its field and rule; empty when it is valid. */
export function scheduleRequestIssues(
  body: unknown,
  now: Date,
  deployment?: ScheduleDeploymentRules,
): FieldIssue[] {
  const checked = checkRequest(scheduleRequestSchema(now, deployment), body);
  return checked.ok ? [] : checked.issues;
}

/**
 * Validates a `POST /v1/export-schedules` body. A team-restricted token's team is applied as its
 * filter, as for exports; only a body that is otherwise valid is refused with a ForbiddenError.
 */
export function parseScheduleRequest(
  body: unknown,
  principal: Principal,
  now: Date,
  rules: ScheduleRules = {},
): ExportSchedule {
  const deployment: ScheduleDeploymentRules = {
    minIntervalMinutes: rules.minIntervalMinutes ?? DEFAULT_MIN_INTERVAL_MINUTES,
    maxRangeDays: rules.maxRangeDays ?? DEFAULT_MAX_RANGE_DAYS,
    deliveryBuckets: rules.deliveryBuckets ?? [],
  };
  const value = parseRequest(scheduleRequestSchema(now, deployment), body, (issues) =>
    issues.length === 1 ? `The schedule's ${issues[0]!.field} ${issues[0]!.rule}.` : 'The schedule is invalid.',
  );
  const timezone = value.timezone ?? 'UTC';
  const { expression } = checkExpression(value.cron, {
    minIntervalMinutes: deployment.minIntervalMinutes,
    timezone,
    now,
  });
  if (expression === undefined) throw new Error('a valid schedule has a valid cron expression');
  const window = parseWindow(value.window, deployment.maxRangeDays);
  const at = now.toISOString();
  return {
    name: value.name,
    cron: expression.source,
    expression: expression.aws,
    timezone,
    window: window.text,
    format: value.format,
    ...selectionOf(value, principal, deployment.deliveryBuckets),
    state: 'enabled',
    createdAt: at,
    createdBy: principal.tokenId,
    updatedAt: at,
  };
}

/** An IANA time zone name (Europe/Berlin); UTC when absent. */
export function parseTimezone(input: unknown): string {
  if (input === undefined) return 'UTC';
  if (typeof input !== 'string' || !isTimezone(input)) {
    throw new ValidationError("The schedule's timezone is invalid.", [{ field: 'timezone', rule: TIMEZONE_RULE }]);
  }
  return input;
}

function isTimezone(input: string): boolean {
  if (input === '' || input.length > 64) return false;
  try {
    // Intl knows the same IANA names EventBridge Scheduler accepts; it throws for any other.
    new Intl.DateTimeFormat('en-US', { timeZone: input });
    return true;
  } catch {
    return false;
  }
}

function isInstant(value: string): boolean {
  return isoUtcTimestamp.safeParse(value).success;
}

function isWholeSecond(instant: string): boolean {
  return !/\.\d*[1-9]\d*Z$/.test(instant);
}

/** The last expression checked: validating a body and then building the schedule check it once. */
let lastExpression: { readonly key: string; readonly result: CheckedExpression } | undefined;

interface CheckedExpression {
  readonly expression?: ScheduleExpression;
  readonly issues: readonly FieldIssue[];
}

/** The expression, or why it is refused; the next upcoming runs are computed once per input. */
function checkExpression(cron: string, options: ExpressionOptions): CheckedExpression {
  const key = JSON.stringify([cron, options.minIntervalMinutes, options.timezone, options.now?.getTime()]);
  if (lastExpression?.key === key) return lastExpression.result;
  let result: CheckedExpression;
  try {
    result = { expression: parseScheduleExpression(cron, options), issues: [] };
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    result = { issues: error.issues };
  }
  lastExpression = { key, result };
  return result;
}

/** The `POST /v1/export-schedules/{name}/run` body: `{at?}`, the scheduled time to run. */
export function scheduleRunRequestSchema(now?: Date) {
  return requestObject({
    at: isoUtcTimestamp
      // Scheduled times are whole seconds: a finer time would be a run no schedule makes.
      .refine((at) => !isInstant(at) || isWholeSecond(at), {
        error: 'must be a whole second, as scheduled times are',
      })
      .refine((at) => now === undefined || !isInstant(at) || !isWholeSecond(at) || Date.parse(at) <= now.getTime(), {
        error: 'must not be in the future: that window is not over yet',
      })
      .optional(),
  });
}

/**
 * The scheduled time a run request asks for: its `at`, or now to the second. No body (or `null`)
 * is the same as `{}`. A time in the future is refused: its window is not over yet.
 */
export function parseRunRequest(body: unknown, now: Date): Date {
  const checked = checkRequest(scheduleRunRequestSchema(now), body === undefined || body === null ? {} : body);
  if (!checked.ok) {
    const only = checked.issues.length === 1 ? checked.issues[0] : undefined;
    throw new ValidationError(
      only?.field === 'at' ? `The run time ${only.rule}.` : 'The run request is invalid.',
      checked.issues,
    );
  }
  const at = checked.value.at;
  return at === undefined ? new Date(Math.floor(now.getTime() / 1000) * 1000) : new Date(Date.parse(at));
}

/** `GET /v1/export-schedules` takes no parameters: every schedule is on the one page. */
export const scheduleListQuerySchema = queryObject({}, 'the schedule listing');

/** Refuses any query parameter of the schedule listing, naming each. */
export function parseScheduleListQuery(query: Readonly<Record<string, string | undefined>>): void {
  parseQuery(scheduleListQuerySchema, query, 'The schedule listing takes no parameters.');
}

export function setState(schedule: ExportSchedule, state: ScheduleState, now: Date): ExportSchedule {
  return { ...schedule, state, updatedAt: now.toISOString() };
}

/** Records a run unless a later one is recorded already (runs may be backfilled out of order). */
export function recordRun(schedule: ExportSchedule, run: ScheduleRun): ExportSchedule {
  const last = schedule.lastRun;
  if (last !== undefined && Date.parse(last.scheduledAt) >= Date.parse(run.scheduledAt)) return schedule;
  return { ...schedule, lastRun: { scheduledAt: run.scheduledAt, exportId: run.exportId } };
}

/** Whether the caller may see and change a schedule: a team token only its team's. */
export function canSeeSchedule(principal: Principal, schedule: ExportSchedule): boolean {
  return principal.team === undefined || schedule.filters.team === principal.team;
}

export function scheduleView(schedule: ExportSchedule, now: Date, lastRunStatus?: string): ScheduleView {
  const next = schedule.state === 'enabled' ? nextRuns(schedule.expression, schedule.timezone, now)[0] : undefined;
  return {
    name: schedule.name,
    cron: schedule.cron,
    expression: schedule.expression,
    timezone: schedule.timezone,
    description: describeSchedule(schedule.expression, schedule.timezone),
    window: schedule.window,
    windowDescription: describeWindow(schedule.window),
    format: schedule.format,
    ...(schedule.title === undefined ? {} : { title: schedule.title }),
    filters: { ...schedule.filters },
    ...(schedule.delivery === undefined
      ? {}
      : {
          delivery: {
            s3Bucket: schedule.delivery.bucket,
            s3Prefix: schedule.delivery.prefix,
            ...(schedule.delivery.region === undefined ? {} : { s3Region: schedule.delivery.region }),
            location: deliveryLocation(schedule.delivery),
          },
        }),
    state: schedule.state,
    ...(next === undefined ? {} : { nextRun: next.toISOString() }),
    ...(schedule.lastRun === undefined
      ? {}
      : { lastRun: { ...schedule.lastRun, ...(lastRunStatus === undefined ? {} : { status: lastRunStatus }) } }),
    created: schedule.createdAt,
    updated: schedule.updatedAt,
  };
}
