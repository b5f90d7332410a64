import type { AuditEntry, AuditRecord } from '../../../functions/core/audit/audit-chain.ts';
import type { Principal } from '../../../functions/core/auth/token-record.ts';
import { ResumableSha256 } from '../../../functions/core/digest/resumable-sha256.ts';
import {
  ConflictError,
  DependencyError,
  ForbiddenError,
  NotFoundError,
} from '../../../functions/core/errors.ts';
import type { ExportCheckpoint } from '../../../functions/core/export/export-checkpoint.ts';
import {
  completeJob,
  deleteJob,
  type ExportJob,
  failJob,
  newExportJob,
  PUBLISH_CLAIM_MS,
  startJob,
} from '../../../functions/core/export/export-job.ts';
import { cancelExport } from '../../../functions/core/export/operations/cancel-export.ts';
import type { ExportOperationDeps } from '../../../functions/core/export/operations/operation-deps.ts';
import {
  ExportCancelledError,
  unlessCancelled,
} from '../../../functions/core/export/workflow/cancelled-export.ts';
import { markExportFailed } from '../../../functions/core/export/workflow/mark-export-failed.ts';
import type { ExportWorkflowDeps } from '../../../functions/core/export/workflow/workflow-deps.ts';
import type { ExportJobStore, Revisioned, RunningExportSlots } from '../../../functions/core/ports.ts';
import { rejection } from '../../support/rejection.ts';

/**
 * POST /v1/exports/{id}/cancel as a core operation, over in-memory stores that log every call in
 * order: what it refuses (writing nothing), the order of its writes, its repeat, its races with
 * the workflow's own saves; and how a workflow step that finds its job cancelled stops.
 */

const ID = 'exp_0123456789abcdefghjk';
const OWNER: Principal = { tokenId: 'tok_owner0000000', name: 'owner', scopes: ['exports:write'] };
const TEAM_TOKEN: Principal = { ...OWNER, tokenId: 'tok_team00000000', team: 'engineering' };
const CREATED = new Date('2026-04-23T14:30:00.000Z');
const NOW = new Date('2026-04-23T14:31:00.000Z');
const SHA = 'a'.repeat(64);

const queued = (team?: string): ExportJob =>
  newExportJob(
    {
      range: { from: '2026-04-16T00:00:00Z', to: '2026-04-23T23:59:59Z' },
      format: 'pdf',
      filters: team === undefined ? {} : { team },
    },
    OWNER,
    CREATED,
    ID,
  );

function checkpoint(overrides: Partial<ExportCheckpoint> = {}): ExportCheckpoint {
  return {
    artifactKey: `exports/${ID}/${ID}.csv`,
    uploadId: 'rows-upload',
    parts: [{ partNumber: 1, etag: '"e1"' }],
    records: 300,
    bytes: 6_000_000,
    digest: new ResumableSha256().toState(),
    recordsDigest: new ResumableSha256().toState(),
    done: true,
    ...overrides,
  };
}

const running = (overrides: Partial<ExportCheckpoint> = {}): ExportJob => ({
  ...startJob(queued(), CREATED),
  records: 300,
  checkpoint: checkpoint(overrides),
});

/** The job store in memory: revisions and the status condition of the DynamoDB store. */
class MemoryJobs implements Pick<ExportJobStore, 'getJob' | 'saveJob'> {
  revision = 1;
  /** Runs before each save, as a workflow step saving in between would. */
  beforeSave: (() => void) | undefined;

  constructor(
    public job: ExportJob,
    private readonly log: string[],
  ) {}

  async getJob(id: string): Promise<Revisioned<ExportJob> | undefined> {
    return id === this.job.id ? { value: structuredClone(this.job), revision: this.revision } : undefined;
  }

  async saveJob(job: ExportJob, revision: number): Promise<number> {
    const hook = this.beforeSave;
    this.beforeSave = undefined;
    hook?.();
    const keepsCancelled = job.status === 'cancelled' || job.status === 'deleted';
    if (revision !== this.revision || (this.job.status === 'cancelled' && !keepsCancelled)) {
      throw new ConflictError(`Export ${job.id} was changed by another writer; read it again.`);
    }
    this.log.push(`save ${job.status}`);
    this.job = structuredClone(job);
    this.revision += 1;
    return this.revision;
  }

