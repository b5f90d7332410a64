import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createExport as ktExportCreate } from '../../cli/export/create-action.ts';
import { showExportStatus as ktExportStatus } from '../../cli/export/job-actions.ts';
import type { CliContext, GlobalOptions } from '../../cli/context.ts';
import { errorLine, exitCodeFor } from '../../cli/errors.ts';
import type { Scope } from '../../functions/core/auth/token-record.ts';
import { generateToken, newTokenRecord } from '../../functions/core/auth/tokens.ts';
import { artifactKeyOf } from '../../functions/core/export/export-artifact.ts';
import type { ExportJobView } from '../../functions/core/export/export-job.ts';
import { LOCAL_RESOURCES, type LocalStack, startLocalStack } from '../../infra/local/local-stack.ts';
import { countItems } from '../support/count-items.ts';
import { NO_RETRY_WAIT, testStackConfig } from '../support/local-stack-config.ts';
import { memoryIo } from '../unit/cli/helpers.ts';
import { type CallOptions, callApi, problem } from '../support/call-api.ts';

/**
 * The limits against runaway cost over real HTTP through the local stack (authorizer, API, the
 * local Step Functions runner, dynalite, s3rver), with small limits: 2 exports queued or running
 * per token, 10 records per export, 2 schedules. The test holds every workflow start back, so a
 * created export stays `queued` (holding its slot) until the test runs it.
 */

const MAX_RUNNING = 2;
const MAX_RECORDS = 10;
const MAX_SCHEDULES = 2;

/** 30 events on 2026-04-02, ten minutes apart from midnight. */
const EVENTS = Array.from({ length: 30 }, (_, n) => ({
  id: `evt_lim${String(n).padStart(3, '0')}`,
  timestamp: new Date(Date.UTC(2026, 3, 2) + n * 10 * 60_000).toISOString().replace('.000Z', 'Z'),
  model: 'gpt-4o-mini',
  policy: 'pii-redaction',
  action: 'redact',
  result: 'modified',
  tokens: 10,
  latency_ms: 5,
  team: 'engineering',
}));
/** 5 events: within the records limit. */
const SMALL = { from: '2026-04-02T00:00:00Z', to: '2026-04-02T00:40:00Z', format: 'json' };
/** Exactly 10 events (00:00 to 01:30): the limit itself. */
const AT_LIMIT = { from: '2026-04-02T00:00:00Z', to: '2026-04-02T01:30:00Z', format: 'csv' };
/** All 30 events: over the records limit. */
const BIG = { from: '2026-04-02T00:00:00Z', to: '2026-04-02T23:59:59Z', format: 'json' };

const RUNNING_DETAIL = `${MAX_RUNNING} exports of this token are already queued or running (the limit is ${MAX_RUNNING} at a time)`;

let stack: LocalStack;
let dataDir: string;
/** Export ids whose workflow start the API asked for, held back until `run`. */
const held: string[] = [];
const failed: string[] = [];

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(tmpdir(), 'kt-export-limits-'));
  stack = await startLocalStack(
    testStackConfig(dataDir, {
      maxRunningExports: MAX_RUNNING,
      maxExportRecords: MAX_RECORDS,
      maxSchedules: MAX_SCHEDULES,
    }),
    {
      retryIntervalOverrides: NO_RETRY_WAIT,
      onExportFailed: (id) => failed.push(id),
      workflowStarter: (runner) => ({
        startExport: async (id) => void held.push(id),
        stopExport: (id) => runner.stopExport(id),
        redeliverExport: (id, name) => runner.redeliverExport(id, name),
      }),
    },
  );
  const response = await call('POST', '/v1/events', { body: { events: EVENTS } });
  expect(response.status).toBe(200);
}, 60_000);

