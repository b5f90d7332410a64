import { z } from 'zod';
import type { Principal } from '../auth/token-record.ts';
import { type FieldIssue, ForbiddenError, ValidationError } from '../errors.ts';
import { decisionEventSchema, isoUtcTimestamp } from '../events/decision-event.ts';
import { isLongerThanDays, sortableInstant, type TimeRange } from '../events/time-range.ts';
import { checkRequest, requestObject } from '../request-schema.ts';
import {
  type DeliveryBucket,
  type DeliveryRequest,
  type DeliveryTarget,
  deliveryRequestSchema,
  deliveryTargetOf,
} from './delivery.ts';
import { isExportFormat } from './encoders.ts';
import { DOCUMENTED_FORMATS, EXPORT_FORMATS, type ExportFilters, type ExportFormat } from './export-metadata.ts';
import { isReportPageSize, REPORT_PAGE_SIZES, type ReportPageSize } from './report/page-size.ts';

/**
 * The `POST /v1/exports` body, as the API checks it and as `kt export create` checks its flags
 * before it sends them (one schema, so the two cannot disagree). What only the deployment knows
 * (the longest range, the delivery allow-list) and the caller's team are checked by the API alone.
 */

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
  /**
   * The longest range one export may cover, in days (the deployment's `maxRangeDays`).
   * @default DEFAULT_MAX_RANGE_DAYS
   */
  readonly maxRangeDays?: number;
}

/** The rules a deployment sets; the CLI, which does not know them, leaves them to the API. */
export interface DeploymentRules {
  readonly maxRangeDays: number;
  readonly deliveryBuckets: readonly DeliveryBucket[];
}

// One year, with room for a leap day: enough for an annual audit period, and a bound on how long
// one job may hold a Step Functions execution and how big one artifact may grow.
export const DEFAULT_MAX_RANGE_DAYS = 366;
/** The default longest range; a deployment may set another (`maxRangeDays`). */
export const MAX_RANGE_DAYS = DEFAULT_MAX_RANGE_DAYS;
export const MAX_TITLE_CHARS = 200;

// The title reaches terminals, CSV-adjacent metadata and the PDF cover: C1 controls include CSI,
// which a terminal would act on just like ESC.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const TITLE_CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
// With the u flag a paired surrogate is one code point, so this matches only unpaired halves,
// which no encoder can write as UTF-8.
const LONE_SURROGATE = /[\ud800-\udfff]/u;
const FORMAT_RULE = `must be one of ${DOCUMENTED_FORMATS.join(', ')}`;

/** `format`: one this build writes; a documented one it cannot write yet says so. */
export const exportFormatSchema = z.enum(EXPORT_FORMATS, {
  error: (issue) =>
    typeof issue.input === 'string' && (DOCUMENTED_FORMATS as readonly string[]).includes(issue.input)
      ? `${issue.input} is not yet supported; use one of ${EXPORT_FORMATS.join(', ')}`
      : FORMAT_RULE,
});

/** `title`: shown on the PDF cover and in the manifest, so plain text of at most 200 characters. */
export const exportTitleSchema = z
  .string({ error: 'must be a string' })
  .min(1, { error: 'must not be empty' })
  // Counted in code points, as a reader counts characters: an emoji is one, not two.
  .refine((title) => title.length <= MAX_TITLE_CHARS || [...title].length <= MAX_TITLE_CHARS, {
    error: `must be at most ${MAX_TITLE_CHARS} characters`,
  })
  .refine((title) => !TITLE_CONTROL.test(title), { error: 'must not contain control characters' })
  .refine((title) => !LONE_SURROGATE.test(title), { error: 'must be valid Unicode text' });

/**
 * `filters: {team?, policy?}`. Each obeys the rules the events' own fields do (at most 256
 * characters), so a filter can match any value an event may store.
 */
export const exportFiltersSchema = requestObject(
  {
    team: decisionEventSchema.shape.team.optional(),
    policy: decisionEventSchema.shape.policy.optional(),
  },
  { unknown: (allowed) => `is not a known filter; allowed filters are ${allowed}` },
);

/**
 * The body's schema. With the deployment's rules it is the API's; without them (the CLI) the range
 * may be of any length and any bucket well named, since only the deployment knows its limits.
 */
export function exportRequestSchema(deployment?: DeploymentRules): ExportRequestSchema {
  if (deployment === undefined) {
    cliSchema ??= buildSchema(undefined);
    return cliSchema;
  }
  // Built once per setting: a deployment's rules do not change while it runs.
  let byDays = deploymentSchemas.get(deployment.deliveryBuckets);
  if (byDays === undefined) {
    byDays = new Map();
    deploymentSchemas.set(deployment.deliveryBuckets, byDays);
  }
  let schema = byDays.get(deployment.maxRangeDays);
  if (schema === undefined) {
    schema = buildSchema(deployment);
    byDays.set(deployment.maxRangeDays, schema);
  }
  return schema;
}

