import { ConflictError, IntegrityError } from '../errors.ts';
import type { ExportJob } from './export-job.ts';

/** S3 Object Lock's two retention modes, spelled as S3 and CloudFormation spell them. */
export const ARTIFACT_RETENTION_MODES = ['GOVERNANCE', 'COMPLIANCE'] as const;

export type ArtifactRetentionMode = (typeof ARTIFACT_RETENTION_MODES)[number];

/** S3 Object Lock accepts a default retention of at most 100 years. */
export const MAX_ARTIFACT_RETENTION_DAYS = 36_500;

const DAY_MS = 86_400_000;

/**
 * The deployment's S3 Object Lock default retention on the artifact bucket: every artifact is
 * kept, unchanged, for `days` after it was written.
 */
export interface ArtifactRetention {
  readonly mode: ArtifactRetentionMode;
  /** Whole days, 1 to MAX_ARTIFACT_RETENTION_DAYS. */
  readonly days: number;
}

/** A retention setting that is half given or out of range; `setting` names what to fix. */
export class RetentionSettingError extends Error {
  constructor(
    readonly setting: string,
    message: string,
  ) {
    super(message);
    this.name = 'RetentionSettingError';
  }
}

/** Refused: the export's artifact is still under retention. Nothing was changed. */
export class ArtifactRetainedError extends ConflictError {
  constructor(
    readonly exportId: string,
    readonly mode: ArtifactRetentionMode,
    readonly retainedUntil: Date,
  ) {
    super(retainedMessage(exportId, mode, retainedUntil));
  }
}

/**
 * Reads a retention from its two settings (environment variables or CDK context values, named by
 * `names` so the error says which one to fix). Neither set means no retention; one without the
 * other is an error rather than a silent default, since the point of the setting is certainty.
 */
export function artifactRetentionFrom(
  raw: { readonly mode?: string | undefined; readonly days?: string | undefined },
  names: { readonly mode: string; readonly days: string },
): ArtifactRetention | undefined {
  const modeText = raw.mode?.trim() ?? '';
  const daysText = raw.days?.trim() ?? '';
  if (modeText === '' && daysText === '') return undefined;
  if (modeText === '')
    throw new RetentionSettingError(
      names.mode,
      `${names.days} needs ${names.mode} as well (GOVERNANCE or COMPLIANCE)`,
    );
  if (daysText === '')
    throw new RetentionSettingError(
      names.days,
      `${names.mode} needs ${names.days} as well (whole days, 1 to ${MAX_ARTIFACT_RETENTION_DAYS})`,
    );
  const mode = modeText.toUpperCase();
  if (!isRetentionMode(mode)) {
    throw new RetentionSettingError(
      names.mode,
      `${names.mode} must be GOVERNANCE or COMPLIANCE (got "${raw.mode}")`,
    );
  }
  const days = Number(daysText);
  if (!/^\d+$/.test(daysText) || days < 1 || days > MAX_ARTIFACT_RETENTION_DAYS) {
    throw new RetentionSettingError(
      names.days,
      `${names.days} must be a whole number of days from 1 to ${MAX_ARTIFACT_RETENTION_DAYS} (got "${raw.days}")`,
    );
  }
  return { mode, days };
}

function isRetentionMode(value: string): value is ArtifactRetentionMode {
  return (ARTIFACT_RETENTION_MODES as readonly string[]).includes(value);
}

/**
 * Until when the job's artifact is retained, or undefined when nothing is: no retention is set,
 * or the job has no artifact. A failed job never has one (its upload is aborted), so retention
 * does not hold it; marking it deleted removes nothing and its job and audit entries stay.
 *
 * Counted from `completedAt`, which Finalize records after S3 created the object, so this date is
 * never earlier than the retain-until date S3 itself computed from the object's creation.
 */
export function retainedUntil(job: ExportJob, retention: ArtifactRetention | undefined): Date | undefined {
  if (retention === undefined || job.artifactKey === undefined) return undefined;
  const completed = job.completedAt === undefined ? Number.NaN : Date.parse(job.completedAt);
  if (Number.isNaN(completed)) {
    // Fail closed: without the completion time the end of retention is unknown.
    throw new IntegrityError(
      `Export ${job.id} has an artifact but no valid completion time; its retention cannot be determined.`,
    );
  }
  return new Date(completed + retention.days * DAY_MS);
}

/** Throws ArtifactRetainedError while `now` is before the end of the artifact's retention. */
export function assertRetentionOver(
  job: ExportJob,
  retention: ArtifactRetention | undefined,
  now: Date,
): void {
  const until = retainedUntil(job, retention);
  if (until !== undefined && retention !== undefined && now.getTime() < until.getTime()) {
    throw new ArtifactRetainedError(job.id, retention.mode, until);
  }
}

function retainedMessage(exportId: string, mode: ArtifactRetentionMode, until: Date): string {
  const head = `Export ${exportId} is under ${mode.toLowerCase()} retention until ${until.toISOString()} and cannot be deleted before then`;
  return mode === 'COMPLIANCE'
    ? `${head}, by anyone: compliance-mode retention cannot be shortened or removed.`
    : `${head}. The API never bypasses retention; only an account administrator with s3:BypassGovernanceRetention can remove the artifact, in S3 directly.`;
}
