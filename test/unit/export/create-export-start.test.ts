import type { AuditEntry, AuditRecord } from '../../../functions/core/audit/audit-chain.ts';
import type { Principal } from '../../../functions/core/auth/token-record.ts';
import { ConflictError, DependencyError } from '../../../functions/core/errors.ts';
import type { ExportJob } from '../../../functions/core/export/export-job.ts';
import { createExport } from '../../../functions/core/export/operations/create-export.ts';
import type { ExportOperationDeps } from '../../../functions/core/export/operations/operation-deps.ts';
import type {
  ExportJobStore,
  IdempotencyClaim,
  Revisioned,
  RunningExportSlot,
  RunningExportSlots,
} from '../../../functions/core/ports.ts';
import { rejection } from '../../support/rejection.ts';

/**
 * POST /v1/exports as a core operation when what follows storing the job fails: the audit append
 * of `export.created`, or the workflow's start. Either way the job must not stay queued (it would
 * hold its running-export slot, and a repeat of the request would return it, never to run).
 */

const ID = 'exp_0123456789abcdefghjk';
const OWNER: Principal = { tokenId: 'tok_owner0000000', name: 'owner', scopes: ['exports:write'] };
const NOW = new Date('2026-04-23T14:30:00.000Z');
const BODY = { from: '2026-04-16T00:00:00Z', to: '2026-04-23T23:59:59Z', format: 'csv' };

class MemoryJobs
  implements
    Pick<ExportJobStore, 'createJob' | 'getJob' | 'saveJob' | 'claimIdempotencyKey' | 'findIdempotencyKey'>
{
  readonly jobs = new Map<string, Revisioned<ExportJob>>();
  readonly keys = new Map<string, IdempotencyClaim>();
  failSaves = false;

  async createJob(job: ExportJob): Promise<void> {
    this.jobs.set(job.id, { value: structuredClone(job), revision: 1 });
  }
  async getJob(id: string): Promise<Revisioned<ExportJob> | undefined> {
    return structuredClone(this.jobs.get(id));
  }
  async saveJob(job: ExportJob, revision: number): Promise<number> {
    if (this.failSaves) throw new DependencyError('the job store is down');
    const stored = this.jobs.get(job.id);
    if (stored?.revision !== revision) throw new ConflictError('changed by another writer');
    this.jobs.set(job.id, { value: structuredClone(job), revision: revision + 1 });
    return revision + 1;
  }
  async claimIdempotencyKey(claim: IdempotencyClaim): Promise<IdempotencyClaim | undefined> {
    const earlier = this.keys.get(`${claim.scope}\n${claim.key}`);
    if (earlier === undefined) this.keys.set(`${claim.scope}\n${claim.key}`, claim);
    return earlier;
  }
  async findIdempotencyKey(scope: string, key: string): Promise<IdempotencyClaim | undefined> {
    return this.keys.get(`${scope}\n${key}`);
  }
}

function world(fail: { audit?: string; start?: boolean }) {
  const jobs = new MemoryJobs();
  const entries: AuditRecord[] = [];
  const slots = new Map<string, RunningExportSlot>();
  const slotStore: RunningExportSlots = {
    takenSlots: async () => [...slots.values()],
    claimSlot: async (_owner, slot) => {
      if ([...slots.values()].some((s) => s.index === slot.index)) return false;
      slots.set(slot.exportId, slot);
      return true;
    },
    releaseSlot: async (_owner, exportId) => void slots.delete(exportId),
  };
  const started: string[] = [];
  const deps = {
    jobs,
    audit: {
      append: async (record: AuditRecord) => {
        if (record.action === fail.audit) throw new DependencyError('the audit trail is down');
        entries.push(record);
        return { ...record, seq: entries.length, prevHash: '', hash: '' } as AuditEntry;
      },
    },
    workflow: {
      startExport: async (id: string) => {
        if (fail.start) throw new Error('StartExecution: service unavailable');
        started.push(id);
      },
    },
    now: () => NOW,
    newId: () => ID,
    runningExports: { slots: slotStore, max: 5 },
  } as unknown as ExportOperationDeps;
  return { deps, jobs, entries, slots, started };
}

describe('createExport when the steps after storing the job fail', () => {
  it('creates, audits and starts when nothing fails', async () => {
    const { deps, jobs, entries, slots, started } = world({});
    const { job, created } = await createExport(deps, BODY, OWNER);
    expect([job.status, created]).toEqual(['queued', true]);
    expect(entries.map((e) => e.action)).toEqual(['export.created']);
    expect(started).toEqual([ID]);
    expect((await jobs.getJob(ID))?.value.status).toBe('queued');
    expect([...slots.keys()]).toEqual([ID]);
  });

  it('fails the job and frees its slot when the workflow cannot start, and audits both', async () => {
    const { deps, jobs, entries, slots } = world({ start: true });
    const error = await rejection(createExport(deps, BODY, OWNER), DependencyError);
    expect(error.message).toBe(`Export ${ID} could not be started; it is marked failed. Create it again.`);
    expect((await jobs.getJob(ID))?.value).toMatchObject({ status: 'failed', error: { state: 'Start' } });
    expect(slots.size).toBe(0);
    expect(entries.map((e) => e.action)).toEqual(['export.created', 'export.failed']);
  });

  it('fails the job and frees its slot when export.created cannot be audited, and starts nothing', async () => {
    const { deps, jobs, entries, slots, started } = world({ audit: 'export.created' });
    const error = await rejection(createExport(deps, BODY, OWNER, 'key-1'), DependencyError);
    expect(error.message).toBe(
      `Export ${ID} could not be recorded in the audit trail; it is marked failed. Create it again.`,
    );
    expect((await jobs.getJob(ID))?.value.status).toBe('failed');
    expect(slots.size).toBe(0);
    expect(started).toEqual([]);
    // The trail never recorded the export, so it records no failure of it either.
    expect(entries).toEqual([]);
    // A repeat with the key answers the failed job: it does not wait forever on a queued one.
    const repeat = await createExport(deps, BODY, OWNER, 'key-1');
    expect([repeat.job.status, repeat.created]).toEqual(['failed', false]);
  });

  it('says so when marking the job failed does not work either', async () => {
    const { deps, jobs } = world({ start: true });
    jobs.failSaves = true;
    const error = await rejection(createExport(deps, BODY, OWNER), DependencyError);
    expect(error.message).toBe(
      `Export ${ID} could not be started; marking it failed did not complete either. Create it again.`,
    );
    expect((error as Error).cause).toEqual(new Error('StartExecution: service unavailable'));
  });
});
