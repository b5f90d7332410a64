import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { AuditEntry } from '../../functions/core/audit/audit-chain.ts';
import { generateToken, newTokenRecord } from '../../functions/core/auth/tokens.ts';
import type { Scope } from '../../functions/core/auth/token-record.ts';
import type { ExportJobView } from '../../functions/core/export/export-job.ts';
import type { ScheduleView } from '../../functions/core/schedules/schedule.ts';
import { type LocalStack, startLocalStack } from '../../infra/local/local-stack.ts';
import { NO_RETRY_WAIT, testStackConfig } from '../support/local-stack-config.ts';
import { type CallOptions, callApi, problem } from '../support/call-api.ts';

/**
 * /v1/export-schedules over real HTTP through the local stack (authorizer, API and scheduled
 * handlers, the local Step Functions runner, dynalite, s3rver). The exactly-once property is
 * checked on events placed exactly on window boundaries; expectations are computed here, in
 * nanoseconds, never read back from the code under test.
 */

const DAY = ['2026-04-01', '2026-04-02', '2026-04-03', '2026-04-04'];
const BOUNDARIES = DAY.map((day) => `${day}T00:00:00Z`);

interface TestEvent {
  readonly id: string;
  readonly timestamp: string;
  readonly [field: string]: unknown;
}

const event = (id: string, timestamp: string, team = 'engineering'): TestEvent => ({
  id,
  timestamp,
  model: 'gpt-4o-mini',
  policy: 'pii-redaction',
  action: 'redact',
  result: 'modified',
  tokens: 10,
  latency_ms: 5,
  team,
});

/** On every boundary B: B - 1 ns, B and B + 1 ns; and one event inside each day. */
const EVENTS: TestEvent[] = DAY.flatMap((day, i) => [
  event(`evt_before${i}`, `${day === '2026-04-01' ? '2026-03-31' : DAY[i - 1]}T23:59:59.999999999Z`),
  event(`evt_on${i}`, `${day}T00:00:00Z`),
  event(`evt_after${i}`, `${day}T00:00:00.000000001Z`),
  event(`evt_mid${i}`, `${day}T12:00:00.5Z`, i % 2 === 0 ? 'engineering' : 'support'),
]);

/** An instant in nanoseconds since the epoch, from its text. */
function ns(timestamp: string): bigint {
  const fraction = /\.(\d+)Z$/.exec(timestamp)?.[1] ?? '';
  return BigInt(Date.parse(`${timestamp.slice(0, 19)}Z`)) * 1_000_000n + BigInt(fraction.padEnd(9, '0'));
}

let stack: LocalStack;
let dataDir: string;
const failures: string[] = [];

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(tmpdir(), 'kt-schedules-api-'));
  stack = await startLocalStack(testStackConfig(dataDir), {
    retryIntervalOverrides: NO_RETRY_WAIT,
    onExportFailed: (id, error) => failures.push(`${id}: ${String(error)}`),
    onScheduleError: (name, error) => failures.push(`schedule ${name}: ${String(error)}`),
  });
  const response = await call('POST', '/v1/events', { body: { events: EVENTS } });
  expect(response.status).toBe(200);
}, 60_000);

