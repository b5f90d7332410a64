import { z } from 'zod';
import { ConflictError } from '../errors.ts';
import { manifestNameOf } from '../evidence/manifest.ts';
import { requestObject } from '../request-schema.ts';
import { artifactFilenameOf } from './export-artifact.ts';
import type { ExportJob } from './export-job.ts';

/**
 * Delivery of an export's artifact and manifest to a customer's S3 bucket.
 *
 * Writing into a bucket someone names in a request is a confused-deputy risk: our role could be
 * made to write into any bucket it can reach, or into a bucket of the same name that another
 * account has taken over. So a bucket must be on the deployment's allow-list, which names the
 * account that owns it; every call to it carries that account as ExpectedBucketOwner, and the
 * Deliver function's IAM policy is confined to those buckets and accounts as well.
 */

/** One allow-listed bucket: the deployment setting `deliveryBuckets`. */
export interface DeliveryBucket {
  readonly bucket: string;
  /** The 12-digit AWS account that owns the bucket (ExpectedBucketOwner). */
  readonly account: string;
  /** The bucket's region, when pinned: a request naming another region is refused. */
  readonly region?: string;
}

export const DELIVERY_STATUSES = ['pending', 'delivered', 'failed'] as const;

export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

/** Where a request asked for the export to be delivered (validated). */
export interface DeliveryTarget {
  readonly bucket: string;
  /** Empty, or ending in `/`: the object key is `<prefix><export id>.<format>`. */
  readonly prefix: string;
  readonly region?: string;
}

/** The delivery sub-record of a job: separate from the job's status, which it never changes. */
export interface ExportDelivery extends DeliveryTarget {
  readonly status: DeliveryStatus;
  /** `s3://bucket/key` of the delivered artifact, once delivered. */
  readonly objectUri?: string;
  /** `s3://bucket/key` of the delivered manifest, once delivered. */
  readonly manifestUri?: string;
  /** Why the last attempt failed. */
  readonly error?: string;
  /** Delivery attempts that reached an outcome (delivered or failed). */
  readonly attempts: number;
  readonly deliveredAt?: string;
}

/** The object keys of a job's delivery in the customer bucket. */
export interface DeliveryKeys {
  readonly artifactKey: string;
  readonly manifestKey: string;
}

export const MAX_PREFIX_BYTES = 512;
const MAX_DELIVERY_ERROR_CHARS = 1000;
// S3 bucket naming rules (general purpose buckets): 3-63 of lowercase letters, digits, `.`, `-`.
const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const ACCOUNT_ID = /^\d{12}$/;
const REGION = /^[a-z]{2}(-[a-z]+)+-\d{1,2}$/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/** The deliveryBuckets setting is malformed; `setting` names where it came from. */
export class DeliverySettingError extends Error {
  constructor(
    readonly setting: string,
    message: string,
  ) {
    super(`${setting}: ${message}`);
    this.name = 'DeliverySettingError';
  }
}

/**
 * The rule a delivery prefix breaks, or undefined when it is good. The prefix becomes the start of
 * an object key in someone else's bucket, so it must stay under the folder it names: no `..`
 * segment, nothing absolute, no empty segment, nothing a log or terminal would act on.
 */
export function prefixRuleBroken(prefix: string): string | undefined {
  if (Buffer.byteLength(prefix, 'utf8') > MAX_PREFIX_BYTES) return `must be at most ${MAX_PREFIX_BYTES} bytes of UTF-8`;
  if (CONTROL.test(prefix)) return 'must not contain control characters';
  if (prefix.startsWith('/')) return 'must not start with /';
  if (prefix.includes('//')) return 'must not contain //';
  if (prefix.split('/').some((segment) => segment === '..')) return 'must not contain a .. segment';
  if (prefix !== '' && !prefix.endsWith('/')) return 'must be empty or end with /';
  return undefined;
}

const BUCKET_RULE = 'must be a bucket name';
const REGION_RULE = 'must be an AWS region such as us-east-1';

function isRegion(value: string): boolean {
  // The longest region name today is 14 characters; the bound keeps a request's string short.
  return value.length <= 32 && REGION.test(value);
}

