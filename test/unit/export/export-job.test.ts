import type { Principal } from '../../../functions/core/auth/token-record.ts';
import { ConflictError } from '../../../functions/core/errors.ts';
import { isExportId, newExportId } from '../../../functions/core/export/export-id.ts';
import {
  ALLOWED_TRANSITIONS,
  cancelJob,
  canTransition,
  completeJob,
  deleteJob,
  EXPORT_JOB_STATUSES,
  type ExportJob,
  type ExportJobResult,
  type ExportJobStatus,
  failJob,
  isTerminal,
  jobView,
  MAX_ERROR_REASON_CHARS,
  newExportJob,
  PUBLISH_CLAIM_MS,
  recordProgress,
  startJob,
} from '../../../functions/core/export/export-job.ts';
import type { ExportRequest } from '../../../functions/core/export/export-request.ts';

const ID = 'exp_0123456789abcdefghjk';
const principal: Principal = { tokenId: 'tok_0123456789ab', name: 'ci', scopes: ['exports:write'] };
const request: ExportRequest = {
  range: { from: '2026-04-16T00:00:00Z', to: '2026-04-23T23:59:59Z' },
  format: 'json',
  filters: {},
};
const T0 = new Date('2026-04-23T14:30:00Z');
const T1 = new Date('2026-04-23T14:30:01Z');
const T2 = new Date('2026-04-23T14:30:12Z');
const T3 = new Date('2026-05-01T09:00:00Z');
const SHA = 'a'.repeat(64);
const RESULT: ExportJobResult = {
  records: 1247,
  bytes: 2_411_724,
  sha256: SHA,
  artifactKey: `exports/${ID}/export.json`,
  recordsDigest: 'b'.repeat(64),
  manifestKey: `exports/${ID}/export.json.manifest.json`,
};

const queued = (): ExportJob => newExportJob(request, principal, T0, ID);
const running = (): ExportJob => startJob(queued(), T1);
const completed = (): ExportJob => completeJob(running(), RESULT, T2);
const failed = (): ExportJob => failJob(running(), 'DynamoDB throttled', 'ExportPage', T2);
const deleted = (): ExportJob => deleteJob(completed(), T3);
const cancelled = (): ExportJob => cancelJob(running(), T2);

function conflict(action: () => unknown): string {
  try {
    action();
  } catch (error) {
    if (error instanceof ConflictError) return error.message;
    throw error;
  }
  throw new Error('expected a ConflictError');
}

describe('newExportId / isExportId', () => {
  it('makes exp_ + 20 lowercase base32 characters', () => {
    const id = newExportId();
    expect(id).toMatch(/^exp_[0-9a-z]{20}$/);
    // Crockford's alphabet leaves out letters that read like digits (or like each other).
    expect(id.slice(4)).not.toMatch(/[ilou]/);
    expect(isExportId(id)).toBe(true);
  });

  it('does not repeat, and uses the whole alphabet', () => {
    const ids = new Set(Array.from({ length: 2000 }, () => newExportId()));
    expect(ids.size).toBe(2000);
    const chars = new Set([...ids].flatMap((id) => [...id.slice(4)]));
    expect([...chars].sort().join('')).toBe('0123456789abcdefghjkmnpqrstvwxyz');
  });

  it.each([
    ['exp_abc123', false],
    ['exp_0123456789abcdefghjk', true],
    ['exp_0123456789ABCDEFGHJK', false],
    ['exp_0123456789abcdefghj', false],
    ['exp_0123456789abcdefghjkm', false],
    ['exp_0123456789abcdefghiu', false],
    ['EXP_0123456789abcdefghjk', false],
    ['exp_0123456789abcdefghjk\n', false],
    ['evt_0123456789abcdefghjk', false],
    ['', false],
  ])('isExportId(%j) is %p', (value, expected) => {
    expect(isExportId(value)).toBe(expected);
  });

  it('is false for values that are not strings', () => {
    for (const value of [undefined, null, 1, {}, ['exp_0123456789abcdefghjk']])
      expect(isExportId(value)).toBe(false);
  });
});

