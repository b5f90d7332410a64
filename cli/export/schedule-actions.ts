import { checkRequest } from '../../functions/core/request-schema.ts';
import {
  SCHEDULE_NAME_RULE,
  scheduleNameSchema,
  scheduleRequestIssues,
  scheduleRunRequestSchema,
} from '../../functions/core/schedules/schedule.ts';
import { apiClientFor, type CliContext, type GlobalOptions } from '../context.ts';
import { refuseIssues } from '../request-checks.ts';
import { oneLine, UsageError } from '../errors.ts';
import { formatColumns, formatFields, isHumanOutput, printJson, printLines, printSuccess } from '../output.ts';
import { filterFlag, titleFlag } from './flags.ts';
import { createdLines, toSecond } from './render.ts';
import { type CreateScheduleBody, SCHEDULE_FLAG_FOR_FIELD, type ScheduleView, schedulesApi } from './schedules-api.ts';

/**
 * `kt export schedule ...`: recurring exports. Flags are checked before any request (usage
 * errors, exit 2); the API checks the rest (the cron expression, the window, the bucket) and its
 * refusals name the flag that set the field.
 */

/** `--interval`: the short form of the common schedules, all at 02:00 in the schedule's time zone. */
export const INTERVALS = {
  daily: { cron: '0 2 * * *', window: '1d' },
  weekly: { cron: '0 2 * * MON', window: '7d' },
  // Months differ in length, so no fixed window covers each exactly: the caller chooses one.
  monthly: { cron: '0 2 1 * *', window: undefined },
} as const;

export type Interval = keyof typeof INTERVALS;

export interface ScheduleFlags {
  readonly name?: string;
  readonly cron?: string;
  readonly interval?: string;
  readonly window?: string;
  readonly format?: string;
  readonly timezone?: string;
  readonly title?: string;
  readonly filterTeam?: string;
  readonly team?: string;
  readonly filterPolicy?: string;
  readonly policy?: string;
  readonly s3Bucket?: string;
  readonly s3Prefix?: string;
  readonly s3Region?: string;
}

/** `kt export schedule --name … --cron … --window … --format …`: creates a schedule. */
export async function createSchedule(context: CliContext, globals: GlobalOptions, flags: ScheduleFlags): Promise<void> {
  const body = scheduleBody(flags);
  const view = await schedulesApi(apiClientFor(context, globals)).create(body);
  if (!isHumanOutput(globals.outputFormat)) {
    printJson(context.io, view);
    return;
  }
  printSuccess(context.io, 'Recurring export scheduled');
  // Exactly the tutorial's block; `kt export schedule show` has the rest.
  printLines(
    context.io,
    formatFields([
      ['Name', oneLine(view.name)],
      ['Schedule', oneLine(view.description)],
      ['Window', oneLine(view.windowDescription)],
      ['Delivery', view.delivery === undefined ? undefined : oneLine(view.delivery.location)],
    ]),
  );
}