  /** A workflow step's save, outside the operation under test. */
  stepSaves(job: ExportJob): void {
    this.job = job;
    this.revision += 1;
  }
}

function world(job: ExportJob, options: { stop?: () => Promise<void> } = {}) {
  const log: string[] = [];
  const jobs = new MemoryJobs(job, log);
  const entries: AuditEntry[] = [];
  const slots: Pick<RunningExportSlots, 'releaseSlot'> = {
    releaseSlot: async (owner, exportId) => void log.push(`release ${owner} ${exportId}`),
  };
  const deps = {
    jobs,
    artifacts: {
      abortUpload: async (key: string, uploadId: string) => void log.push(`abort ${key} ${uploadId}`),
      deleteArtifact: async (key: string) => void log.push(`delete ${key}`),
    },
    audit: {
      append: async (record: AuditRecord) => {
        log.push(`audit ${record.action}`);
        const entry = { ...record, seq: entries.length + 1, prevHash: '', hash: '' } as AuditEntry;
        entries.push(entry);
        return entry;
      },
      entries: async ({ subject }: { subject?: string } = {}) => entries.filter((e) => e.subject === subject),
      head: async () => undefined,
    },
    workflow: {
      startExport: async () => undefined,
      stopExport: async (id: string) => {
        log.push(`stop ${id}`);
        await options.stop?.();
      },
    },
    now: () => NOW,
    newId: () => ID,
    runningExports: { slots, max: 5 },
  } as unknown as ExportOperationDeps;
  return { deps, jobs, log, entries };
}