describe('newExportJob', () => {
  it('creates a queued job with no progress, owned by the token', () => {
    expect(queued()).toEqual({
      id: ID,
      status: 'queued',
      format: 'json',
      range: { from: '2026-04-16T00:00:00Z', to: '2026-04-23T23:59:59Z' },
      filters: {},
      createdAt: '2026-04-23T14:30:00.000Z',
      createdBy: 'tok_0123456789ab',
      records: 0,
    });
    expect(Object.hasOwn(queued(), 'title')).toBe(false);
  });

  it('keeps the title and filters', () => {
    const job = newExportJob(
      {
        ...request,
        format: 'csv',
        title: 'Q2 2026',
        filters: { team: 'engineering', policy: 'pii-redaction' },
      },
      principal,
      T0,
      ID,
    );
    expect(job.title).toBe('Q2 2026');
    expect(job.format).toBe('csv');
    expect(job.filters).toEqual({ team: 'engineering', policy: 'pii-redaction' });
  });
});

describe('ALLOWED_TRANSITIONS', () => {
  it('is exactly the documented lifecycle', () => {
    expect(ALLOWED_TRANSITIONS).toEqual({
      queued: ['running', 'failed', 'cancelled'],
      running: ['completed', 'failed', 'cancelled'],
      completed: ['deleted'],
      failed: ['deleted'],
      cancelled: ['deleted'],
      deleted: [],
    });
  });

  it('agrees with canTransition for every pair', () => {
    const pairs = EXPORT_JOB_STATUSES.flatMap((from) => EXPORT_JOB_STATUSES.map((to) => `${from}->${to}`));
    const allowed = pairs.filter((pair) => {
      const [from, to] = pair.split('->') as [ExportJobStatus, ExportJobStatus];
      return canTransition(from, to);
    });
    expect(allowed).toEqual([
      'queued->running',
      'queued->failed',
      'queued->cancelled',
      'running->completed',
      'running->failed',
      'running->cancelled',
      'completed->deleted',
      'failed->deleted',
      'cancelled->deleted',
    ]);
  });
});

describe('isTerminal', () => {
  it.each([
    ['queued', false],
    ['running', false],
    ['completed', true],
    ['failed', true],
    ['cancelled', true],
    ['deleted', true],
  ] as const)('%s → %p', (status, expected) => {
    expect(isTerminal(status)).toBe(expected);
  });
});

describe('startJob', () => {
  it('queued → running, stamping startedAt', () => {
    const before = queued();
    const job = startJob(before, T1);
    expect(job).toEqual({ ...before, status: 'running', startedAt: '2026-04-23T14:30:01.000Z' });
    expect(before.status).toBe('queued');
    expect(before.startedAt).toBeUndefined();
  });

  it('refuses a running job', () => {
    expect(conflict(() => startJob(running(), T2))).toBe(
      `Export ${ID} cannot be started because it is running; only a queued export can be started.`,
    );
  });

  it('refuses a completed job', () => {
    expect(conflict(() => startJob(completed(), T3))).toBe(
      `Export ${ID} cannot be started because it is completed; only a queued export can be started.`,
    );
  });

  it('refuses a failed job (a retry is a new job)', () => {
    expect(conflict(() => startJob(failed(), T3))).toBe(
      `Export ${ID} cannot be started because it is failed; only a queued export can be started.`,
    );
  });

  it('refuses a deleted job', () => {
    expect(conflict(() => startJob(deleted(), T3))).toBe(
      `Export ${ID} cannot be started because it is deleted; only a queued export can be started.`,
    );
  });
});

