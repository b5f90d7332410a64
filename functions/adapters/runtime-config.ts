import { type ArtifactRetention, artifactRetentionFrom } from '../core/export/artifact-retention.ts';
import { type DeliveryBucket, deliveryBucketsFrom } from '../core/export/delivery.ts';
import { type ScheduleSettings, scheduleSettingsFromEnv } from './scheduler/scheduler-settings.ts';

/** The Lambda environment variable that carries the delivery allow-list, as JSON. */
export const DELIVERY_BUCKETS_VARIABLE = 'DELIVERY_BUCKETS';

/** The Lambda environment variables that carry the artifact bucket's Object Lock retention. */
export const ARTIFACT_RETENTION_VARIABLES = {
  mode: 'ARTIFACT_RETENTION_MODE',
  days: 'ARTIFACT_RETENTION_DAYS',
} as const;

/**
 * The Lambda environment variables that carry the limits against runaway cost
 * (functions/core/export/export-limits.ts): the API Lambda has the first, ExportPage the second.
 */
export const EXPORT_LIMIT_VARIABLES = {
  maxRunningExportsPerPrincipal: 'MAX_RUNNING_EXPORTS_PER_PRINCIPAL',
  maxExportRecords: 'MAX_EXPORT_RECORDS',
} as const;

/** The deployment's limits against runaway cost; each absent one is its default. */
export interface ExportLimits {
  /** Exports one principal may have queued or running at once. @default DEFAULT_MAX_RUNNING_EXPORTS (5) */
  readonly maxRunningExportsPerPrincipal?: number;
  /** Records one export may hold. @default DEFAULT_MAX_EXPORT_RECORDS (10,000,000) */
  readonly maxExportRecords?: number;
}

/**
 * Where the adapters find their resources. On AWS every value comes from the Lambda's
 * environment (set by the CDK stack); the local stack passes endpoints of its embedded servers.
 */
export interface RuntimeConfig {
  readonly region: string;
  readonly eventsTable: string;
  readonly controlTable: string;
  readonly artifactBucket: string;
  /**
   * The export state machine; only the API starts executions, so only its Lambda has it.
   * @default - none: starting an export fails with a ConfigurationError
   */
  readonly stateMachineArn?: string;
  /**
   * The KMS key that signs evidence (`SIGNING_KEY_ID`, a key ARN); only the functions that sign or
   * list public keys have it.
   * @default - none: signing and listing keys fail with a ConfigurationError
   */
  readonly signingKeyId?: string;
  /**
   * KMS keys that signed evidence before the current one (`SIGNING_KEY_IDS_RETIRED`,
   * comma-separated), still listed so that evidence verifies.
   * @default - none
   */
  readonly retiredSigningKeyIds?: readonly string[];
  /**
   * A signed audit checkpoint every this many entries (and at least daily while entries are
   * appended); `AUDIT_CHECKPOINT_EVERY`.
   * @default 100
   */
  readonly auditCheckpointEvery?: number;
  /**
   * The artifact bucket's S3 Object Lock default retention (`ARTIFACT_RETENTION_MODE`,
   * `ARTIFACT_RETENTION_DAYS`); the API refuses to delete an export while it holds.
   * @default - none: no retention
   */
  readonly artifactRetention?: ArtifactRetention;
  /**
   * Customer buckets exports may be delivered to, each with the account that owns it
   * (`DELIVERY_BUCKETS`, JSON: `[{"bucket","account","region"?}]`).
   * @default - none: a request to deliver is refused
   */
  readonly deliveryBuckets?: readonly DeliveryBucket[];
  /**
   * Recurring exports: the EventBridge Scheduler group and target the API arms schedules with,
   * and the deployment's limits on schedules.
   * @default - no target (creating a schedule fails) and the default limits
   */
  readonly schedules?: ScheduleSettings;
  /**
   * Limits against runaway cost (`MAX_RUNNING_EXPORTS_PER_PRINCIPAL`, `MAX_EXPORT_RECORDS`).
   * @default - the defaults of each
   */
  readonly limits?: ExportLimits;
  /**
   * The longest time range one export (and one schedule's window) may cover, in days
   * (`MAX_RANGE_DAYS`, 1 to MAX_RANGE_DAYS_SETTING).
   * @default DEFAULT_MAX_RANGE_DAYS (366)
   */
  readonly maxRangeDays?: number;
  /** Local stack only: endpoints of the embedded DynamoDB and S3 servers. */
  readonly endpoints?: { readonly dynamodb: string; readonly s3: string };
}

export class ConfigurationError extends Error {
  constructor(readonly variable: string) {
    super(`Environment variable ${variable} is not set`);
    this.name = 'ConfigurationError';
  }
}

function required(env: NodeJS.ProcessEnv, name: string): string {
  const value = env[name];
  if (value === undefined || value === '') throw new ConfigurationError(name);
  return value;
}