/**
 * A request's `delivery: {s3Bucket, s3Prefix?, s3Region?}` (exports and schedules), the fields
 * `kt … --s3-bucket --s3-prefix --s3-region` send. With the deployment's allow-list, the bucket
 * must be on it and a region given must be the bucket's; without one (the CLI, which does not know
 * it) only the fields' own rules are checked.
 */
export function deliveryRequestSchema(allowList?: readonly DeliveryBucket[]) {
  return requestObject({
    // Required, but an absent bucket is refused as a missing name (below) rather than "is required".
    s3Bucket: z.string({ error: BUCKET_RULE }).regex(BUCKET_NAME, { error: BUCKET_RULE }).optional(),
    s3Prefix: z
      .string({ error: 'must be a string' })
      .superRefine((prefix, ctx) => {
        const broken = prefixRuleBroken(prefix);
        if (broken !== undefined) ctx.addIssue(`${JSON.stringify(prefix)} ${broken}`);
      })
      .optional(),
    s3Region: z.string({ error: REGION_RULE }).refine(isRegion, { error: REGION_RULE }).optional(),
  }).superRefine(
    (delivery, ctx) => {
      if (delivery === null || typeof delivery !== 'object') return;
      const { s3Bucket: bucket, s3Region: region } = delivery as Record<string, unknown>;
      if (bucket === undefined) ctx.addIssue({ code: 'custom', path: ['s3Bucket'], message: BUCKET_RULE });
      if (allowList === undefined || typeof bucket !== 'string' || !BUCKET_NAME.test(bucket)) return;
      const allowed = allowList.find((entry) => entry.bucket === bucket);
      if (allowed === undefined) {
        ctx.addIssue({ code: 'custom', path: ['s3Bucket'], message: notAllowedRule(bucket) });
      } else if (
        typeof region === 'string' &&
        isRegion(region) &&
        allowed.region !== undefined &&
        allowed.region !== region
      ) {
        ctx.addIssue({
          code: 'custom',
          path: ['s3Region'],
          message: `is ${region} but bucket ${allowed.bucket} is in ${allowed.region}`,
        });
      }
    },
    // Beside the other fields' issues: every problem of the request is reported at once.
    { when: () => true },
  );
}

export type DeliveryRequest = z.output<ReturnType<typeof deliveryRequestSchema>>;

/** The target of a delivery request checked against `allowList`; the region defaults to the bucket's. */
export function deliveryTargetOf(request: DeliveryRequest, allowList: readonly DeliveryBucket[]): DeliveryTarget {
  const allowed = allowedBucketOf(allowList, request.s3Bucket ?? '');
  const region = request.s3Region ?? allowed.region;
  return { bucket: allowed.bucket, prefix: request.s3Prefix ?? '', ...(region === undefined ? {} : { region }) };
}

function notAllowedRule(bucket: string): string {
  return (
    `${JSON.stringify(bucket)} is not an allowed delivery bucket; add it to the deployment's ` +
    `deliveryBuckets (locally: KT_DELIVERY_BUCKETS=${bucket})`
  );
}

/** `s3://bucket/prefix`, as `kt export create` prints where an export will be delivered. */
export function deliveryLocation(target: Pick<DeliveryTarget, 'bucket' | 'prefix'>): string {
  return `s3://${target.bucket}/${target.prefix}`;
}

/** `<prefix><export id>.<format>` and its manifest beside it, as in the artifact bucket. */
export function deliveryKeysOf(job: Pick<ExportJob, 'id' | 'format'>, target: DeliveryTarget): DeliveryKeys {
  const artifactKey = `${target.prefix}${artifactFilenameOf(job)}`;
  return { artifactKey, manifestKey: manifestNameOf(artifactKey) };
}

/** The allow-list entry of a delivery's bucket, or a ConflictError when it has been removed since. */
export function allowedBucketOf(allowList: readonly DeliveryBucket[], bucket: string): DeliveryBucket {
  const found = allowList.find((entry) => entry.bucket === bucket);
  if (found === undefined) {
    throw new ConflictError(`${notAllowedRule(bucket)}; it was allowed when the export was created.`);
  }
  return found;
}

export function newDelivery(target: DeliveryTarget): ExportDelivery {
  return { ...target, status: 'pending', attempts: 0 };
}