describe('recordProgress', () => {
  it('sets the running count on a running job, allowing a repeat of the same count', () => {
    const job = recordProgress(running(), 500);
    expect(job.records).toBe(500);
    expect(job.status).toBe('running');
    expect(recordProgress(job, 500).records).toBe(500);
    expect(recordProgress(job, 1000).records).toBe(1000);
  });

  it('refuses to go backwards', () => {
    expect(conflict(() => recordProgress(recordProgress(running(), 500), 499))).toBe(
      `Export ${ID} has already written 500 records; progress cannot go back to 499.`,
    );
  });

  it.each([
    ['queued', queued],
    ['completed', completed],
    ['failed', failed],
    ['deleted', deleted],
  ] as const)('refuses a %s job', (status, make) => {
    expect(conflict(() => recordProgress(make(), 1))).toBe(
      `Export ${ID} is ${status}; progress can be recorded only while it is running.`,
    );
  });

  it('rejects counts that are not whole numbers of 0 or more as a bug', () => {
    for (const records of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => recordProgress(running(), records)).toThrow(
        new RangeError('records must be a whole number, 0 or more'),
      );
    }
  });
});

describe('completeJob', () => {
  it('running → completed with the result', () => {
    const before = recordProgress(running(), 1000);
    expect(completeJob(before, RESULT, T2)).toEqual({
      ...before,
      status: 'completed',
      records: 1247,
      bytes: 2_411_724,
      sha256: SHA,
      artifactKey: `exports/${ID}/export.json`,
      recordsDigest: 'b'.repeat(64),
      manifestKey: `exports/${ID}/export.json.manifest.json`,
      completedAt: '2026-04-23T14:30:12.000Z',
    });
    expect(before.status).toBe('running');
  });

  it('completes an empty export', () => {
    const job = completeJob(running(), { ...RESULT, records: 0, bytes: 2 }, T2);
    expect(job.records).toBe(0);
    expect(job.status).toBe('completed');
  });

  it('refuses a final count lower than the progress already recorded', () => {
    expect(conflict(() => completeJob(recordProgress(running(), 2000), RESULT, T2))).toBe(
      `Export ${ID} has already written 2000 records; it cannot complete with 1247.`,
    );
  });

  it('refuses a queued job', () => {
    expect(conflict(() => completeJob(queued(), RESULT, T2))).toBe(
      `Export ${ID} cannot be completed because it is queued; only a running export can be completed.`,
    );
  });

  it('refuses a completed job', () => {
    expect(conflict(() => completeJob(completed(), RESULT, T3))).toBe(
      `Export ${ID} cannot be completed because it is completed; only a running export can be completed.`,
    );
  });

  it('refuses a failed job', () => {
    expect(conflict(() => completeJob(failed(), RESULT, T3))).toBe(
      `Export ${ID} cannot be completed because it is failed; only a running export can be completed.`,
    );
  });

  it('refuses a deleted job', () => {
    expect(conflict(() => completeJob(deleted(), RESULT, T3))).toBe(
      `Export ${ID} cannot be completed because it is deleted; only a running export can be completed.`,
    );
  });

  it('rejects a malformed result as a bug', () => {
    expect(() => completeJob(running(), { ...RESULT, sha256: 'A'.repeat(64) }, T2)).toThrow(
      new RangeError('sha256 must be 64 lowercase hex digits'),
    );
    expect(() => completeJob(running(), { ...RESULT, sha256: 'a'.repeat(63) }, T2)).toThrow(RangeError);
    expect(() => completeJob(running(), { ...RESULT, bytes: -1 }, T2)).toThrow(
      new RangeError('bytes must be a whole number, 0 or more'),
    );
    expect(() => completeJob(running(), { ...RESULT, records: 0.5 }, T2)).toThrow(
      new RangeError('records must be a whole number, 0 or more'),
    );
    expect(() => completeJob(running(), { ...RESULT, artifactKey: '' }, T2)).toThrow(
      new RangeError('artifactKey must not be empty'),
    );
  });
});