/** The POST body from the flags, each checked locally first. */
export function scheduleBody(flags: ScheduleFlags): CreateScheduleBody {
  if (flags.cron !== undefined && flags.interval !== undefined) {
    throw new UsageError('give either --cron or --interval, not both');
  }
  if (flags.cron === undefined && flags.interval === undefined) {
    throw new UsageError('--cron or --interval is required (e.g. --cron "0 2 * * MON" or --interval weekly)');
  }
  let interval: (typeof INTERVALS)[Interval] | undefined;
  if (flags.interval !== undefined) {
    if (!Object.hasOwn(INTERVALS, flags.interval)) {
      throw new UsageError(`--interval must be one of ${Object.keys(INTERVALS).join(', ')} (got "${oneLine(flags.interval)}")`);
    }
    interval = INTERVALS[flags.interval as Interval];
  }
  if (flags.format === undefined) throw new UsageError('--format is required (json, csv or pdf)');
  const window = flags.window ?? interval?.window;
  if (window === undefined) {
    throw new UsageError(
      flags.interval === 'monthly'
        ? '--window is required with --interval monthly: months differ in length, so choose the window (e.g. 31d)'
        : '--window is required (e.g. 7d, 24h or 2w): each run exports the window before its scheduled time',
    );
  }
  // With --interval the name may be left out: `weekly-csv`, as the tutorial's short form runs.
  const name = flags.name ?? (flags.interval === undefined ? undefined : `${flags.interval}-${flags.format}`);
  if (name === undefined) throw new UsageError('--name is required with --cron');
  if (name.trim() === '') throw new UsageError('--name must not be empty');
  if (flags.s3Bucket === undefined && (flags.s3Prefix !== undefined || flags.s3Region !== undefined)) {
    throw new UsageError('--s3-prefix and --s3-region need --s3-bucket');
  }
  const team = filterFlag('team', flags.filterTeam, flags.team);
  const policy = filterFlag('policy', flags.filterPolicy, flags.policy);
  const title = titleFlag(flags.title);
  const body: CreateScheduleBody = {
    name,
    cron: flags.cron ?? interval!.cron,
    window,
    format: flags.format,
    ...(flags.timezone !== undefined && { timezone: flags.timezone }),
    ...(title !== undefined && { title }),
    ...((team !== undefined || policy !== undefined) && {
      filters: { ...(team !== undefined && { team }), ...(policy !== undefined && { policy }) },
    }),
    ...(flags.s3Bucket !== undefined && {
      delivery: {
        s3Bucket: flags.s3Bucket,
        ...(flags.s3Prefix !== undefined && { s3Prefix: flags.s3Prefix }),
        ...(flags.s3Region !== undefined && { s3Region: flags.s3Region }),
      },
    }),
  };
  // The API's own schema, without what only the deployment knows (how often a schedule may fire,
  // its longest window, its buckets).
  refuseIssues(scheduleRequestIssues(body, new Date()), SCHEDULE_FLAG_FOR_FIELD);
  return body;
}

/** `kt export schedule list`. */
export async function listSchedules(context: CliContext, globals: GlobalOptions): Promise<void> {
  const schedules = await schedulesApi(apiClientFor(context, globals)).list();
  if (!isHumanOutput(globals.outputFormat)) {
    printJson(context.io, { schedules });
    return;
  }
  if (schedules.length === 0) {
    context.io.stdout.write(
      'No schedules yet. Create one with: kt export schedule --name <name> --cron "0 2 * * MON" --window 7d --format json\n',
    );
    return;
  }
  const rows = schedules.map((view) => [
    oneLine(view.name),
    oneLine(view.description),
    oneLine(view.window),
    oneLine(view.format),
    view.delivery === undefined ? '-' : oneLine(view.delivery.location),
    view.state === 'paused' ? 'paused' : view.nextRun === undefined ? '-' : toSecond(view.nextRun),
    view.lastRun === undefined ? '-' : toSecond(view.lastRun.scheduledAt),
    view.lastRun === undefined ? '-' : oneLine(view.lastRun.status ?? 'unknown'),
  ]);
  printLines(
    context.io,
    formatColumns([['NAME', 'SCHEDULE', 'WINDOW', 'FORMAT', 'DELIVERY', 'NEXT RUN', 'LAST RUN', 'STATUS'], ...rows]),
  );
}

/** `kt export schedule show --name N`. */
export async function showSchedule(
  context: CliContext,
  globals: GlobalOptions,
  flags: { readonly name: string },
): Promise<void> {
  const view = await schedulesApi(apiClientFor(context, globals)).get(nameFlag(flags.name));
  if (isHumanOutput(globals.outputFormat)) printLines(context.io, scheduleLines(view));
  else printJson(context.io, view);
}

/** `kt export schedule delete --name N`. */
export async function deleteSchedule(
  context: CliContext,
  globals: GlobalOptions,
  flags: { readonly name: string },
): Promise<void> {
  const name = nameFlag(flags.name);
  const view = await schedulesApi(apiClientFor(context, globals)).remove(name);
  if (!isHumanOutput(globals.outputFormat)) {
    printJson(context.io, view);
    return;
  }
  printSuccess(context.io, `Schedule ${oneLine(view.name)} deleted`);
  printLines(context.io, ['It will not run again; the exports it made remain (kt export list).']);
}