export function deliverySucceeded(
  delivery: ExportDelivery,
  uris: { readonly objectUri: string; readonly manifestUri: string },
  now: Date,
): ExportDelivery {
  const { error: _cleared, ...rest } = delivery;
  return {
    ...rest,
    status: 'delivered',
    objectUri: uris.objectUri,
    manifestUri: uris.manifestUri,
    attempts: delivery.attempts + 1,
    deliveredAt: now.toISOString(),
  };
}

export function deliveryFailed(delivery: ExportDelivery, reason: string): ExportDelivery {
  const text = reason.trim() === '' ? 'unknown error' : reason.trim();
  const { objectUri: _o, manifestUri: _m, deliveredAt: _d, ...rest } = delivery;
  return {
    ...rest,
    status: 'failed',
    error: text.length > MAX_DELIVERY_ERROR_CHARS ? `${[...text].slice(0, MAX_DELIVERY_ERROR_CHARS - 1).join('')}…` : text,
    attempts: delivery.attempts + 1,
  };
}

/** A failed (or never finished) delivery set to be tried again; delivered ones are refused. */
export function deliveryRequeued(job: ExportJob): ExportDelivery {
  const delivery = job.delivery;
  if (delivery === undefined) {
    throw new ConflictError(`Export ${job.id} has no delivery; create it with an S3 bucket to deliver it.`);
  }
  if (job.status !== 'completed') {
    throw new ConflictError(`Export ${job.id} is ${job.status}; only a completed export can be delivered.`);
  }
  if (delivery.status === 'delivered') {
    throw new ConflictError(`Export ${job.id} was already delivered to ${delivery.objectUri ?? deliveryLocation(delivery)}.`);
  }
  const { error: _retrying, ...rest } = delivery;
  return { ...rest, status: 'pending' };
}

/**
 * The allow-list from its JSON text (`DELIVERY_BUCKETS`, CDK context `deliveryBuckets`):
 * `[{"bucket":"…","account":"123456789012","region"?:"…"}]`. A bad entry is an error naming it,
 * never skipped: a silently shorter list would refuse exports, a longer one would be a hole.
 */
export function deliveryBucketsFrom(raw: unknown, setting: string): readonly DeliveryBucket[] {
  let value = raw;
  if (typeof raw === 'string') {
    if (raw.trim() === '') return [];
    try {
      value = JSON.parse(raw) as unknown;
    } catch {
      throw new DeliverySettingError(setting, 'must be a JSON array of {"bucket","account","region"?}');
    }
  }
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new DeliverySettingError(setting, 'must be an array of {"bucket","account","region"?}');
  const seen = new Set<string>();
  return value.map((entry: unknown, i): DeliveryBucket => {
    const item = (typeof entry === 'object' && entry !== null ? entry : {}) as Record<string, unknown>;
    const { bucket, account, region } = item;
    if (typeof bucket !== 'string' || !BUCKET_NAME.test(bucket)) {
      throw new DeliverySettingError(setting, `[${i}].bucket must be an S3 bucket name`);
    }
    if (typeof account !== 'string' || !ACCOUNT_ID.test(account)) {
      throw new DeliverySettingError(setting, `[${i}].account must be the 12-digit account id that owns ${bucket}`);
    }
    if (region !== undefined && (typeof region !== 'string' || !REGION.test(region))) {
      throw new DeliverySettingError(setting, `[${i}].region must be an AWS region such as us-east-1`);
    }
    for (const key of Object.keys(item)) {
      if (!['bucket', 'account', 'region'].includes(key)) {
        throw new DeliverySettingError(setting, `[${i}].${key} is not a known field (bucket, account, region)`);
      }
    }
    if (seen.has(bucket)) throw new DeliverySettingError(setting, `[${i}].bucket ${bucket} is listed twice`);
    seen.add(bucket);
    return { bucket, account, ...(region === undefined ? {} : { region }) };
  });
}

/**
 * The customer bucket refused the delivery in a way retrying will not fix (no such bucket, access
 * denied, owned by another account, in another region), or the artifact to deliver is gone.
 */
export class DeliveryRefusedError extends Error {
  constructor(message: string, options?: { readonly cause?: unknown }) {
    super(message, options);
    this.name = 'DeliveryRefusedError';
  }
}
