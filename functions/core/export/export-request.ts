import type { Principal } from '../auth/token-record.ts';
import { type FieldIssue, ForbiddenError, ValidationError } from '../errors.ts';
import { decisionEventSchema, instantOf } from '../events/decision-event.ts';
import { parseTimeRange, type TimeRange } from '../events/time-range.ts';
import { checkDeliveryTarget, type DeliveryBucket, type DeliveryTarget } from './delivery.ts';
import { isExportFormat } from './encoders.ts';
import { DOCUMENTED_FORMATS, EXPORT_FORMATS, type ExportFilters, type ExportFormat } from './export-metadata.ts';
import { isReportPageSize, REPORT_PAGE_SIZES, type ReportPageSize } from './report/page-size.ts';

/** A validated `POST /v1/exports` body, with the caller's team restriction already applied. */
export interface ExportRequest {
  readonly range: TimeRange;
  readonly format: ExportFormat;
  readonly title?: string;
  readonly filters: ExportFilters;
  /** Deliver the artifact and its manifest to this allow-listed bucket as well. */
  readonly delivery?: DeliveryTarget;
  /** The PDF report's paper size (pdf only). @default 'a4' */
  readonly pageSize?: ReportPageSize;
}

/** What the request is checked against besides its own rules. */
export interface ExportRequestOptions {
  /** The deployment's allow-list of delivery buckets. @default - none: no delivery is allowed */
  readonly deliveryBuckets?: readonly DeliveryBucket[];
}

// One year, with room for a leap day: enough for an annual audit period, and a bound on how long
// one job may hold a Step Functions execution and how big one artifact may grow.
export const MAX_RANGE_DAYS = 366;
export const MAX_TITLE_CHARS = 200;

const DAY_MS = 86_400_000;
const FIELDS = ['from', 'to', 'format', 'title', 'filters', 'delivery', 'pageSize'] as const;
const FILTER_FIELDS = ['team', 'policy'] as const;
const DELIVERY_FIELDS = ['s3Bucket', 's3Prefix', 's3Region'] as const;
// The title reaches terminals, CSV-adjacent metadata and the PDF cover: C1 controls include CSI,
// which a terminal would act on just like ESC.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const TITLE_CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
// With the u flag a paired surrogate is one code point, so this matches only unpaired halves,
// which no encoder can write as UTF-8.
const LONE_SURROGATE = /[\ud800-\udfff]/u;

/**
 * Validates an untrusted request body for the principal making it. Every problem in the body is
 * reported at once in one ValidationError; only a body that is otherwise valid can be refused
 * with a ForbiddenError, so a caller never fixes the body only to learn it was not allowed.
 */
export function parseExportRequest(
  body: unknown,
  principal: Principal,
  options: ExportRequestOptions = {},
): ExportRequest {
  if (!isPlainObject(body)) {
    throw new ValidationError('The export request is invalid.', [
      { field: '(body)', rule: 'must be a JSON object' },
    ]);
  }
  const issues: FieldIssue[] = [];

  const range = parseRange(own(body, 'from'), own(body, 'to'), issues);
  const rawFormat = own(body, 'format');
  const format = parseFormat(rawFormat, issues);
  const title = parseTitle(own(body, 'title'), issues);
  const filters = parseFilters(own(body, 'filters'), issues);
  const rawDelivery = own(body, 'delivery');
  const delivery = parseDelivery(rawDelivery, options.deliveryBuckets ?? [], issues);
  const pageSize = parsePageSize(own(body, 'pageSize'), format, issues);
  for (const key of Object.keys(body)) {
    if (!(FIELDS as readonly string[]).includes(key)) {
      issues.push({ field: key, rule: `is not a known field; allowed fields are ${FIELDS.join(', ')}` });
    }
  }

  if (issues.length > 0 || range === undefined || format === undefined || filters === undefined) {
    throw new ValidationError(summary(issues, rawFormat), issues);
  }
  return {
    range,
    format,
    ...(title === undefined ? {} : { title }),
    filters: restrictToTeam(filters, principal),
    ...(delivery === undefined ? {} : { delivery }),
    ...(pageSize === undefined ? {} : { pageSize }),
  };
}

/** Paper size is a property of the PDF report; on another format it would silently mean nothing. */
function parsePageSize(pageSize: unknown, format: ExportFormat | undefined, issues: FieldIssue[]): ReportPageSize | undefined {
  if (pageSize === undefined) return undefined;
  if (!isReportPageSize(pageSize)) {
    issues.push({ field: 'pageSize', rule: `must be one of ${REPORT_PAGE_SIZES.join(', ')}` });
    return undefined;
  }
  if (format !== undefined && format !== 'pdf') {
    issues.push({ field: 'pageSize', rule: 'applies to the pdf format only' });
    return undefined;
  }
  return pageSize;
}

function restrictToTeam(filters: ExportFilters, principal: Principal): ExportFilters {
  if (principal.team === undefined) return filters;
  if (filters.team === undefined) return { ...filters, team: principal.team };
  if (filters.team !== principal.team) {
    throw new ForbiddenError(
      `This token is restricted to team "${principal.team}" and cannot export events of team "${filters.team}".`,
    );
  }
  return filters;
}