describe('failJob', () => {
  it('running → failed with the reason, the state and the time it ended', () => {
    const before = recordProgress(running(), 300);
    expect(failJob(before, 'DynamoDB throttled', 'ExportPage', T2)).toEqual({
      ...before,
      status: 'failed',
      error: { reason: 'DynamoDB throttled', state: 'ExportPage' },
      completedAt: '2026-04-23T14:30:12.000Z',
    });
  });

  it('queued → failed, e.g. when the workflow could not be started', () => {
    const job = failJob(queued(), 'StartExecution was refused', undefined, T1);
    expect(job.status).toBe('failed');
    expect(job.error).toEqual({ reason: 'StartExecution was refused' });
    expect(Object.hasOwn(job.error!, 'state')).toBe(false);
    expect(job.startedAt).toBeUndefined();
  });

  it('omits an empty state and names an empty reason', () => {
    expect(failJob(running(), '  ', '', T2).error).toEqual({ reason: 'unknown error' });
  });

  it('shortens a very long reason to keep the job item small', () => {
    const reason = failJob(running(), 'x'.repeat(50_000), 'Finalize', T2).error!.reason;
    expect(reason).toHaveLength(MAX_ERROR_REASON_CHARS);
    expect(reason.endsWith('x…')).toBe(true);
    expect(failJob(running(), 'y'.repeat(MAX_ERROR_REASON_CHARS), 'Finalize', T2).error!.reason).toBe(
      'y'.repeat(MAX_ERROR_REASON_CHARS),
    );
  });

  it('refuses a completed job', () => {
    expect(conflict(() => failJob(completed(), 'late', 'RecordAudit', T3))).toBe(
      `Export ${ID} cannot be marked failed because it is completed; only a queued or running export can be marked failed.`,
    );
  });

  it('refuses a failed job', () => {
    expect(conflict(() => failJob(failed(), 'again', 'ExportPage', T3))).toBe(
      `Export ${ID} cannot be marked failed because it is failed; only a queued or running export can be marked failed.`,
    );
  });

  it('refuses a deleted job', () => {
    expect(conflict(() => failJob(deleted(), 'late', undefined, T3))).toBe(
      `Export ${ID} cannot be marked failed because it is deleted; only a queued or running export can be marked failed.`,
    );
  });
});

describe('deleteJob', () => {
  it('completed → deleted, keeping the evidence of what the artifact was', () => {
    const before = completed();
    expect(deleteJob(before, T3)).toEqual({
      ...before,
      status: 'deleted',
      deletedAt: '2026-05-01T09:00:00.000Z',
    });
  });

  it('failed → deleted, keeping the error', () => {
    const job = deleteJob(failed(), T3);
    expect(job.status).toBe('deleted');
    expect(job.error).toEqual({ reason: 'DynamoDB throttled', state: 'ExportPage' });
    expect(job.deletedAt).toBe('2026-05-01T09:00:00.000Z');
  });

  it('refuses a queued job', () => {
    expect(conflict(() => deleteJob(queued(), T3))).toBe(
      `Export ${ID} cannot be deleted because it is queued; only a completed, failed or cancelled export can be deleted.`,
    );
  });

  it('refuses a running job', () => {
    expect(conflict(() => deleteJob(running(), T3))).toBe(
      `Export ${ID} cannot be deleted because it is running; only a completed, failed or cancelled export can be deleted.`,
    );
  });

  it('refuses a deleted job', () => {
    expect(conflict(() => deleteJob(deleted(), T3))).toBe(
      `Export ${ID} cannot be deleted because it is deleted; only a completed, failed or cancelled export can be deleted.`,
    );
  });
});