/** The configuration a deployed Lambda reads from its environment. */
export function runtimeConfigFromEnv(env: NodeJS.ProcessEnv = process.env): RuntimeConfig {
  const retiredKeyIds = (env.SIGNING_KEY_IDS_RETIRED ?? '')
    .split(',')
    .map((id) => id.trim())
    .filter((id) => id !== '');
  const artifactRetention = artifactRetentionFrom(
    { mode: env[ARTIFACT_RETENTION_VARIABLES.mode], days: env[ARTIFACT_RETENTION_VARIABLES.days] },
    ARTIFACT_RETENTION_VARIABLES,
  );
  return {
    region: env.AWS_REGION ?? 'us-east-1',
    eventsTable: required(env, 'EVENTS_TABLE'),
    controlTable: required(env, 'CONTROL_TABLE'),
    artifactBucket: required(env, 'ARTIFACT_BUCKET'),
    ...(env.STATE_MACHINE_ARN ? { stateMachineArn: env.STATE_MACHINE_ARN } : {}),
    ...(env.SIGNING_KEY_ID ? { signingKeyId: env.SIGNING_KEY_ID } : {}),
    ...(retiredKeyIds.length > 0 ? { retiredSigningKeyIds: retiredKeyIds } : {}),
    ...(env.AUDIT_CHECKPOINT_EVERY
      ? { auditCheckpointEvery: checkpointEvery(env.AUDIT_CHECKPOINT_EVERY) }
      : {}),
    ...(artifactRetention === undefined ? {} : { artifactRetention }),
    ...deliveryBucketsOf(env),
    ...schedulesOf(env),
    ...limitsOf(env),
    ...maxRangeDaysOf(env),
  };
}

function limitsOf(env: NodeJS.ProcessEnv): { limits?: ExportLimits } {
  const v = EXPORT_LIMIT_VARIABLES;
  const running = env[v.maxRunningExportsPerPrincipal];
  const records = env[v.maxExportRecords];
  const limits: ExportLimits = {
    ...(running ? { maxRunningExportsPerPrincipal: limitValue(v.maxRunningExportsPerPrincipal, running) } : {}),
    ...(records ? { maxExportRecords: limitValue(v.maxExportRecords, records) } : {}),
  };
  return Object.keys(limits).length === 0 ? {} : { limits };
}

/** The environment that gives a Lambda `limits` (only those set); a bad value throws, naming it. */
export function exportLimitsEnvironment(limits: {
  readonly [name in keyof ExportLimits]?: number | undefined;
}): Record<string, string> {
  const environment: Record<string, string> = {};
  for (const name of Object.keys(EXPORT_LIMIT_VARIABLES) as (keyof ExportLimits)[]) {
    const value = limits[name];
    if (value !== undefined) environment[EXPORT_LIMIT_VARIABLES[name]] = String(limitValue(name, value));
  }
  return environment;
}

/** A limit: a whole number of 1 or more (`name` says which, in the error). */
export function limitValue(name: string, raw: string | number): number {
  const text = String(raw).trim();
  const value = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(value) || value < 1) {
    throw new Error(`${name} must be a whole number of 1 or more, not "${raw}"`);
  }
  return value;
}

function deliveryBucketsOf(env: NodeJS.ProcessEnv): { deliveryBuckets?: readonly DeliveryBucket[] } {
  const deliveryBuckets = deliveryBucketsFrom(env[DELIVERY_BUCKETS_VARIABLE], DELIVERY_BUCKETS_VARIABLE);
  return deliveryBuckets.length === 0 ? {} : { deliveryBuckets };
}

function schedulesOf(env: NodeJS.ProcessEnv): { schedules?: ScheduleSettings } {
  const schedules = scheduleSettingsFromEnv(env);
  return Object.keys(schedules).length === 0 ? {} : { schedules };
}

/** The environment that gives a Lambda the delivery allow-list (none when it is empty). */
export function deliveryBucketsEnvironment(buckets: readonly DeliveryBucket[]): Record<string, string> {
  return buckets.length === 0 ? {} : { [DELIVERY_BUCKETS_VARIABLE]: JSON.stringify(buckets) };
}

/** The environment that gives a Lambda `retention` (none when there is none). */
export function artifactRetentionEnvironment(
  retention: ArtifactRetention | undefined,
): Record<string, string> {
  if (retention === undefined) return {};
  return {
    [ARTIFACT_RETENTION_VARIABLES.mode]: retention.mode,
    [ARTIFACT_RETENTION_VARIABLES.days]: String(retention.days),
  };
}

function maxRangeDaysOf(env: NodeJS.ProcessEnv): { maxRangeDays?: number } {
  const raw = env[MAX_RANGE_DAYS_VARIABLE];
  return raw ? { maxRangeDays: maxRangeDaysFrom(raw, MAX_RANGE_DAYS_VARIABLE) } : {};
}

/** The Lambda environment variable that carries the longest export range, in days. */
export const MAX_RANGE_DAYS_VARIABLE = 'MAX_RANGE_DAYS';
/** The largest `maxRangeDays` a deployment may set: ten years. */
export const MAX_RANGE_DAYS_SETTING = 3660;

/** A `maxRangeDays` setting: a whole number of days from 1 to MAX_RANGE_DAYS_SETTING (`name` says where from). */
export function maxRangeDaysFrom(raw: string | number, name: string): number {
  const text = String(raw).trim();
  const days = Number(text);
  if (!/^\d{1,5}$/.test(text) || days < 1 || days > MAX_RANGE_DAYS_SETTING) {
    throw new Error(`${name} must be a whole number of days from 1 to ${MAX_RANGE_DAYS_SETTING}, not "${raw}"`);
  }
  return days;
}

function checkpointEvery(raw: string): number {
  const every = Number(raw);
  if (!/^\d+$/.test(raw) || every < 1) {
    throw new Error(`AUDIT_CHECKPOINT_EVERY must be a whole number of 1 or more, not "${raw}"`);
  }
  return every;
}
