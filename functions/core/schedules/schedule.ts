import type { Principal } from '../auth/token-record.ts';
import { type FieldIssue, ForbiddenError, ValidationError } from '../errors.ts';
import { type DeliveryBucket, type DeliveryTarget, deliveryLocation } from '../export/delivery.ts';
import type { ExportFilters, ExportFormat } from '../export/export-metadata.ts';
import { parseExportRequest } from '../export/export-request.ts';
import { nextRuns, parseScheduleExpression } from './cron.ts';
import { describeSchedule } from './describe.ts';
import { describeWindow, parseWindow, runRange } from './window.ts';

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
}

const FIELDS = ['name', 'cron', 'timezone', 'window', 'format', 'title', 'filters', 'delivery'] as const;
// EventBridge Scheduler's own rule for schedule names, which ours become.
const NAME = /^[0-9A-Za-z_.-]{1,64}$/;

/**
 * Validates a `POST /v1/export-schedules` body. The export settings are checked by the export
 * request's own rules (one window's worth of range stands in for the runs'), so a schedule is
 * accepted only if every run it makes would be; a team-restricted token's team is applied as
 * its filter, as for exports.
 */
export function parseScheduleRequest(
  body: unknown,
  principal: Principal,
  now: Date,
  rules: ScheduleRules = {},
): ExportSchedule {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new ValidationError('The schedule is invalid.', [{ field: '(body)', rule: 'must be a JSON object' }]);
  }
  const record = body as Record<string, unknown>;
  const own = (key: string) => (Object.hasOwn(record, key) ? record[key] : undefined);
  const issues: FieldIssue[] = [];
  const collect = <T>(parse: () => T): T | undefined => {
    try {
      return parse();
    } catch (error) {
      if (!(error instanceof ValidationError)) throw error;
      issues.push(...error.issues);
      return undefined;
    }
  };

  const name = own('name');
  if (typeof name !== 'string' || !NAME.test(name)) {
    issues.push({
      field: 'name',
      rule: name === undefined ? 'is required' : 'must be 1 to 64 letters, digits, _ . or -',
    });
  }
  const timezone = collect(() => parseTimezone(own('timezone')));
  const expression = collect(() =>
    parseScheduleExpression(own('cron'), {
      ...(rules.minIntervalMinutes === undefined ? {} : { minIntervalMinutes: rules.minIntervalMinutes }),
      timezone: timezone ?? 'UTC',
      now,
    }),
  );
  const window = collect(() => parseWindow(own('window')));
  for (const key of Object.keys(record)) {
    if (!(FIELDS as readonly string[]).includes(key)) {
      issues.push({ field: key, rule: `is not a known field; allowed fields are ${FIELDS.join(', ')}` });
    }
  }
  // The export settings, checked as a run would be; only the range is ours, and valid.
  const range = runRange(new Date(Math.floor(now.getTime() / 1000) * 1000), window?.ms ?? 3_600_000);
  let request: ReturnType<typeof parseExportRequest> | undefined;
  let forbidden: ForbiddenError | undefined;
  try {
    request = parseExportRequest(
      {
        ...range,
        ...Object.fromEntries(['format', 'title', 'filters', 'delivery'].map((key) => [key, own(key)])),
      },
      principal,
      rules.deliveryBuckets === undefined ? {} : { deliveryBuckets: rules.deliveryBuckets },
    );
  } catch (error) {
    if (error instanceof ValidationError) issues.push(...error.issues);
    else if (error instanceof ForbiddenError) forbidden = error;
    else throw error;
  }
  // As for exports: a body is refused as forbidden only once nothing else is wrong with it.
  if (forbidden !== undefined && issues.length === 0) throw forbidden;
  if (issues.length > 0 || request === undefined || expression === undefined || window === undefined) {
    throw new ValidationError(
      issues.length === 1 ? `The schedule's ${issues[0]!.field} ${issues[0]!.rule}.` : 'The schedule is invalid.',
      issues,
    );
  }
  const at = now.toISOString();
  return {
    name: name as string,
    cron: expression.source,
    expression: expression.aws,
    timezone: timezone ?? 'UTC',
    window: window.text,
    format: request.format,
    ...(request.title === undefined ? {} : { title: request.title }),
    filters: request.filters,
    ...(request.delivery === undefined ? {} : { delivery: request.delivery }),
    state: 'enabled',
    createdAt: at,
    createdBy: principal.tokenId,
    updatedAt: at,
  };
}

/** An IANA time zone name (Europe/Berlin); UTC when absent. */
export function parseTimezone(input: unknown): string {
  if (input === undefined) return 'UTC';
  const invalid = new ValidationError('The schedule\'s timezone is invalid.', [
    { field: 'timezone', rule: 'must be an IANA time zone such as UTC or Europe/Berlin' },
  ]);
  if (typeof input !== 'string' || input === '' || input.length > 64) throw invalid;
  try {
    // Intl knows the same IANA names EventBridge Scheduler accepts; it throws for any other.
    new Intl.DateTimeFormat('en-US', { timeZone: input });
    return input;
  } catch {
    throw invalid;
  }
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
