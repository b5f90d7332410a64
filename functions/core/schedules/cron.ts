import { Cron } from 'croner';
import { ValidationError } from '../errors.ts';

/**
 * Schedule expressions. People write unix cron (`0 2 * * MON`); EventBridge Scheduler runs
 * `cron(minutes hours day-of-month month day-of-week year)`, which differs in three ways that
 * matter: day-of-week is numbered 1-7 from Sunday (unix: 0-6, and 7 is Sunday again), exactly one
 * of the two day fields must be `?`, and there is no way to say "this day of the month OR this
 * weekday" (unix cron's rule when both are restricted). An expression is converted only when the
 * conversion fires at exactly the same times; otherwise it is refused with the reason.
 *
 * croner evaluates the AWS form locally (next runs, the local scheduler) in its Quartz weekday
 * mode, which numbers weekdays as EventBridge does.
 */

export interface ScheduleExpression {
  /** What the caller wrote, trimmed. */
  readonly source: string;
  /** The EventBridge Scheduler expression: `cron(m h dom mon dow year)`. */
  readonly aws: string;
}

/** Refused: fires more often than this (minutes). */
export const DEFAULT_MIN_INTERVAL_MINUTES = 60;

const FIELD = 'cron';
const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const DAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];
const MACROS: Readonly<Record<string, string>> = {
  '@hourly': '0 * * * *',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@weekly': '0 0 * * 0',
  '@monthly': '0 0 1 * *',
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
};
// How many upcoming runs the minimum-interval check looks at: every expression that fires more
// often than hourly shows it within its first firing day, and a day holds at most 24 hourly runs.
const INTERVAL_SAMPLE = 200;

interface FieldSpec {
  readonly name: string;
  readonly min: number;
  readonly max: number;
  readonly names?: readonly string[];
  /** The first value a `*\/n` step starts from in the AWS form. */
  readonly stepStart: number;
}

const UNIX_FIELDS: readonly FieldSpec[] = [
  { name: 'minute', min: 0, max: 59, stepStart: 0 },
  { name: 'hour', min: 0, max: 23, stepStart: 0 },
  { name: 'day-of-month', min: 1, max: 31, stepStart: 1 },
  { name: 'month', min: 1, max: 12, names: MONTHS, stepStart: 1 },
  // 7 is Sunday too in unix cron.
  { name: 'day-of-week', min: 0, max: 7, names: DAYS, stepStart: 0 },
];

export interface ExpressionOptions {
  /** @default DEFAULT_MIN_INTERVAL_MINUTES */
  readonly minIntervalMinutes?: number;
  /** IANA time zone the schedule fires in (the interval is checked there: DST moves runs). @default 'UTC' */
  readonly timezone?: string;
  /** Where upcoming runs are counted from for the interval check. @default new Date() */
  readonly now?: Date;
}

/**
 * A unix cron expression (5 fields or a macro such as `@weekly`) or an EventBridge `cron(...)`
 * expression, checked and converted. A ValidationError on field `cron` says why one is refused.
 */