describe('cancelJob', () => {
  it('queued → cancelled, with when', () => {
    const before = queued();
    expect(cancelJob(before, T2)).toEqual({ ...before, status: 'cancelled', cancelledAt: '2026-04-23T14:30:12.000Z' });
  });

  it('running → cancelled, keeping the checkpoint (it names the uploads to abort) and the records so far', () => {
    const checkpoint = {
      artifactKey: `exports/${ID}/${ID}.json`,
      uploadId: 'u1',
      parts: [{ partNumber: 1, etag: '"e1"' }],
      records: 300,
      bytes: 6_000_000,
      digest: { h: [], buffer: '', length: 0 },
      recordsDigest: { h: [], buffer: '', length: 0 },
      done: false,
    } as unknown as NonNullable<ExportJob['checkpoint']>;
    const job = cancelJob({ ...running(), records: 300, checkpoint }, T2);
    expect(job).toMatchObject({ status: 'cancelled', records: 300, checkpoint, cancelledAt: '2026-04-23T14:30:12.000Z' });
    expect(jobView(job)).toMatchObject({ status: 'cancelled', records: 300, cancelled: '2026-04-23T14:30:12.000Z' });
    expect(jobView(job).progress).toBeUndefined();
  });

  it('ends a pending delivery: there is nothing to deliver', () => {
    const delivery = { bucket: 'b', prefix: 'p/', location: 's3://b/p/', status: 'pending', attempts: 0 } as const;
    const job = cancelJob({ ...running(), delivery } as unknown as ExportJob, T2);
    expect(job.delivery).toMatchObject({
      status: 'failed',
      error: 'the export was cancelled, so there was nothing to deliver',
    });
  });

  it.each([
    ['completed', completed, `Export ${ID} is completed; only a queued or running export can be cancelled. To remove its artifact, delete it (kt export delete --id ${ID}).`],
    ['failed', failed, `Export ${ID} cannot be cancelled because it is failed; only a queued or running export can be cancelled.`],
    ['deleted', deleted, `Export ${ID} cannot be cancelled because it is deleted; only a queued or running export can be cancelled.`],
  ] as const)('refuses a %s job, naming its status', (_status, make, message) => {
    expect(conflict(() => cancelJob(make(), T3))).toBe(message);
  });

  it('refuses a running job whose Finalize claimed to publish, until the claim has lapsed', () => {
    const claimedAt = new Date('2026-04-23T14:30:20.000Z');
    const job = {
      ...running(),
      checkpoint: { publishing: claimedAt.toISOString() } as unknown as NonNullable<ExportJob['checkpoint']>,
    };
    expect(conflict(() => cancelJob(job, new Date(claimedAt.getTime() + PUBLISH_CLAIM_MS - 1)))).toBe(
      `Export ${ID} is running and already publishing its artifact (since 2026-04-23T14:30:20.000Z); it can no ` +
        `longer be cancelled. It completes in moments; delete it then (kt export delete --id ${ID}).`,
    );
    // Older than any Finalize invocation runs: the one that claimed is gone.
    expect(cancelJob(job, new Date(claimedAt.getTime() + PUBLISH_CLAIM_MS)).status).toBe('cancelled');
  });

  it('a cancelled job may be deleted (it has no artifact), and goes nowhere else', () => {
    expect(deleteJob(cancelled(), T3)).toMatchObject({ status: 'deleted', cancelledAt: '2026-04-23T14:30:12.000Z' });
    expect(() => startJob(cancelled(), T3)).toThrow(ConflictError);
    expect(() => completeJob(cancelled(), RESULT, T3)).toThrow(ConflictError);
    expect(() => failJob(cancelled(), 'late', 'ExportPage', T3)).toThrow(ConflictError);
    expect(() => recordProgress(cancelled(), 5)).toThrow(ConflictError);
  });
});

describe('transitions against the table', () => {
  const make: Record<ExportJobStatus, () => ExportJob> = { queued, running, completed, failed, cancelled, deleted };
  const moves: Record<Exclude<ExportJobStatus, 'queued'>, (job: ExportJob) => ExportJob> = {
    running: (job) => startJob(job, T3),
    completed: (job) => completeJob(job, RESULT, T3),
    failed: (job) => failJob(job, 'boom', undefined, T3),
    cancelled: (job) => cancelJob(job, T3),
    deleted: (job) => deleteJob(job, T3),
  };

  for (const from of EXPORT_JOB_STATUSES) {
    for (const [to, move] of Object.entries(moves)) {
      const legal = canTransition(from, to as ExportJobStatus);
      it(`${from} → ${to} is ${legal ? 'allowed' : 'refused'}`, () => {
        if (legal) expect(move(make[from]()).status).toBe(to);
        else expect(() => move(make[from]())).toThrow(ConflictError);
      });
    }
  }
});