afterAll(async () => {
  await stack?.workflow.idle();
  await stack?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

const call = (method: string, route: string, options: CallOptions = {}) =>
  callApi(stack, method, route, options);

const tokenIds = new Map<string, string>();

/** A new token: a principal of its own, with its own running-export slots. */
async function addToken(scopes: Scope[] = ['exports:write', 'exports:read']): Promise<string> {
  const token = generateToken();
  const record = newTokenRecord(token, { name: `limits ${scopes.join(' ')}`, scopes });
  await stack.adapters.tokenStore.putToken(record);
  tokenIds.set(token, record.tokenId);
  return token;
}

/** The exports holding a slot of the token, as stored. */
async function slotHolders(token: string): Promise<string[]> {
  const slots = await stack.adapters.runningExportSlots.takenSlots(tokenIds.get(token)!);
  return slots.map((slot) => slot.exportId).sort();
}

async function create(token: string, body: unknown, key?: string): Promise<ExportJobView> {
  const response = await call('POST', '/v1/exports', {
    token,
    body,
    ...(key === undefined ? {} : { headers: { 'idempotency-key': key } }),
  });
  expect(response.status).toBe(202);
  return (await response.json()) as ExportJobView;
}

/** The answer to one more create: a 429 that names the limit, with Retry-After. */
async function refused(token: string, body: unknown = SMALL, key?: string): Promise<void> {
  const response = await call('POST', '/v1/exports', {
    token,
    body,
    ...(key === undefined ? {} : { headers: { 'idempotency-key': key } }),
  });
  expect(response.headers.get('retry-after')).toBe('30');
  expect(await problem(response, 429)).toEqual({
    type: 'urn:keeptrusts:problem:rate_limited',
    title: 'Too many requests',
    status: 429,
    detail: RUNNING_DETAIL,
    retryAfter: 30,
  });
}

/** Runs a held export's workflow and waits for its outcome. */
async function run(id: string): Promise<ExportJobView> {
  expect(held).toContain(id);
  await stack.workflow.startExport(id);
  const deadline = Date.now() + 20_000;
  for (;;) {
    const response = await call('GET', `/v1/exports/${id}`);
    const job = (await response.json()) as ExportJobView;
    if (job.status !== 'queued' && job.status !== 'running') {
      // The step that saved the outcome has also freed the slot once its execution is over.
      await stack.workflow.idle();
      return job;
    }
    if (Date.now() > deadline) throw new Error(`export ${id} still ${job.status}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** What nothing-written is checked against: every control item, the audit head, the starts asked for. */
async function written() {
  await stack.workflow.idle();
  return {
    items: await countItems(stack.adapters.clients.dynamodb, LOCAL_RESOURCES.controlTable),
    head: await stack.adapters.auditLog.head(),
    starts: held.length,
  };
}

/** `kt` in this process, pointed at the stack as `token`. */
function kt(token: string, sleep: (ms: number) => Promise<void> = async () => undefined) {
  const io = memoryIo();
  const context: CliContext = { io, version: 'test', secrets: new Set([token]), http: { sleep } };
  const globals: GlobalOptions = { apiUrl: stack.apiUrl, token, outputFormat: 'human' };
  return { io, context, globals };
}

describe(`at most ${MAX_RUNNING} exports queued or running per token (KT_MAX_RUNNING_EXPORTS)`, () => {
  it('answers the next create 429 with Retry-After, naming the limit, and writes nothing', async () => {
    const token = await addToken();
    const first = await create(token, SMALL);
    const second = await create(token, BIG);
    expect([first.status, second.status]).toEqual(['queued', 'queued']);

    const before = await written();
    await refused(token);
    // With an Idempotency-Key too; the key is not taken by the refused request.
    await refused(token, SMALL, 'refused-then-reused');
    expect(await written()).toEqual(before);

    // Once a slot is free the key works, for any request: nothing was recorded under it.
    await run(first.id);
    const later = await create(token, { ...SMALL, format: 'csv' }, 'refused-then-reused');
    expect(later.status).toBe('queued');
  });

  it('never refuses an idempotent repeat of a created export: it answers with that export', async () => {
    const token = await addToken();
    const first = await create(token, SMALL, 'repeat-me');
    await create(token, SMALL);
    await refused(token);

    const before = await written();
    const again = await create(token, SMALL, 'repeat-me');
    expect(again.id).toBe(first.id);
    expect(await written()).toEqual(before);
    // The key with another request is still a conflict, not a limit.
    await problem(
      await call('POST', '/v1/exports', { token, body: BIG, headers: { 'idempotency-key': 'repeat-me' } }),
      409,
    );
  });

  it('counts each token on its own: another token, and the admin token, are not affected', async () => {
    const full = await addToken();
    await create(full, SMALL);
    await create(full, SMALL);
    await refused(full);

    const other = await addToken();
    expect((await create(other, SMALL)).status).toBe('queued');
    expect((await create(stack.admin.token, SMALL)).status).toBe('queued');
    await refused(full);
  });

  it('frees a slot when an export completes, and when it fails', async () => {
    const token = await addToken();
    const small = await create(token, SMALL);
    const big = await create(token, BIG);
    await refused(token);

    expect(await slotHolders(token)).toEqual([small.id, big.id].sort());
    expect((await run(small.id)).status).toBe('completed');
    // Finalize released it (the next create does not have to find it finished).
    expect(await slotHolders(token)).toEqual([big.id]);
    const third = await create(token, SMALL);
    await refused(token);

    // Over the records limit: the job fails, and MarkFailed releases its slot.
    expect((await run(big.id)).status).toBe('failed');
    expect(await slotHolders(token)).toEqual([third.id]);
    const fourth = await create(token, SMALL);
    await refused(token);
    expect(await slotHolders(token)).toEqual([third.id, fourth.id].sort());
  });

  it('holds for a schedule run a caller starts as well', async () => {
    const token = await addToken(['exports:write', 'exports:read', 'schedules:write']);
    const made = await call('POST', '/v1/export-schedules', {
      body: { name: 'limits-run', cron: '0 2 * * MON', window: '1d', format: 'json' },
    });
    expect(made.status).toBe(201);
    await create(token, SMALL);
    await create(token, SMALL);
    const before = await written();
    const response = await call('POST', '/v1/export-schedules/limits-run/run', {
      token,
      body: { at: '2026-04-03T00:00:00Z' },
    });
    expect(response.headers.get('retry-after')).toBe('30');
    expect((await problem(response, 429)).detail).toBe(RUNNING_DETAIL);
    expect(await written()).toEqual(before);
    // Another caller's run is not affected (and that run is not refused later for this one's).
    const admin = await call('POST', '/v1/export-schedules/limits-run/run', {
      body: { at: '2026-04-03T00:00:00Z' },
    });
    expect(admin.status).toBe(202);
    expect((await call('DELETE', '/v1/export-schedules/limits-run')).status).toBe(200);
  });

  it('kt export create waits as Retry-After says, saying why on stderr, and creates once a slot frees', async () => {
    const token = await addToken();
    const first = await create(token, SMALL);
    await create(token, SMALL);
    const sleeps: number[] = [];
    // While kt waits, the first export finishes.
    const { io, context, globals } = kt(token, async (ms) => {
      sleeps.push(ms);
      await run(first.id);
    });
    await ktExportCreate(context, globals, { from: SMALL.from, to: SMALL.to, format: 'json' });
    expect(sleeps).toEqual([30_000]);
    expect(io.err()).toBe(`Waiting 30 s: ${RUNNING_DETAIL}…\n`);
    expect(io.out()).toMatch(/^✓ Export job created\nJob ID: exp_\w+\nFormat: json\nStatus: queued\n/);
  });

  it('kt export create gives up after a bounded wait with one line: the limit, and when to try again', async () => {
    const token = await addToken();
    await create(token, SMALL);
    await create(token, SMALL);
    const sleeps: number[] = [];
    const { io, context, globals } = kt(token, async (ms) => void sleeps.push(ms));
    const before = await written();
    const error = await ktExportCreate(context, globals, {
      from: SMALL.from,
      to: SMALL.to,
      format: 'json',
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(exitCodeFor(error)).toBe(1);
    expect(errorLine(error)).toBe(`error: ${RUNNING_DETAIL}; try again in 30 s`);
    // A minute at most: two waits of 30 s, each said on stderr.
    expect(sleeps).toEqual([30_000, 30_000]);
    expect(io.err()).toBe(`Waiting 30 s: ${RUNNING_DETAIL}…\n`.repeat(2));
    expect(io.out()).toBe('');
    expect(await written()).toEqual(before);
  });
});

describe(`at most ${MAX_RECORDS} records per export (KT_MAX_EXPORT_RECORDS)`, () => {
  it('completes an export of exactly the limit', async () => {
    const token = await addToken();
    const job = await run((await create(token, AT_LIMIT)).id);
    expect(job).toMatchObject({ status: 'completed', records: MAX_RECORDS });
  });

  it('fails an export of more at ExportPage, loudly: no artifact, the reason on the job, in the audit trail and in kt export status', async () => {
    const token = await addToken();
    const { id } = await create(token, BIG);
    const job = await run(id);
    const reason =
      `ExportTooLargeError: Export ${id} matches more than 10 records, the most this deployment allows in one ` +
      'export (maxExportRecords); it stopped at record 11 and no artifact was published. Export a shorter range ' +
      'or narrower filters, in several exports.';
    expect(job).toMatchObject({ status: 'failed', error: { reason, state: 'ExportPage' } });
    expect(job.sha256).toBeUndefined();
    expect(job.manifest).toBeUndefined();
    expect(failed).toContain(id);

    // Nothing published, nothing left open.
    expect(
      await stack.adapters.artifactStore.artifactSize(artifactKeyOf({ id, format: 'json' })),
    ).toBeUndefined();
    expect(await stack.adapters.artifactStore.openUploads(`exports/${id}`)).toEqual([]);
    await problem(await call('GET', `/v1/exports/${id}/download`), 409);

    const entries = await stack.adapters.auditLog.entries({ subject: id });
    expect(entries.map((entry) => entry.action)).toEqual(['export.created', 'export.failed']);
    expect(entries[1]!.details).toMatchObject({ reason, state: 'ExportPage' });

    const { io, context, globals } = kt(token);
    await ktExportStatus(context, globals, { id });
    expect(io.out()).toContain('Status: failed');
    expect(io.out()).toContain(`Error: ${reason}`);
  });
});

describe(`at most ${MAX_SCHEDULES} schedules (KT_MAX_SCHEDULES)`, () => {
  const schedule = (name: string) => ({ name, cron: '0 2 * * MON', window: '7d', format: 'json' });

  it('answers one more with a 409 naming the limit, writes nothing, and takes one again after a delete', async () => {
    for (const name of ['cap-1', 'cap-2']) {
      expect((await call('POST', '/v1/export-schedules', { body: schedule(name) })).status).toBe(201);
    }
    const before = await written();
    const answer = await problem(
      await call('POST', '/v1/export-schedules', { body: schedule('cap-3') }),
      409,
    );
    expect(answer).toMatchObject({
      type: 'urn:keeptrusts:problem:conflict',
      detail:
        'This deployment already has 2 schedules and allows at most 2 (MAX_SCHEDULES); delete one ' +
        '(kt export schedule delete --name <name>) before adding another.',
    });
    expect(await written()).toEqual(before);
    expect((await call('GET', '/v1/export-schedules/cap-3')).status).toBe(404);

    expect((await call('DELETE', '/v1/export-schedules/cap-1')).status).toBe(200);
    expect((await call('POST', '/v1/export-schedules', { body: schedule('cap-3') })).status).toBe(201);
  });
});
