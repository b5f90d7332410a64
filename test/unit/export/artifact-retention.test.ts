import type { Principal } from '../../../functions/core/auth/token-record.ts';
import { ConflictError, IntegrityError } from '../../../functions/core/errors.ts';
import {
  ArtifactRetainedError,
  type ArtifactRetention,
  artifactRetentionFrom,
  assertRetentionOver,
  RetentionSettingError,
  retainedUntil,
} from '../../../functions/core/export/artifact-retention.ts';
import type { ExportJob } from '../../../functions/core/export/export-job.ts';
import { deleteExport } from '../../../functions/core/export/operations/delete-export.ts';
import type { ExportOperationDeps } from '../../../functions/core/export/operations/operation-deps.ts';
import type { ArtifactStore, AuditLog, ExportJobStore } from '../../../functions/core/ports.ts';

const ID = 'exp_0123456789abcdefghjk';
const COMPLETED_AT = '2026-04-23T14:30:12.345Z';
const DAY_MS = 86_400_000;
const COMPLIANCE: ArtifactRetention = { mode: 'COMPLIANCE', days: 30 };
const GOVERNANCE: ArtifactRetention = { mode: 'GOVERNANCE', days: 1 };
const admin: Principal = { tokenId: 'tok_0123456789ab', name: 'ci', scopes: ['admin'] };

const completed: ExportJob = {
  id: ID,
  status: 'completed',
  format: 'json',
  range: { from: '2026-04-16T00:00:00Z', to: '2026-04-23T23:59:59Z' },
  filters: {},
  createdAt: '2026-04-23T14:30:00Z',
  startedAt: '2026-04-23T14:30:01Z',
  completedAt: COMPLETED_AT,
  createdBy: admin.tokenId,
  records: 870,
  bytes: 186_000,
  sha256: 'a'.repeat(64),
  artifactKey: `exports/${ID}/export.json`,
};
const failed: ExportJob = {
  ...completed,
  status: 'failed',
  records: 0,
  bytes: undefined,
  sha256: undefined,
  artifactKey: undefined,
  error: { reason: 'DependencyError: S3 is down', state: 'ExportPage' },
};

const end = (retention: ArtifactRetention) => Date.parse(COMPLETED_AT) + retention.days * DAY_MS;

describe('artifactRetentionFrom', () => {
  const names = { mode: 'MODE', days: 'DAYS' };

  it('is undefined when neither setting is given (empty counts as not given)', () => {
    expect(artifactRetentionFrom({}, names)).toBeUndefined();
    expect(artifactRetentionFrom({ mode: '', days: ' ' }, names)).toBeUndefined();
  });

  it('reads either mode, in any case, and whole days up to 100 years', () => {
    expect(artifactRetentionFrom({ mode: 'compliance', days: '2555' }, names)).toEqual({
      mode: 'COMPLIANCE',
      days: 2555,
    });
    expect(artifactRetentionFrom({ mode: 'GOVERNANCE', days: '36500' }, names)).toEqual({
      mode: 'GOVERNANCE',
      days: 36_500,
    });
  });

  it.each([
    [{ mode: 'COMPLIANCE' }, 'DAYS', 'MODE needs DAYS as well (whole days, 1 to 36500)'],
    [{ days: '30' }, 'MODE', 'DAYS needs MODE as well (GOVERNANCE or COMPLIANCE)'],
    [{ mode: 'legal-hold', days: '30' }, 'MODE', 'MODE must be GOVERNANCE or COMPLIANCE (got "legal-hold")'],
    [
      { mode: 'COMPLIANCE', days: '0' },
      'DAYS',
      'DAYS must be a whole number of days from 1 to 36500 (got "0")',
    ],
    [
      { mode: 'COMPLIANCE', days: '1.5' },
      'DAYS',
      'DAYS must be a whole number of days from 1 to 36500 (got "1.5")',
    ],
    [
      { mode: 'COMPLIANCE', days: '36501' },
      'DAYS',
      'DAYS must be a whole number of days from 1 to 36500 (got "36501")',
    ],
    [
      { mode: 'COMPLIANCE', days: '7y' },
      'DAYS',
      'DAYS must be a whole number of days from 1 to 36500 (got "7y")',
    ],
  ])('refuses %j, naming %s', (raw, setting, message) => {
    const attempt = () => artifactRetentionFrom(raw, names);
    expect(attempt).toThrow(RetentionSettingError);
    expect(attempt).toThrow(message);
    try {
      attempt();
    } catch (error) {
      expect((error as RetentionSettingError).setting).toBe(setting);
    }
  });
});

