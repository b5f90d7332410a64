import type { AuditRecord } from '../../../functions/core/audit/audit-chain.ts';
import type { Principal } from '../../../functions/core/auth/token-record.ts';
import { ConflictError, DependencyError, ValidationError } from '../../../functions/core/errors.ts';
import { isExportId } from '../../../functions/core/export/export-id.ts';
import type { ExportJob } from '../../../functions/core/export/export-job.ts';
import type { ExportJobStore, Revisioned, ScheduleStore, ScheduleTrigger } from '../../../functions/core/ports.ts';
import type { ExportSchedule } from '../../../functions/core/schedules/schedule.ts';
import {
  createSchedule,
  fireSchedule,
  runScheduleNow,
  type ScheduleOperationDeps,
} from '../../../functions/core/schedules/schedule-operations.ts';
import { describeWindow, parseWindow, runRange, scheduledExportId } from '../../../functions/core/schedules/window.ts';

/** The schedule operations over in-memory stores with DynamoDB's conditional-write semantics. */

const ADMIN: Principal = { tokenId: 'tok_admin', name: 'admin', scopes: ['admin'] };
const NOW = new Date('2026-04-21T10:00:00Z');

class MemorySchedules implements ScheduleStore {
  readonly items = new Map<string, Revisioned<ExportSchedule>>();
  async createSchedule(schedule: ExportSchedule) {
    if (this.items.has(schedule.name)) throw new ConflictError('exists');
    this.items.set(schedule.name, { value: schedule, revision: 1 });
  }
  async getSchedule(name: string) {
    return this.items.get(name);
  }
  async saveSchedule(schedule: ExportSchedule, revision: number) {
    if (this.items.get(schedule.name)?.revision !== revision) throw new ConflictError('changed');
    this.items.set(schedule.name, { value: schedule, revision: revision + 1 });
    return revision + 1;
  }
  async deleteSchedule(name: string) {
    this.items.delete(name);
  }
  async listSchedules() {
    return [...this.items.values()].map((item) => item.value);
  }
  async countSchedules() {
    return this.items.size;
  }
}

class MemoryJobs implements Pick<ExportJobStore, 'createJob' | 'getJob'> {
  readonly jobs = new Map<string, ExportJob>();
  creates = 0;
  async createJob(job: ExportJob) {
    this.creates += 1;
    // Yield first, as a network write would: concurrent fires then race for real.
    await new Promise((resolve) => setImmediate(resolve));
    if (this.jobs.has(job.id)) throw new ConflictError(`Export ${job.id} already exists.`);
    this.jobs.set(job.id, job);
  }
  async getJob(id: string) {
    const job = this.jobs.get(id);
    return job === undefined ? undefined : { value: job, revision: 1 };
  }
}

function world(overrides: Partial<ScheduleOperationDeps> = {}) {
  const schedules = new MemorySchedules();
  const jobs = new MemoryJobs();
  const audit: AuditRecord[] = [];
  const started: string[] = [];
  const armed: string[] = [];
  const trigger: ScheduleTrigger = {
    putTrigger: async (s) => void armed.push(`${s.name}:${s.enabled}`),
    deleteTrigger: async (name) => void armed.push(`${name}:deleted`),
  };
  const deps: ScheduleOperationDeps = {
    schedules,
    trigger,
    jobs: jobs as unknown as ExportJobStore,
    audit: {
      append: async (record) => {
        audit.push(record);
        return { ...record, seq: audit.length, prevHash: '', hash: '' };
      },
      entries: async () => [],
      head: async () => undefined,
    },
    workflow: { startExport: async (id) => void started.push(id), stopExport: async () => undefined },
    now: () => NOW,
    ...overrides,
  };
  return { deps, schedules, jobs, audit, started, armed };
}

const weekly = { name: 'weekly', cron: '0 2 * * MON', window: '7d', format: 'json' };

describe('windows', () => {
  it('[T - w, T) as an inclusive nanosecond range: consecutive runs meet exactly', () => {
    const first = runRange(new Date('2026-04-20T02:00:00Z'), parseWindow('7d').ms);
    const second = runRange(new Date('2026-04-27T02:00:00Z'), parseWindow('7d').ms);
    expect(first).toEqual({ from: '2026-04-13T02:00:00Z', to: '2026-04-20T01:59:59.999999999Z' });
    expect(second.from).toBe('2026-04-20T02:00:00Z');
  });

  it.each([
    ['24h', 86_400_000, '24 hours'],
    ['1d', 86_400_000, '1 day'],
    ['2w', 14 * 86_400_000, '2 weeks'],
  ])('%s', (text, ms, words) => {
    expect(parseWindow(text).ms).toBe(ms);
    expect(describeWindow(text)).toBe(words);
  });

  it('the run id is a valid export id, the same for the same (schedule, T) and different otherwise', () => {
    const t = new Date('2026-04-20T02:00:00Z');
    const id = scheduledExportId('weekly', t);
    expect(isExportId(id)).toBe(true);
    expect(scheduledExportId('weekly', new Date(t))).toBe(id);
    expect(scheduledExportId('weekly', new Date('2026-04-27T02:00:00Z'))).not.toBe(id);
    expect(scheduledExportId('weekly2', t)).not.toBe(id);
    // The same name made again later: its runs are not the old schedule's.
    expect(scheduledExportId('weekly', t, '2026-05-01T00:00:00.000Z')).not.toBe(scheduledExportId('weekly', t, '2026-04-01T00:00:00.000Z'));
  });
});