describe('jobView', () => {
  it('shows a queued job with only the fields it has', () => {
    const view = jobView(queued());
    expect(view).toEqual({
      id: ID,
      status: 'queued',
      format: 'json',
      range: { from: '2026-04-16T00:00:00Z', to: '2026-04-23T23:59:59Z' },
      filters: {},
      records: 0,
      created: '2026-04-23T14:30:00.000Z',
    });
    expect(Object.keys(view)).toEqual(['id', 'status', 'format', 'range', 'filters', 'records', 'created']);
    expect(JSON.stringify(view)).not.toContain('undefined');
  });

  it('shows a completed job with its result but not its storage key or owner', () => {
    const job = completeJob(
      startJob(
        newExportJob(
          { ...request, title: 'Q2', filters: { team: 'engineering', policy: 'pii-redaction' } },
          principal,
          T0,
          ID,
        ),
        T1,
      ),
      RESULT,
      T2,
    );
    expect(jobView(job)).toEqual({
      id: ID,
      status: 'completed',
      format: 'json',
      title: 'Q2',
      range: { from: '2026-04-16T00:00:00Z', to: '2026-04-23T23:59:59Z' },
      filters: { team: 'engineering', policy: 'pii-redaction' },
      records: 1247,
      bytes: 2_411_724,
      sha256: SHA,
      recordsDigest: 'b'.repeat(64),
      manifest: { name: 'export.json.manifest.json', href: `/v1/exports/${ID}/manifest` },
      created: '2026-04-23T14:30:00.000Z',
      started: '2026-04-23T14:30:01.000Z',
      completed: '2026-04-23T14:30:12.000Z',
    });
    const json = JSON.stringify(jobView(job));
    expect(json).not.toContain('artifactKey');
    expect(json).not.toContain(RESULT.artifactKey);
    expect(json).not.toContain(RESULT.manifestKey);
    expect(json).not.toContain('tok_');
  });

  it('shows a failed job with its error', () => {
    expect(jobView(failed())).toEqual({
      id: ID,
      status: 'failed',
      format: 'json',
      range: { from: '2026-04-16T00:00:00Z', to: '2026-04-23T23:59:59Z' },
      filters: {},
      records: 0,
      created: '2026-04-23T14:30:00.000Z',
      started: '2026-04-23T14:30:01.000Z',
      completed: '2026-04-23T14:30:12.000Z',
      error: { reason: 'DynamoDB throttled', state: 'ExportPage' },
    });
    expect(jobView(failJob(queued(), 'refused', undefined, T1)).error).toEqual({ reason: 'refused' });
  });

  it('shows a deleted job with its deletion time and the digest it had', () => {
    const view = jobView(deleted());
    expect(view.status).toBe('deleted');
    expect(view.deleted).toBe('2026-05-01T09:00:00.000Z');
    expect(view.sha256).toBe(SHA);
    expect(view.records).toBe(1247);
  });

  it('shows running progress', () => {
    const view = jobView(recordProgress(running(), 640));
    expect(view).toMatchObject({ status: 'running', records: 640, started: '2026-04-23T14:30:01.000Z' });
    expect(Object.hasOwn(view, 'completed')).toBe(false);
    expect(Object.hasOwn(view, 'bytes')).toBe(false);
  });

  it('drops undefined filter values rather than writing them as keys', () => {
    const job: ExportJob = { ...queued(), filters: { team: undefined, policy: 'p' } as never };
    expect(Object.keys(jobView(job).filters)).toEqual(['policy']);
  });
});