describe('cancelExport', () => {
  it('cancels a queued export: marks it, stops its execution, frees its slot, then audits who', async () => {
    const { deps, jobs, log, entries } = world(queued());
    const view = await cancelExport(deps, ID, OWNER);
    expect(view).toMatchObject({ id: ID, status: 'cancelled', cancelled: NOW.toISOString(), records: 0 });
    expect(log).toEqual([
      'save cancelled',
      `stop ${ID}`,
      `release ${OWNER.tokenId} ${ID}`,
      'audit export.cancelled',
    ]);
    expect(entries).toEqual([
      expect.objectContaining({
        action: 'export.cancelled',
        subject: ID,
        actor: OWNER.tokenId,
        at: NOW.toISOString(),
        details: { status: 'queued', records: 0 },
      }),
    ]);
    expect(jobs.job.status).toBe('cancelled');
  });

  it('cancels a running export and aborts the uploads its checkpoint names (a PDF job has two), after the stop', async () => {
    const job = running({ report: { artifactKey: `exports/${ID}/${ID}.pdf`, uploadId: 'report-upload', done: false } });
    const { deps, log, entries } = world(job);
    await cancelExport(deps, ID, OWNER);
    expect(log).toEqual([
      'save cancelled',
      `stop ${ID}`,
      `abort exports/${ID}/${ID}.csv rows-upload`,
      `abort exports/${ID}/${ID}.pdf report-upload`,
      `release ${OWNER.tokenId} ${ID}`,
      'audit export.cancelled',
    ]);
    expect(entries[0]?.details).toEqual({ status: 'running', records: 300 });
  });

  it.each([
    ['completed', () => completeJob(running(), completion(), NOW), 'is completed'],
    ['failed', () => failJob(running(), 'boom', 'ExportPage', NOW), 'because it is failed'],
    ['deleted', () => deleteJob(failJob(running(), 'boom', 'ExportPage', NOW), NOW), 'because it is deleted'],
  ] as const)('refuses a %s export with a 409 naming its status, writing nothing', async (_status, make, words) => {
    const { deps, log } = world(make());
    const error = await rejection(cancelExport(deps, ID, OWNER), ConflictError);
    expect(error.message).toContain(words);
    expect(error.message).toContain('only a queued or running export can be cancelled');
    expect(log).toEqual([]);
  });

  it('answers a cancelled export again without a second save or audit entry, finishing what is left', async () => {
    const { deps, log, entries } = world(queued());
    const first = await cancelExport(deps, ID, OWNER);
    log.length = 0;
    const again = await cancelExport(deps, ID, OWNER);
    expect(again).toEqual(first);
    // Stop and release are safe to repeat; the entry is there already.
    expect(log).toEqual([`stop ${ID}`, `release ${OWNER.tokenId} ${ID}`]);
    expect(entries).toHaveLength(1);
  });

  it('a repeat appends the entry an interrupted first request did not', async () => {
    const { deps, jobs, log, entries } = world(queued());
    // The first request saved the cancellation and then stopped.
    jobs.stepSaves({ ...queued(), status: 'cancelled', cancelledAt: CREATED.toISOString() });
    await cancelExport(deps, ID, OWNER);
    expect(log).toEqual([`stop ${ID}`, `release ${OWNER.tokenId} ${ID}`, 'audit export.cancelled']);
    expect(entries[0]).toMatchObject({ at: CREATED.toISOString(), details: { records: 0 } });
  });

  it('decides again when a workflow step saves in between (ExportPage saves after every part)', async () => {
    const { deps, jobs, log } = world(queued());
    jobs.beforeSave = () => jobs.stepSaves(running());
    const view = await cancelExport(deps, ID, OWNER);
    expect(view.status).toBe('cancelled');
    // The second decision saw the running job and its upload.
    expect(log).toContain(`abort exports/${ID}/${ID}.csv rows-upload`);
    expect(log.filter((line) => line.startsWith('save'))).toEqual(['save cancelled']);
  });

  it('refuses, writing nothing, when the export completed in between', async () => {
    const { deps, jobs, log } = world(running());
    jobs.beforeSave = () => jobs.stepSaves(completeJob(running(), completion(), NOW));
    const error = await rejection(cancelExport(deps, ID, OWNER), ConflictError);
    expect(error.message).toContain('is completed');
    expect(log).toEqual([]);
  });

  it('refuses while Finalize holds its claim to publish, and cancels once the claim has lapsed', async () => {
    const claimed = new Date(NOW.getTime() - PUBLISH_CLAIM_MS + 1000).toISOString();
    const fresh = world(running({ publishing: claimed }));
    const error = await rejection(cancelExport(fresh.deps, ID, OWNER), ConflictError);
    expect(error.message).toContain('already publishing its artifact');
    expect(fresh.log).toEqual([]);

    // A lapsed claim: the Finalize that made it is gone and may have published; that goes too.
    const lapsed = new Date(NOW.getTime() - PUBLISH_CLAIM_MS).toISOString();
    const stale = world(running({ publishing: lapsed }));
    await cancelExport(stale.deps, ID, OWNER);
    expect(stale.log).toEqual([
      'save cancelled',
      `stop ${ID}`,
      `abort exports/${ID}/${ID}.csv rows-upload`,
      `delete exports/${ID}/${ID}.csv`,
      `delete exports/${ID}/${ID}.csv.manifest.json`,
      `release ${OWNER.tokenId} ${ID}`,
      'audit export.cancelled',
    ]);
  });

  it('when the execution cannot be stopped: the export is cancelled and audited, and the answer says to retry', async () => {
    const { deps, jobs, log } = world(queued(), {
      stop: () => Promise.reject(new DependencyError('Stopping the export workflow of exp_… failed.')),
    });
    const error = await rejection(cancelExport(deps, ID, OWNER), DependencyError);
    expect(error.message).toBe(
      `Export ${ID} is cancelled, but its workflow could not be stopped (Stopping the export workflow of exp_… failed.); ` +
        'it stops at its next step. Cancel it again to retry.',
    );
    expect(jobs.job.status).toBe('cancelled');
    expect(log).toEqual(['save cancelled', `stop ${ID}`, `release ${OWNER.tokenId} ${ID}`, 'audit export.cancelled']);
  });

  it('needs exports:write, and hides other teams\u2019 exports from a team token (404), writing nothing', async () => {
    const reader = world(queued());
    await rejection(cancelExport(reader.deps, ID, { ...OWNER, scopes: ['exports:read'] }), ForbiddenError);
    expect(reader.log).toEqual([]);

    const other = world(queued('support'));
    await rejection(cancelExport(other.deps, ID, TEAM_TOKEN), NotFoundError);
    expect(other.log).toEqual([]);

    const own = world(queued('engineering'));
    expect((await cancelExport(own.deps, ID, TEAM_TOKEN)).status).toBe('cancelled');
    expect(own.entries[0]?.actor).toBe(TEAM_TOKEN.tokenId);
  });

  it('answers 404 for an id that cannot be an export, or an export that does not exist', async () => {
    const { deps, log } = world(queued());
    await rejection(cancelExport(deps, 'exp_nope', OWNER), NotFoundError);
    await rejection(cancelExport(deps, 'exp_zzzzzzzzzzzzzzzzzzzz', OWNER), NotFoundError);
    expect(log).toEqual([]);
  });
});