describe('createSchedule', () => {
  it('refuses a schedule beyond the deployment limit with a 409 that says what to do', async () => {
    const { deps, schedules } = world({ maxSchedules: 1 });
    await createSchedule(deps, weekly, ADMIN);
    await expect(createSchedule(deps, { ...weekly, name: 'second' }, ADMIN)).rejects.toThrow(
      'This deployment already has 1 schedules and allows at most 1 (MAX_SCHEDULES); delete one (kt export schedule delete --name <name>) before adding another.',
    );
    expect(schedules.items.size).toBe(1);
  });

  it('takes the stored schedule back when the trigger cannot be armed, and audits nothing', async () => {
    const { deps, schedules, audit } = world();
    const failing = world({
      schedules: deps.schedules,
      trigger: { putTrigger: () => Promise.reject(new Error('throttled')), deleteTrigger: async () => {} },
    });
    await expect(createSchedule(failing.deps, weekly, ADMIN)).rejects.toBeInstanceOf(DependencyError);
    expect(schedules.items.size).toBe(0);
    expect(audit).toEqual([]);
  });

  it('reports every problem of the body at once', async () => {
    const { deps } = world();
    const error = await createSchedule(deps, { name: '', cron: '0 2 1 * MON', window: '0d', format: 'xml' }, ADMIN).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).issues.map((i) => i.field).sort()).toEqual(['cron', 'format', 'name', 'window']);
  });
});

describe('runs', () => {
  it('a duplicate fire for the same T, even concurrent, creates one job and starts it', async () => {
    const { deps, jobs, started, audit } = world();
    await createSchedule(deps, weekly, ADMIN);
    const t = new Date('2026-04-20T02:00:00Z');
    const results = await Promise.all([fireSchedule(deps, 'weekly', t), fireSchedule(deps, 'weekly', t)]);
    expect(results[0]!.job.id).toBe(results[1]!.job.id);
    expect(results.filter((r) => r!.created)).toHaveLength(1);
    expect(jobs.jobs.size).toBe(1);
    expect(audit.filter((r) => r.action === 'export.created')).toHaveLength(1);
    // The losing fire found the job still queued and started it again (starting twice is safe).
    expect(new Set(started)).toEqual(new Set([results[0]!.job.id]));
    const job = [...jobs.jobs.values()][0]!;
    expect(job).toMatchObject({
      schedule: 'weekly',
      createdBy: 'scheduler',
      range: { from: '2026-04-13T02:00:00Z', to: '2026-04-20T01:59:59.999999999Z' },
    });
  });

  it('a retry after the workflow failed to start starts it (the job stays queued meanwhile)', async () => {
    let fail = true;
    const { deps, started, jobs } = world({
      workflow: {
        startExport: async (id) => {
          if (fail) throw new Error('sfn down');
          started.push(id);
        },
        stopExport: async () => undefined,
      },
    });
    await createSchedule(deps, weekly, ADMIN);
    const t = new Date('2026-04-20T02:00:00Z');
    await expect(fireSchedule(deps, 'weekly', t)).rejects.toBeInstanceOf(DependencyError);
    fail = false;
    const retried = await fireSchedule(deps, 'weekly', t);
    expect(retried!.created).toBe(false);
    expect(started).toEqual([retried!.job.id]);
    expect(jobs.jobs.size).toBe(1);
  });

  it('run --at backfills a past T, refuses the future, and records the latest T as the last run', async () => {
    const { deps, schedules } = world();
    await createSchedule(deps, weekly, ADMIN);
    await runScheduleNow(deps, 'weekly', { at: '2026-04-20T02:00:00Z' }, ADMIN);
    await runScheduleNow(deps, 'weekly', { at: '2026-04-13T02:00:00Z' }, ADMIN);
    expect(schedules.items.get('weekly')!.value.lastRun?.scheduledAt).toBe('2026-04-20T02:00:00.000Z');
    await expect(runScheduleNow(deps, 'weekly', { at: '2026-04-27T02:00:00Z' }, ADMIN)).rejects.toThrow(/future/);
  });

  it('a fire for a paused schedule runs nothing', async () => {
    const { deps, schedules, jobs } = world();
    await createSchedule(deps, weekly, ADMIN);
    const stored = schedules.items.get('weekly')!;
    schedules.items.set('weekly', { ...stored, value: { ...stored.value, state: 'paused' } });
    expect(await fireSchedule(deps, 'weekly', new Date('2026-04-20T02:00:00Z'))).toBeUndefined();
    expect(jobs.creates).toBe(0);
  });
});