afterAll(async () => {
  await stack?.workflow.idle();
  await stack?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

afterEach(() => expect(failures).toEqual([]));

const call = (method: string, route: string, options: CallOptions = {}) =>
  callApi(stack, method, route, options);

async function addToken(scopes: Scope[], team?: string): Promise<string> {
  const token = generateToken();
  await stack.adapters.tokenStore.putToken(
    newTokenRecord(token, {
      name: `test ${scopes.join(' ')}`,
      scopes,
      ...(team === undefined ? {} : { team }),
    }),
  );
  return token;
}

async function finished(id: string): Promise<ExportJobView> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const job = (await (await call('GET', `/v1/exports/${id}`)).json()) as ExportJobView;
    if (job.status !== 'queued' && job.status !== 'running') return job;
    if (Date.now() > deadline) throw new Error(`export ${id} still ${job.status}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function exportedIds(id: string): Promise<string[]> {
  const link = (await (await call('GET', `/v1/exports/${id}/download`)).json()) as { url: string };
  const artifact = (await (await fetch(link.url)).json()) as { events: { id: string }[]; summary: unknown };
  return artifact.events.map((e) => e.id);
}

async function auditOf(subject: string): Promise<AuditEntry[]> {
  return [...(await stack.adapters.auditLog.entries({ subject }))];
}

const daily = (name: string, extra: Record<string, unknown> = {}) => ({
  name,
  cron: '0 0 * * *',
  window: '1d',
  format: 'json',
  ...extra,
});

describe('POST /v1/export-schedules', () => {
  it('creates the tutorial schedule: 201 with its words, next run and delivery; audited', async () => {
    const response = await call('POST', '/v1/export-schedules', {
      body: {
        name: 'weekly-compliance',
        cron: '0 2 * * MON',
        window: '7d',
        format: 'json',
        delivery: { s3Bucket: 'compliance-artifacts', s3Prefix: 'keeptrusts/weekly/' },
      },
    });
    expect(response.status).toBe(201);
    const view = (await response.json()) as ScheduleView;
    expect(view).toMatchObject({
      name: 'weekly-compliance',
      cron: '0 2 * * MON',
      expression: 'cron(0 2 ? * MON *)',
      timezone: 'UTC',
      description: 'Every Monday at 02:00 UTC',
      window: '7d',
      windowDescription: '7 days',
      format: 'json',
      state: 'enabled',
      delivery: {
        s3Bucket: 'compliance-artifacts',
        s3Prefix: 'keeptrusts/weekly/',
        location: 's3://compliance-artifacts/keeptrusts/weekly/',
      },
    });
    expect(new Date(view.nextRun!).getUTCDay()).toBe(1);
    expect(stack.scheduler.armed()).toContain('weekly-compliance');
    const entries = await auditOf('weekly-compliance');
    expect(entries.map((e) => e.action)).toEqual(['schedule.created']);
    expect(entries[0]!.details).toMatchObject({
      expression: 'cron(0 2 ? * MON *)',
      window: '7d',
      deliveryBucket: 'compliance-artifacts',
    });
  });

  it('refuses a name already taken with 409', async () => {
    const detail = await problem(
      await call('POST', '/v1/export-schedules', { body: daily('weekly-compliance') }),
      409,
    );
    expect(detail.detail).toMatch(/already exists/);
  });

  it.each([
    [{ cron: '0 2 1 * MON' }, 'cron', /both day-of-month/],
    [{ cron: '*/5 * * * *' }, 'cron', /5 minutes apart/],
    [{ window: '8x' }, 'window', /hours, days or weeks/],
    [{ window: '400d' }, 'window', /at most 366 days/],
    [{ name: 'no spaces please' }, 'name', /letters, digits/],
    [{ timezone: 'Mars/Olympus' }, 'timezone', /IANA time zone/],
    [{ format: 'xml' }, 'format', /must be one of/],
    [
      { delivery: { s3Bucket: 'someone-elses-bucket' } },
      'delivery.s3Bucket',
      /not an allowed delivery bucket/,
    ],
    [
      { delivery: { s3Bucket: 'compliance-artifacts', s3Prefix: '../up/' } },
      'delivery.s3Prefix',
      /\.\. segment/,
    ],
    [{ extra: 1 }, 'extra', /not a known field/],
  ])('refuses %j with 400 naming the field, and stores nothing', async (change, field, rule) => {
    const name = `invalid-${Math.random().toString(36).slice(2, 8)}`;
    const detail = await problem(
      await call('POST', '/v1/export-schedules', { body: { ...daily(name), ...change } }),
      400,
    );
    const issues = (detail as { errors?: { field: string; rule: string }[] }).errors ?? [];
    expect(issues.find((issue) => issue.field === field)?.rule).toMatch(rule);
    expect((await call('GET', `/v1/export-schedules/${name}`)).status).toBe(404);
  });

  it('refuses a list query parameter (the listing takes none), naming it', async () => {
    const details = await problem(await call('GET', '/v1/export-schedules?limit=10'), 400);
    expect(details.errors).toEqual([{ field: 'limit', rule: 'is not a parameter of the schedule listing (it takes none)' }]);
  });

  it('refuses an unknown field of a run request, and runs nothing', async () => {
    const details = await problem(
      await call('POST', '/v1/export-schedules/no-such-schedule/run', { body: { at: '2026-04-02T00:00:00Z', force: true } }),
      400,
    );
    expect(details.errors).toEqual([{ field: 'force', rule: 'is not a known field; allowed fields are at' }]);
  });

  it('needs schedules:write to change, exports:read to read', async () => {
    const reader = await addToken(['exports:read']);
    await problem(
      await call('POST', '/v1/export-schedules', { body: daily('by-reader'), token: reader }),
      403,
    );
    expect((await call('GET', '/v1/export-schedules', { token: reader })).status).toBe(200);
    await problem(await call('POST', '/v1/export-schedules/weekly-compliance/pause', { token: reader }), 403);
  });

  it('a team token makes schedules of its own team only, and sees only those', async () => {
    const team = await addToken(['schedules:write', 'exports:read'], 'support');
    await problem(
      await call('POST', '/v1/export-schedules', {
        body: daily('other-team', { filters: { team: 'engineering' } }),
        token: team,
      }),
      403,
    );
    const created = await call('POST', '/v1/export-schedules', { body: daily('support-daily'), token: team });
    expect(created.status).toBe(201);
    expect(((await created.json()) as ScheduleView).filters).toEqual({ team: 'support' });
    const listed = (await (await call('GET', '/v1/export-schedules', { token: team })).json()) as {
      schedules: ScheduleView[];
    };
    expect(listed.schedules.map((s) => s.name)).toEqual(['support-daily']);
    await problem(await call('GET', '/v1/export-schedules/weekly-compliance', { token: team }), 404);
    expect((await call('DELETE', '/v1/export-schedules/support-daily', { token: team })).status).toBe(200);
  });
});

describe('pause, resume, delete: each audited, the trigger follows', () => {
  it('pauses and resumes (repeating one changes nothing), then deletes', async () => {
    expect((await call('POST', '/v1/export-schedules', { body: daily('lifecycle') })).status).toBe(201);
    const paused = (await (
      await call('POST', '/v1/export-schedules/lifecycle/pause')
    ).json()) as ScheduleView;
    expect(paused.state).toBe('paused');
    expect(paused.nextRun).toBeUndefined();
    expect(stack.scheduler.armed()).not.toContain('lifecycle');
    expect((await call('POST', '/v1/export-schedules/lifecycle/pause')).status).toBe(200);
    const resumed = (await (
      await call('POST', '/v1/export-schedules/lifecycle/resume')
    ).json()) as ScheduleView;
    expect(resumed.state).toBe('enabled');
    expect(stack.scheduler.armed()).toContain('lifecycle');
    expect((await call('DELETE', '/v1/export-schedules/lifecycle')).status).toBe(200);
    expect(stack.scheduler.armed()).not.toContain('lifecycle');
    await problem(await call('GET', '/v1/export-schedules/lifecycle'), 404);
    expect((await auditOf('lifecycle')).map((e) => e.action)).toEqual([
      'schedule.created',
      'schedule.paused',
      'schedule.resumed',
      'schedule.deleted',
    ]);
  });
});

describe('runs: [T - window, T), one job per scheduled time', () => {
  beforeAll(async () => {
    expect((await call('POST', '/v1/export-schedules', { body: daily('boundaries') })).status).toBe(201);
  });

  it('three consecutive windows export every boundary event exactly once', async () => {
    const runs: { at: string; job: ExportJobView }[] = [];
    for (const at of BOUNDARIES.slice(1)) {
      const response = await call('POST', '/v1/export-schedules/boundaries/run', { body: { at } });
      expect(response.status).toBe(202);
      runs.push({ at, job: (await response.json()) as ExportJobView });
    }
    const seen: string[] = [];
    for (const [i, { at, job }] of runs.entries()) {
      expect(job.schedule).toBe('boundaries');
      expect(job.range).toEqual({
        from: BOUNDARIES[i],
        to: `${DAY[i]}T23:59:59.999999999Z`,
      });
      const done = await finished(job.id);
      expect(done.status).toBe('completed');
      const ids = await exportedIds(job.id);
      const expected = EVENTS.filter(
        (e) => ns(e.timestamp) >= ns(BOUNDARIES[i]!) && ns(e.timestamp) < ns(at),
      ).map((e) => e.id);
      expect(ids.sort()).toEqual(expected.sort());
      expect(ids).toHaveLength(4);
      seen.push(...ids);
    }
    const all = EVENTS.filter(
      (e) => ns(e.timestamp) >= ns(BOUNDARIES[0]!) && ns(e.timestamp) < ns(BOUNDARIES[3]!),
    );
    expect(seen.sort()).toEqual(all.map((e) => e.id).sort());
    expect(new Set(seen).size).toBe(seen.length);
  });

  it('running the same T again answers 200 with the same job; duplicate fires make no second job', async () => {
    const at = BOUNDARIES[2]!;
    const first = (await (
      await call('POST', '/v1/export-schedules/boundaries/run', { body: { at } })
    ).json()) as ExportJobView;
    const again = await call('POST', '/v1/export-schedules/boundaries/run', { body: { at } });
    expect(again.status).toBe(200);
    expect(((await again.json()) as ExportJobView).id).toBe(first.id);

    // Scheduler delivers at least once: two fires of one T, at the same moment.
    const fireAt = '2026-04-05T00:00:00Z';
    const { handler } = await import('../../functions/handlers/scheduled.ts');
    const fire = () =>
      handler({ schedule: 'boundaries', scheduledTime: fireAt }, {} as never) as Promise<{
        exportId: string;
      }>;
    const [a, b] = await Promise.all([fire(), fire()]);
    expect(a.exportId).toBe(b.exportId);
    await finished(a.exportId);
    const listed = (await (await call('GET', '/v1/exports?limit=100')).json()) as {
      exports: ExportJobView[];
    };
    const runsOfT = listed.exports.filter(
      (job) => job.schedule === 'boundaries' && job.range.from === BOUNDARIES[3],
    );
    expect(runsOfT).toHaveLength(1);
    const created = (await auditOf(a.exportId)).filter((e) => e.action === 'export.created');
    expect(created).toHaveLength(1);
    expect(created[0]!.details).toMatchObject({
      schedule: 'boundaries',
      scheduledAt: '2026-04-05T00:00:00.000Z',
    });
  });

  it('an empty window still completes with an artifact of zero records', async () => {
    const response = await call('POST', '/v1/export-schedules/boundaries/run', {
      body: { at: '2025-01-01T00:00:00Z' },
    });
    const done = await finished(((await response.json()) as ExportJobView).id);
    expect(done).toMatchObject({ status: 'completed', records: 0 });
    expect(await exportedIds(done.id)).toEqual([]);
  });

  it('refuses a run time in the future or between seconds', async () => {
    const future = `${new Date(Date.now() + 3_600_000).toISOString().slice(0, 19)}Z`;
    expect(
      (
        await problem(
          await call('POST', '/v1/export-schedules/boundaries/run', { body: { at: future } }),
          400,
        )
      ).detail,
    ).toMatch(/future/);
    await problem(
      await call('POST', '/v1/export-schedules/boundaries/run', { body: { at: '2026-04-02T00:00:00.5Z' } }),
      400,
    );
  });

  it("lists the schedule with its last run (the latest scheduled time) and that run's status", async () => {
    const listed = (await (await call('GET', '/v1/export-schedules')).json()) as {
      schedules: ScheduleView[];
    };
    const view = listed.schedules.find((s) => s.name === 'boundaries')!;
    expect(view.lastRun).toMatchObject({ scheduledAt: '2026-04-05T00:00:00.000Z', status: 'completed' });
  });

  it('a fire for a paused or deleted schedule runs nothing', async () => {
    const { handler } = await import('../../functions/handlers/scheduled.ts');
    await call('POST', '/v1/export-schedules/boundaries/pause');
    const result = (await handler(
      { schedule: 'boundaries', scheduledTime: '2026-04-06T00:00:00Z' },
      {} as never,
    )) as {
      outcome: string;
    };
    expect(result.outcome).toBe('skipped');
    await call('DELETE', '/v1/export-schedules/boundaries');
    const gone = (await handler(
      { schedule: 'boundaries', scheduledTime: '2026-04-06T00:00:00Z' },
      {} as never,
    )) as {
      outcome: string;
    };
    expect(gone.outcome).toBe('skipped');
  });
});