export function parseScheduleExpression(input: unknown, options: ExpressionOptions = {}): ScheduleExpression {
  if (typeof input !== 'string' || input.trim() === '') {
    throw refusal(input === undefined ? 'is required' : 'must be a cron expression such as "0 2 * * MON"');
  }
  const source = input.trim().replace(/\s+/g, ' ');
  const aws = /^cron\(/i.test(source) ? checkAwsExpression(source) : unixToAws(source);
  assertMinimumInterval(aws, options);
  return { source, aws };
}

/** `0 2 * * MON` → `cron(0 2 ? * MON *)`; throws a ValidationError when it cannot be faithful. */
export function unixToAws(expression: string): string {
  const trimmed = expression.trim();
  if (trimmed.startsWith('@')) {
    const macro = MACROS[trimmed.toLowerCase()];
    if (macro === undefined) {
      throw refusal(`${trimmed} is not a schedule; use one of ${Object.keys(MACROS).join(', ')} or five fields`);
    }
    return unixToAws(macro);
  }
  if (/^(rate|at)\(/i.test(trimmed)) {
    throw refusal('must be a cron expression; rate() and at() expressions are not schedules of windows');
  }
  const parts = trimmed.split(/\s+/);
  if (parts.length !== 5) {
    throw refusal(
      `must have 5 fields (minute hour day-of-month month day-of-week), or be cron(...) with 6; got ${parts.length}`,
    );
  }
  const [minute, hour, dom, month, dow] = parts.map((part, i) => parseField(part, UNIX_FIELDS[i]!)) as [
    ParsedField,
    ParsedField,
    ParsedField,
    ParsedField,
    ParsedField,
  ];
  const domRestricted = !dom.star;
  const dowRestricted = !dow.star;
  if (domRestricted && dowRestricted) {
    throw refusal(
      `restricts both day-of-month (${dom.text}) and day-of-week (${dow.text}); unix cron then runs on ` +
        'either day, which EventBridge Scheduler cannot express. Restrict one and set the other to *',
    );
  }
  const weekdays = new Set([...dow.values].map((day) => day % 7));
  return `cron(${[
    renderField(minute, UNIX_FIELDS[0]!),
    renderField(hour, UNIX_FIELDS[1]!),
    dowRestricted ? '?' : renderField(dom, UNIX_FIELDS[2]!),
    renderField(month, UNIX_FIELDS[3]!),
    dowRestricted ? renderWeekdays(weekdays) : '?',
    '*',
  ].join(' ')})`;
}

/** The 7-part croner pattern (seconds first, Quartz weekdays) that fires as the AWS expression does. */
export function cronerPattern(aws: string): string {
  const fields = awsFields(aws);
  return ['0', ...fields.map((field) => (field === '?' ? '*' : field))].join(' ');
}

/** croner options that evaluate cronerPattern() as EventBridge does. */
export function cronerOptions(timezone: string): {
  readonly timezone: string;
  readonly mode: '7-part';
  readonly alternativeWeekdays: true;
  readonly sloppyRanges: true;
  readonly domAndDow: true;
} {
  // One day field is always `?` (now `*`), so AND and OR agree; AND is EventBridge's reading.
  return { timezone, mode: '7-part', alternativeWeekdays: true, sloppyRanges: true, domAndDow: true };
}

/** The next `count` times the schedule fires after `after`. */
export function nextRuns(aws: string, timezone: string, after: Date, count = 1): Date[] {
  return new Cron(cronerPattern(aws), cronerOptions(timezone)).nextRuns(count, after);
}

/** The six fields of a `cron(...)` expression. */
export function awsFields(aws: string): [string, string, string, string, string, string] {
  const inner = /^cron\((.*)\)$/i.exec(aws.trim());
  const fields = inner?.[1]?.trim().split(/\s+/) ?? [];
  if (fields.length !== 6) {
    throw refusal(`must have 6 fields inside cron(...) (minutes hours day-of-month month day-of-week year); got ${fields.length}`);
  }
  return fields as [string, string, string, string, string, string];
}

const AWS_FIELD = /^[0-9A-Za-z*?,/#-]+$/;

function checkAwsExpression(source: string): string {
  const fields = awsFields(source);
  const bad = fields.find((field) => !AWS_FIELD.test(field));
  if (bad !== undefined) throw refusal(`field "${bad}" has characters an EventBridge cron field cannot hold`);
  const [, , dom, , dow] = fields;
  if ((dom === '?') === (dow === '?')) {
    throw refusal('must set exactly one of day-of-month and day-of-week to ? (EventBridge requires it)');
  }
  const aws = `cron(${fields.map((field) => field.toUpperCase()).join(' ')})`;
  try {
    new Cron(cronerPattern(aws), cronerOptions('UTC'));
  } catch (cause) {
    throw refusal(`is not a valid cron(...) expression: ${cause instanceof Error ? cause.message : String(cause)}`);
  }
  return aws;
}

function assertMinimumInterval(aws: string, options: ExpressionOptions): void {
  const minMinutes = options.minIntervalMinutes ?? DEFAULT_MIN_INTERVAL_MINUTES;
  let runs: Date[];
  try {
    runs = nextRuns(aws, options.timezone ?? 'UTC', options.now ?? new Date(), INTERVAL_SAMPLE);
  } catch (cause) {
    throw refusal(`cannot be evaluated: ${cause instanceof Error ? cause.message : String(cause)}`);
  }
  if (runs.length === 0) throw refusal('never fires');
  for (let i = 1; i < runs.length; i++) {
    const gap = (runs[i]!.getTime() - runs[i - 1]!.getTime()) / 60_000;
    if (gap < minMinutes) {
      throw refusal(
        `fires ${gap} minute${gap === 1 ? '' : 's'} apart (${runs[i - 1]!.toISOString()} and ${runs[i]!.toISOString()}); ` +
          `schedules may fire at most every ${minMinutes} minutes`,
      );
    }
  }
}

interface ParsedField {
  readonly text: string;
  /** `*` alone: unix cron treats the field as unrestricted. */
  readonly star: boolean;
  readonly values: ReadonlySet<number>;
  readonly items: readonly string[];
}

function parseField(text: string, spec: FieldSpec): ParsedField {
  const values = new Set<number>();
  const items = text.split(',');
  for (const item of items) {
    const match = /^(\*|[0-9A-Za-z]+(?:-[0-9A-Za-z]+)?)(?:\/(\d+))?$/.exec(item);
    if (match === null) throw refusal(`${spec.name} field "${text}" is not valid cron syntax`);
    const [, base, stepText] = match;
    const step = stepText === undefined ? 1 : Number(stepText);
    if (step < 1) throw refusal(`${spec.name} field "${text}" has a step of 0`);
    let from: number;
    let to: number;
    if (base === '*') {
      from = spec.min;
      to = spec.name === 'day-of-week' ? 6 : spec.max;
    } else {
      const [a, b] = base!.split('-');
      from = fieldValue(a!, spec, text);
      // `5/15` runs from 5 to the end of the field, as croner and Vixie-derived crons read it.
      to = b === undefined ? (stepText === undefined ? from : spec.max) : fieldValue(b, spec, text);
      if (to < from) throw refusal(`${spec.name} field "${text}" has a range that runs backwards`);
    }
    for (let value = from; value <= to; value += step) values.add(value);
  }
  return { text, star: text === '*', values, items };
}

function fieldValue(token: string, spec: FieldSpec, text: string): number {
  const named = spec.names?.indexOf(token.toUpperCase()) ?? -1;
  if (named !== -1) return spec.name === 'month' ? named + 1 : named;
  if (!/^\d+$/.test(token)) throw refusal(`${spec.name} field "${text}" has an unknown value "${token}"`);
  const value = Number(token);
  if (value < spec.min || value > spec.max) {
    throw refusal(`${spec.name} field "${text}" must be within ${spec.min}-${spec.max}`);
  }
  return value;
}

/** Minutes, hours, day-of-month and month keep their numbering; only the spelling may change. */
function renderField(field: ParsedField, spec: FieldSpec): string {
  if (field.star) return '*';
  if (field.items.length === 1) {
    const item = field.items[0]!;
    // `*/15` → `0/15` (EventBridge documents steps from a start value).
    const starStep = /^\*\/(\d+)$/.exec(item);
    if (starStep) return `${spec.stepStart}/${starStep[1]}`;
    if (/^[0-9A-Za-z]+(-[0-9A-Za-z]+)?$/.test(item) || /^\d+\/\d+$/.test(item)) return item.toUpperCase();
  }
  // Lists and stepped ranges: the explicit values, which every cron reads the same way.
  return [...field.values].sort((a, b) => a - b).join(',');
}

/** Unix weekdays (0 = Sunday) as EventBridge names: `MON`, `MON-FRI`, `SUN,WED`. */
function renderWeekdays(days: ReadonlySet<number>): string {
  const sorted = [...days].sort((a, b) => a - b);
  const first = sorted[0]!;
  const last = sorted.at(-1)!;
  if (sorted.length >= 3 && last - first === sorted.length - 1) return `${DAYS[first]}-${DAYS[last]}`;
  return sorted.map((day) => DAYS[day]).join(',');
}

function refusal(rule: string): ValidationError {
  return new ValidationError(`The schedule's cron expression ${rule}.`, [{ field: FIELD, rule }]);
}
