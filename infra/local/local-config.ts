import path from 'node:path';
import {
  type ArtifactRetention,
  artifactRetentionFrom,
  RetentionSettingError,
} from '../../functions/core/export/artifact-retention.ts';
import { DeliverySettingError, deliveryBucketsFrom } from '../../functions/core/export/delivery.ts';
import { MAX_RANGE_DAYS_SETTING } from '../../functions/adapters/runtime-config.ts';
import { LocalStackError } from './local-stack-error.ts';

/** The delivery bucket the tutorial's Step 8 names, always allowed (and created) locally. */
export const LOCAL_DELIVERY_BUCKET = 'compliance-artifacts';
/** The account that owns every local bucket (s3rver ignores ExpectedBucketOwner). */
export const LOCAL_ACCOUNT_ID = '000000000000';
/** The region the local stack's clients use and SigV4 requests to its API must be signed for. */
export const LOCAL_REGION = 'us-east-1';

export interface LocalConfig {
  /** The API's port (`PORT`). @default 8080 */
  readonly apiPort: number;
  /** The embedded DynamoDB's port (`KT_DYNAMODB_PORT`). @default 8000 */
  readonly dynamodbPort: number;
  /** The embedded S3's port (`KT_S3_PORT`). @default 4568 */
  readonly s3Port: number;
  /** Where data persists across restarts (`KT_DATA_DIR`). @default .keeptrusts */
  readonly dataDir: string;
  /** Demo events seeded into a new data dir (`KT_DEMO_EVENTS`); 0 seeds none. @default 20000 */
  readonly demoEvents: number;
  /** A token to register as admin (`KEEPTRUSTS_API_TOKEN`); when absent one is created. */
  readonly adminToken?: string;
  /** Print one line per API request. @default true */
  readonly logRequests: boolean;
  /**
   * Fault injection for trying failure handling (`KT_FAULT_AFTER_PARTS`, `KT_FAULT_TIMES`): after
   * this many artifact parts have been uploaded, part uploads fail `times` times in a row.
   * @default - no faults
   */
  readonly fault?: PartUploadFault;
  /**
   * The artifact retention a deployment with S3 Object Lock has (`KT_ARTIFACT_RETENTION_MODE`,
   * `KT_ARTIFACT_RETENTION_DAYS`). s3rver has no Object Lock, so only the API's delete rule
   * applies it, as it does on AWS.
   * @default - none
   */
  readonly artifactRetention?: ArtifactRetention;
  /**
   * Buckets exports may be delivered to, each created in the embedded S3 on start:
   * `compliance-artifacts` and those in `KT_DELIVERY_BUCKETS` (comma-separated).
   * @default [LOCAL_DELIVERY_BUCKET]
   */
  readonly deliveryBuckets?: readonly string[];
  /**
   * Exports one token may have queued or running at once (`KT_MAX_RUNNING_EXPORTS`); the next
   * create is refused with a 429 and Retry-After.
   * @default DEFAULT_MAX_RUNNING_EXPORTS (5)
   */
  readonly maxRunningExports?: number;
  /**
   * Records one export may hold (`KT_MAX_EXPORT_RECORDS`); an export with more fails.
   * @default DEFAULT_MAX_EXPORT_RECORDS (10,000,000)
   */
  readonly maxExportRecords?: number;
  /** Schedules the stack may hold (`KT_MAX_SCHEDULES`). @default DEFAULT_MAX_SCHEDULES (100) */
  readonly maxSchedules?: number;
  /**
   * The longest range one export (and one schedule's window) may cover, in days
   * (`KT_MAX_RANGE_DAYS`, as `MAX_RANGE_DAYS` on AWS). @default DEFAULT_MAX_RANGE_DAYS (366)
   */
  readonly maxRangeDays?: number;
}

export interface PartUploadFault {
  readonly afterParts: number;
  /** @default - every upload after `afterParts` fails */
  readonly times?: number;
}

function integer(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || value < min || value > max) {
    throw new LocalStackError(`${name} must be a whole number from ${min} to ${max} (got "${raw}")`);
  }
  return value;
}