/** `kt export schedule pause|resume --name N`. */
export async function setScheduleState(
  context: CliContext,
  globals: GlobalOptions,
  flags: { readonly name: string },
  state: 'paused' | 'enabled',
): Promise<void> {
  const api = schedulesApi(apiClientFor(context, globals));
  const name = nameFlag(flags.name);
  const view = state === 'paused' ? await api.pause(name) : await api.resume(name);
  if (!isHumanOutput(globals.outputFormat)) {
    printJson(context.io, view);
    return;
  }
  printSuccess(context.io, `Schedule ${oneLine(view.name)} ${state === 'paused' ? 'paused' : 'resumed'}`);
  printLines(
    context.io,
    state === 'paused'
      ? ['It will not run until resumed; missed runs can be made with kt export schedule run --at <time>.']
      : formatFields([['Next run', view.nextRun === undefined ? undefined : toSecond(view.nextRun)]]),
  );
}

/** `kt export schedule run --name N [--at T]`: the window ending at T, printed as `kt export create` does. */
export async function runSchedule(
  context: CliContext,
  globals: GlobalOptions,
  flags: { readonly name: string; readonly at?: string },
): Promise<void> {
  const name = nameFlag(flags.name);
  const at = flags.at?.trim();
  // The API's rule for `at`, but for "not in the future": the API's clock says what now is.
  const issue = checkRequest(scheduleRunRequestSchema(), at === undefined ? {} : { at });
  if (!issue.ok) {
    throw new UsageError(`--at ${issue.issues[0]?.rule ?? 'is invalid'} (got "${oneLine(flags.at ?? '')}")`);
  }
  const { job, created } = await schedulesApi(apiClientFor(context, globals)).run(name, at);
  if (!isHumanOutput(globals.outputFormat)) {
    printJson(context.io, job);
    return;
  }
  printSuccess(context.io, created ? 'Export job created' : 'Export job already created for this run');
  const lines = createdLines(job);
  // The window is what a run is about: show it even where the created block leaves it out.
  if (!lines.some((line) => line.startsWith('Range: '))) {
    lines.push(`Range: ${oneLine(job.range.from)} → ${oneLine(job.range.to)}`);
  }
  printLines(context.io, [...lines, `Schedule: ${oneLine(name)}`]);
}

function scheduleLines(view: ScheduleView): string[] {
  return formatFields([
    ['Name', oneLine(view.name)],
    ['Schedule', oneLine(view.description)],
    ['Cron', `${oneLine(view.cron)} (${oneLine(view.expression)})`],
    ['Time zone', oneLine(view.timezone)],
    ['Window', oneLine(view.windowDescription)],
    ['Format', oneLine(view.format)],
    ['Title', view.title === undefined ? undefined : oneLine(view.title)],
    ['Team', view.filters?.team === undefined ? undefined : oneLine(view.filters.team)],
    ['Policy', view.filters?.policy === undefined ? undefined : oneLine(view.filters.policy)],
    ['Delivery', view.delivery === undefined ? undefined : oneLine(view.delivery.location)],
    ['State', oneLine(view.state)],
    ['Next run', view.nextRun === undefined ? undefined : toSecond(view.nextRun)],
    [
      'Last run',
      view.lastRun === undefined
        ? undefined
        : `${toSecond(view.lastRun.scheduledAt)} ${oneLine(view.lastRun.exportId)} (${oneLine(view.lastRun.status ?? 'unknown')})`,
    ],
    ['Created', toSecond(view.created)],
  ]);
}

function nameFlag(value: string): string {
  const name = value.trim();
  if (!scheduleNameSchema.safeParse(name).success) {
    throw new UsageError(`--name ${SCHEDULE_NAME_RULE} (got "${oneLine(value)}")`);
  }
  return name;
}