function parseRange(from: unknown, to: unknown, issues: FieldIssue[]): TimeRange | undefined {
  let range: TimeRange;
  try {
    range = parseTimeRange(from, to);
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    issues.push(...error.issues);
    return undefined;
  }
  if (instantOf(range.to) - instantOf(range.from) > MAX_RANGE_DAYS * DAY_MS) {
    issues.push({ field: 'to', rule: `must be at most ${MAX_RANGE_DAYS} days after from` });
    return undefined;
  }
  return range;
}

function parseFormat(format: unknown, issues: FieldIssue[]): ExportFormat | undefined {
  if (isExportFormat(format)) return format;
  if (format === undefined) {
    issues.push({ field: 'format', rule: 'is required' });
  } else if (typeof format === 'string' && (DOCUMENTED_FORMATS as readonly string[]).includes(format)) {
    issues.push({
      field: 'format',
      rule: `${format} is not yet supported; use one of ${EXPORT_FORMATS.join(', ')}`,
    });
  } else {
    issues.push({ field: 'format', rule: `must be one of ${DOCUMENTED_FORMATS.join(', ')}` });
  }
  return undefined;
}

function parseTitle(title: unknown, issues: FieldIssue[]): string | undefined {
  if (title === undefined) return undefined;
  const before = issues.length;
  if (typeof title !== 'string') {
    issues.push({ field: 'title', rule: 'must be a string' });
    return undefined;
  }
  if (title.length === 0) issues.push({ field: 'title', rule: 'must not be empty' });
  // Counted in code points, as a reader counts characters: an emoji is one, not two.
  if ([...title].length > MAX_TITLE_CHARS) {
    issues.push({ field: 'title', rule: `must be at most ${MAX_TITLE_CHARS} characters` });
  }
  if (TITLE_CONTROL.test(title)) issues.push({ field: 'title', rule: 'must not contain control characters' });
  if (LONE_SURROGATE.test(title)) issues.push({ field: 'title', rule: 'must be valid Unicode text' });
  return issues.length === before ? title : undefined;
}

function parseFilters(filters: unknown, issues: FieldIssue[]): ExportFilters | undefined {
  if (filters === undefined) return {};
  if (!isPlainObject(filters)) {
    issues.push({ field: 'filters', rule: 'must be a JSON object' });
    return undefined;
  }
  const before = issues.length;
  const parsed: { team?: string; policy?: string } = {};
  for (const name of FILTER_FIELDS) {
    const value = own(filters, name);
    if (value === undefined) continue;
    // The same rules the events themselves obey, so a filter can match any storable value.
    const result = decisionEventSchema.shape[name].safeParse(value);
    if (result.success) parsed[name] = result.data;
    else issues.push({ field: `filters.${name}`, rule: result.error.issues[0]!.message });
  }
  for (const key of Object.keys(filters)) {
    if (!(FILTER_FIELDS as readonly string[]).includes(key)) {
      issues.push({
        field: `filters.${key}`,
        rule: `is not a known filter; allowed filters are ${FILTER_FIELDS.join(', ')}`,
      });
    }
  }
  return issues.length === before ? parsed : undefined;
}

/** `delivery: {s3Bucket, s3Prefix?, s3Region?}`, the fields `kt export create --s3-…` sends. */
function parseDelivery(
  delivery: unknown,
  allowList: readonly DeliveryBucket[],
  issues: FieldIssue[],
): DeliveryTarget | undefined {
  if (delivery === undefined) return undefined;
  if (!isPlainObject(delivery)) {
    issues.push({ field: 'delivery', rule: 'must be a JSON object' });
    return undefined;
  }
  for (const key of Object.keys(delivery)) {
    if (!(DELIVERY_FIELDS as readonly string[]).includes(key)) {
      issues.push({
        field: `delivery.${key}`,
        rule: `is not a known field; allowed fields are ${DELIVERY_FIELDS.join(', ')}`,
      });
    }
  }
  return checkDeliveryTarget(
    { bucket: own(delivery, 's3Bucket'), prefix: own(delivery, 's3Prefix'), region: own(delivery, 's3Region') },
    allowList,
    { bucket: 'delivery.s3Bucket', prefix: 'delivery.s3Prefix', region: 'delivery.s3Region' },
    issues,
  );
}

function summary(issues: readonly FieldIssue[], format: unknown): string {
  // A documented format this build cannot write is the only problem: say so in the headline,
  // since the body itself is well formed.
  if (issues.length === 1 && issues[0]?.field === 'format' && typeof format === 'string') {
    if ((DOCUMENTED_FORMATS as readonly string[]).includes(format)) return `The ${format} export format is not yet supported.`;
  }
  // A delivery field alone: the detail itself names the bucket or prefix and the rule it broke.
  const only = issues[0];
  if (issues.length === 1 && only !== undefined && only.field.startsWith('delivery.s3')) {
    return `${only.field.slice('delivery.'.length)} ${only.rule}.`;
  }
  return 'The export request is invalid.';
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

// Only the body's own members count: an inherited `from` (or a `__proto__` key) must not be read.
function own(object: Record<string, unknown>, key: string): unknown {
  return Object.hasOwn(object, key) ? object[key] : undefined;
}