export function localConfigFromEnv(env: NodeJS.ProcessEnv = process.env): LocalConfig {
  const token = env.KEEPTRUSTS_API_TOKEN?.trim();
  return {
    apiPort: integer(env, 'PORT', 8080, 0, 65535),
    dynamodbPort: integer(env, 'KT_DYNAMODB_PORT', 8000, 0, 65535),
    s3Port: integer(env, 'KT_S3_PORT', 4568, 0, 65535),
    dataDir: path.resolve(env.KT_DATA_DIR || '.keeptrusts'),
    demoEvents: integer(env, 'KT_DEMO_EVENTS', 20_000, 0, 5_000_000),
    ...(token ? { adminToken: token } : {}),
    logRequests: env.KT_LOG_REQUESTS !== '0',
    ...faultFromEnv(env),
    ...retentionFromEnv(env),
    deliveryBuckets: deliveryBucketsFromEnv(env),
    ...limitsFromEnv(env),
    ...(env.KT_MAX_RANGE_DAYS ? { maxRangeDays: integer(env, 'KT_MAX_RANGE_DAYS', 0, 1, MAX_RANGE_DAYS_SETTING) } : {}),
  };
}

function limitsFromEnv(env: NodeJS.ProcessEnv): Pick<LocalConfig, 'maxRunningExports' | 'maxExportRecords' | 'maxSchedules'> {
  const limit = (name: string, max: number) =>
    env[name] === undefined || env[name] === '' ? undefined : integer(env, name, 0, 1, max);
  const maxRunningExports = limit('KT_MAX_RUNNING_EXPORTS', 10_000);
  const maxExportRecords = limit('KT_MAX_EXPORT_RECORDS', 10_000_000_000);
  const maxSchedules = limit('KT_MAX_SCHEDULES', 100_000);
  return {
    ...(maxRunningExports === undefined ? {} : { maxRunningExports }),
    ...(maxExportRecords === undefined ? {} : { maxExportRecords }),
    ...(maxSchedules === undefined ? {} : { maxSchedules }),
  };
}

function deliveryBucketsFromEnv(env: NodeJS.ProcessEnv): readonly string[] {
  const names = (env.KT_DELIVERY_BUCKETS ?? '')
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '' && name !== LOCAL_DELIVERY_BUCKET);
  const unique = [LOCAL_DELIVERY_BUCKET, ...new Set(names)];
  try {
    // The same checks as the deployment setting, so a name S3 would refuse is refused here too.
    deliveryBucketsFrom(
      unique.map((bucket) => ({ bucket, account: LOCAL_ACCOUNT_ID })),
      'KT_DELIVERY_BUCKETS',
    );
  } catch (error) {
    if (error instanceof DeliverySettingError) {
      throw new LocalStackError(`KT_DELIVERY_BUCKETS must be comma-separated S3 bucket names (${error.message})`);
    }
    throw error;
  }
  return unique;
}

function retentionFromEnv(env: NodeJS.ProcessEnv): { artifactRetention?: ArtifactRetention } {
  try {
    const artifactRetention = artifactRetentionFrom(
      { mode: env.KT_ARTIFACT_RETENTION_MODE, days: env.KT_ARTIFACT_RETENTION_DAYS },
      { mode: 'KT_ARTIFACT_RETENTION_MODE', days: 'KT_ARTIFACT_RETENTION_DAYS' },
    );
    return artifactRetention === undefined ? {} : { artifactRetention };
  } catch (error) {
    if (error instanceof RetentionSettingError) throw new LocalStackError(error.message);
    throw error;
  }
}

function faultFromEnv(env: NodeJS.ProcessEnv): { fault?: PartUploadFault } {
  if (env.KT_FAULT_AFTER_PARTS === undefined || env.KT_FAULT_AFTER_PARTS === '') {
    if (env.KT_FAULT_TIMES) throw new LocalStackError('KT_FAULT_TIMES needs KT_FAULT_AFTER_PARTS as well');
    return {};
  }
  const afterParts = integer(env, 'KT_FAULT_AFTER_PARTS', 0, 0, 10_000);
  const times = env.KT_FAULT_TIMES ? integer(env, 'KT_FAULT_TIMES', 1, 1, 1_000_000) : undefined;
  return { fault: { afterParts, ...(times === undefined ? {} : { times }) } };
}