type ExportRequestSchema = ReturnType<typeof buildSchema>;
let cliSchema: ExportRequestSchema | undefined;
const deploymentSchemas = new WeakMap<readonly DeliveryBucket[], Map<number, ExportRequestSchema>>();
const NO_BUCKETS: readonly DeliveryBucket[] = [];

function buildSchema(deployment: DeploymentRules | undefined) {
  return requestObject({
    from: isoUtcTimestamp,
    to: isoUtcTimestamp,
    format: exportFormatSchema,
    title: exportTitleSchema.optional(),
    filters: exportFiltersSchema.optional(),
    delivery: deliveryRequestSchema(deployment?.deliveryBuckets).optional(),
    pageSize: z.enum(REPORT_PAGE_SIZES, { error: `must be one of ${REPORT_PAGE_SIZES.join(', ')}` }).optional(),
  }).superRefine(
    (body, ctx) => {
      if (body === null || typeof body !== 'object') return;
      const { from, to, format, pageSize } = body as Record<string, unknown>;
      const range = validRange(from, to);
      if (range !== undefined && sortableInstant(range.from) > sortableInstant(range.to)) {
        ctx.addIssue({ code: 'custom', path: ['from'], message: 'must not be later than to' });
      } else if (range !== undefined && deployment !== undefined && isLongerThanDays(range, deployment.maxRangeDays)) {
        const message = `must be at most ${deployment.maxRangeDays} days after from`;
        ctx.addIssue({ code: 'custom', path: ['to'], message });
      }
      // Paper size is a property of the PDF report; on another format it would silently mean nothing.
      if (isReportPageSize(pageSize) && isExportFormat(format) && format !== 'pdf') {
        ctx.addIssue({ code: 'custom', path: ['pageSize'], message: 'applies to the pdf format only' });
      }
    },
    // Beside the fields' own issues: every problem of the body is reported at once.
    { when: () => true },
  );
}

export type ExportRequestBody = z.output<ExportRequestSchema>;

/** The body's issues, each naming its field and rule; empty when it is valid. */
export function exportRequestIssues(body: unknown, deployment?: DeploymentRules): FieldIssue[] {
  const checked = checkRequest(exportRequestSchema(deployment), body);
  return checked.ok ? [] : checked.issues;
}

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
  const deployment: DeploymentRules = {
    maxRangeDays: options.maxRangeDays ?? DEFAULT_MAX_RANGE_DAYS,
    deliveryBuckets: options.deliveryBuckets ?? NO_BUCKETS,
  };
  const checked = checkRequest(exportRequestSchema(deployment), body);
  if (!checked.ok) throw new ValidationError(summary(checked.issues, formatOf(body)), checked.issues);
  const value = checked.value;
  return {
    range: { from: value.from, to: value.to },
    format: value.format,
    ...selectionOf(value, principal, deployment.deliveryBuckets),
    ...(value.pageSize === undefined ? {} : { pageSize: value.pageSize }),
  };
}

/**
 * What an export and a schedule both select, from their validated bodies: the title, the
 * filters narrowed to the caller's team, and the delivery target.
 */
export function selectionOf(
  value: {
    readonly title?: string | undefined;
    readonly filters?: { readonly team?: string; readonly policy?: string } | undefined;
    readonly delivery?: DeliveryRequest | undefined;
  },
  principal: Principal,
  deliveryBuckets: readonly DeliveryBucket[],
): { title?: string; filters: ExportFilters; delivery?: DeliveryTarget } {
  return {
    ...(value.title === undefined ? {} : { title: value.title }),
    filters: restrictToTeam(filtersOf(value.filters), principal),
    ...(value.delivery === undefined ? {} : { delivery: deliveryTargetOf(value.delivery, deliveryBuckets) }),
  };
}

/** Validated filters without absent members. */
export function filtersOf(
  filters: { readonly team?: string; readonly policy?: string } | undefined,
): ExportFilters {
  return {
    ...(filters?.team === undefined ? {} : { team: filters.team }),
    ...(filters?.policy === undefined ? {} : { policy: filters.policy }),
  };
}

/**
 * A team-restricted token exports its team's events only: an unfiltered request is narrowed to
 * the team, and one filtered to another team is refused.
 */
export function restrictToTeam(filters: ExportFilters, principal: Principal): ExportFilters {
  if (principal.team === undefined) return filters;
  if (filters.team === undefined) return { ...filters, team: principal.team };
  if (filters.team !== principal.team) {
    throw new ForbiddenError(
      `This token is restricted to team "${principal.team}" and cannot export events of team "${filters.team}".`,
    );
  }
  return filters;
}

function validRange(from: unknown, to: unknown): TimeRange | undefined {
  const f = isoUtcTimestamp.safeParse(from);
  const t = isoUtcTimestamp.safeParse(to);
  return f.success && t.success ? { from: f.data, to: t.data } : undefined;
}

function formatOf(body: unknown): unknown {
  return body !== null && typeof body === 'object' && Object.hasOwn(body, 'format')
    ? (body as Record<string, unknown>).format
    : undefined;
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