describe('retainedUntil', () => {
  it('is the completion time plus the retention days', () => {
    expect(retainedUntil(completed, COMPLIANCE)?.toISOString()).toBe('2026-05-23T14:30:12.345Z');
    expect(retainedUntil(completed, GOVERNANCE)?.toISOString()).toBe('2026-04-24T14:30:12.345Z');
  });

  it('is undefined without a retention, and for a failed job (it has no artifact to retain)', () => {
    expect(retainedUntil(completed, undefined)).toBeUndefined();
    expect(failed.completedAt).toBe(COMPLETED_AT);
    expect(retainedUntil(failed, COMPLIANCE)).toBeUndefined();
  });

  it('fails closed when a job with an artifact has no valid completion time', () => {
    const { completedAt: _missing, ...withoutTime } = completed;
    expect(() => retainedUntil(withoutTime, COMPLIANCE)).toThrow(IntegrityError);
    expect(() => retainedUntil({ ...completed, completedAt: 'yesterday' }, COMPLIANCE)).toThrow(
      IntegrityError,
    );
  });
});

describe('assertRetentionOver', () => {
  it('refuses 1 ms before the end and allows at the end', () => {
    expect(() => assertRetentionOver(completed, COMPLIANCE, new Date(end(COMPLIANCE) - 1))).toThrow(
      ArtifactRetainedError,
    );
    expect(() => assertRetentionOver(completed, COMPLIANCE, new Date(end(COMPLIANCE)))).not.toThrow();
    expect(() => assertRetentionOver(completed, COMPLIANCE, new Date(end(COMPLIANCE) + 1))).not.toThrow();
  });

  it('refuses right after completion, as a ConflictError carrying the mode and the date', () => {
    let caught: unknown;
    try {
      assertRetentionOver(completed, COMPLIANCE, new Date(COMPLETED_AT));
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConflictError);
    expect(caught).toMatchObject({
      name: 'ArtifactRetainedError',
      code: 'conflict',
      exportId: ID,
      mode: 'COMPLIANCE',
      retainedUntil: new Date('2026-05-23T14:30:12.345Z'),
    });
  });

  it('says compliance retention binds everyone', () => {
    expect(() => assertRetentionOver(completed, COMPLIANCE, new Date(COMPLETED_AT))).toThrow(
      `Export ${ID} is under compliance retention until 2026-05-23T14:30:12.345Z and cannot be deleted before then, by anyone: compliance-mode retention cannot be shortened or removed.`,
    );
  });

  it('says who alone can remove a governance-retained artifact, and that the API never does', () => {
    expect(() => assertRetentionOver(completed, GOVERNANCE, new Date(COMPLETED_AT))).toThrow(
      `Export ${ID} is under governance retention until 2026-04-24T14:30:12.345Z and cannot be deleted before then. The API never bypasses retention; only an account administrator with s3:BypassGovernanceRetention can remove the artifact, in S3 directly.`,
    );
  });
});

/** In-memory deps that record every write. */
function fakeDeps(job: ExportJob, now: Date, retention?: ArtifactRetention) {
  const writes: string[] = [];
  const jobs: Pick<ExportJobStore, 'getJob' | 'saveJob'> = {
    getJob: async (id) => (id === job.id ? { value: job, revision: 3 } : undefined),
    saveJob: async (saved) => {
      writes.push(`saveJob ${saved.status}`);
      return 4;
    },
  };
  const artifacts: Pick<ArtifactStore, 'deleteArtifact'> = {
    deleteArtifact: async (key) => {
      writes.push(`deleteArtifact ${key}`);
    },
  };
  const audit: Pick<AuditLog, 'append'> = {
    append: async (record) => {
      writes.push(`audit ${record.action}`);
      return { ...record, seq: 1, prevHash: '', hash: '' } as never;
    },
  };
  const deps = {
    jobs,
    artifacts,
    audit,
    workflow: { startExport: async () => {} },
    now: () => now,
    newId: () => ID,
    ...(retention === undefined ? {} : { retention }),
  } as unknown as ExportOperationDeps;
  return { deps, writes };
}

describe('deleteExport under retention', () => {
  it('refuses while retention holds and writes nothing: no artifact delete, job change or audit entry', async () => {
    const { deps, writes } = fakeDeps(completed, new Date(end(COMPLIANCE) - 1), COMPLIANCE);
    await expect(deleteExport(deps, ID, admin)).rejects.toThrow(ArtifactRetainedError);
    expect(writes).toEqual([]);
  });

  it('deletes once retention has ended', async () => {
    const { deps, writes } = fakeDeps(completed, new Date(end(GOVERNANCE)), GOVERNANCE);
    await expect(deleteExport(deps, ID, admin)).resolves.toMatchObject({ id: ID, status: 'deleted' });
    expect(writes).toEqual([
      `deleteArtifact ${completed.artifactKey}`,
      'saveJob deleted',
      'audit export.deleted',
    ]);
  });

  it('deletes at once without a retention setting', async () => {
    const { deps, writes } = fakeDeps(completed, new Date(COMPLETED_AT));
    await expect(deleteExport(deps, ID, admin)).resolves.toMatchObject({ status: 'deleted' });
    expect(writes).toHaveLength(3);
  });

  it('marks a failed job deleted at once: it has no artifact, and its job and audit entries stay', async () => {
    const { deps, writes } = fakeDeps(failed, new Date(COMPLETED_AT), COMPLIANCE);
    await expect(deleteExport(deps, ID, admin)).resolves.toMatchObject({ status: 'deleted' });
    expect(writes).toEqual(['saveJob deleted', 'audit export.deleted']);
  });
});