describe('a workflow step that finds its export cancelled', () => {
  const stepWorld = (job: ExportJob) => {
    const log: string[] = [];
    const jobs = new MemoryJobs(job, log);
    const deps = {
      jobs,
      artifacts: { abortUpload: async (key: string, id: string) => void log.push(`abort ${key} ${id}`) },
      runningExportSlots: { releaseSlot: async (owner: string, id: string) => void log.push(`release ${owner} ${id}`) },
      audit: { append: async (record: AuditRecord) => void log.push(`audit ${record.action}`) },
      now: () => NOW,
    } as unknown as ExportWorkflowDeps;
    return { deps, jobs, log };
  };

  it('stops with ExportCancelledError, aborting the uploads again when it uploads parts', async () => {
    const { deps, jobs, log } = stepWorld(running());
    jobs.stepSaves({ ...running(), status: 'cancelled', cancelledAt: NOW.toISOString() });
    const lost = new ConflictError(`Export ${ID} was changed by another writer; read it again.`);
    const error = await rejection(
      unlessCancelled(deps, ID, 'ExportPage', () => Promise.reject(lost), { abortUploads: true }),
      ExportCancelledError,
    );
    expect(error.message).toBe(`Export ${ID} was cancelled; ExportPage stopped and published nothing.`);
    expect(error.cause).toBe(lost);
    expect(log).toEqual([`abort exports/${ID}/${ID}.csv rows-upload`]);

    log.length = 0;
    await rejection(
      unlessCancelled(deps, ID, 'Finalize', () => Promise.reject(lost), { abortUploads: false }),
      ExportCancelledError,
    );
    expect(log).toEqual([]);
  });

  it('passes any other failure on as it was, and a success too', async () => {
    const { deps } = stepWorld(running());
    const boom = new DependencyError('S3 is down');
    const error = await rejection(
      unlessCancelled(deps, ID, 'ExportPage', () => Promise.reject(boom), { abortUploads: true }),
      DependencyError,
    );
    expect(error).toBe(boom);
    await expect(unlessCancelled(deps, ID, 'ExportPage', async () => 'ok', { abortUploads: true })).resolves.toBe('ok');
  });

  it('MarkFailed keeps a cancelled export cancelled: aborts, frees the slot, appends no export.failed', async () => {
    const { deps, jobs, log } = stepWorld(running());
    jobs.stepSaves({ ...running(), status: 'cancelled', cancelledAt: NOW.toISOString() });
    await markExportFailed(deps, ID, { Error: 'ExportCancelledError', Cause: 'cancelled' });
    expect(jobs.job.status).toBe('cancelled');
    expect(log).toEqual([`abort exports/${ID}/${ID}.csv rows-upload`, `release ${OWNER.tokenId} ${ID}`]);
  });
});

function completion() {
  return {
    records: 300,
    bytes: 6_000_000,
    sha256: SHA,
    artifactKey: `exports/${ID}/${ID}.pdf`,
    recordsDigest: SHA,
    manifestKey: `exports/${ID}/${ID}.pdf.manifest.json`,
  };
}
