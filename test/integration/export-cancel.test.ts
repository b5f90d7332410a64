import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { cancelExport as ktExportCancel } from '../../cli/export/cancel-action.ts';
import { createExport as ktExportCreate } from '../../cli/export/create-action.ts';
import type { CliContext, GlobalOptions } from '../../cli/context.ts';
import { errorLine, exitCodeFor } from '../../cli/errors.ts';
import type { Scope } from '../../functions/core/auth/token-record.ts';
import { generateToken, newTokenRecord } from '../../functions/core/auth/tokens.ts';
import type { ExportJobView } from '../../functions/core/export/export-job.ts';
import { LOCAL_RESOURCES, type LocalStack, startLocalStack } from '../../infra/local/local-stack.ts';
import { NO_RETRY_WAIT, testStackConfig } from '../support/local-stack-config.ts';
import { memoryIo } from '../unit/cli/helpers.ts';
import { type CallOptions, callApi, problem } from '../support/call-api.ts';

/**
 * POST /v1/exports/{id}/cancel over real HTTP through the local stack (authorizer, API, the local
 * Step Functions runner, dynalite, s3rver), with at most 2 exports queued or running per token.
 * Starts can be held back (the job stays queued until the test starts it), and a step can be
 * held mid-flight at a chosen call (a gate), so a cancellation lands exactly where a test wants it.
 */

const MAX_RUNNING = 2;

/** 30 events on 2026-04-02, ten minutes apart from midnight; teams alternate. */
const EVENTS = Array.from({ length: 30 }, (_, n) => ({
  id: `evt_cnl${String(n).padStart(3, '0')}`,
  timestamp: new Date(Date.UTC(2026, 3, 2) + n * 10 * 60_000).toISOString().replace('.000Z', 'Z'),
  model: 'gpt-4o-mini',
  policy: 'pii-redaction',
  action: 'redact',
  result: 'modified',
  tokens: 10,
  latency_ms: 5,
  team: n % 2 === 0 ? 'engineering' : 'support',
}));
const BODY = { from: '2026-04-02T00:00:00Z', to: '2026-04-02T23:59:59Z', format: 'json' };

let stack: LocalStack;
let dataDir: string;
/** While true, workflow starts the API asks for are held back (their ids kept here). */
let holding = true;
const held: string[] = [];
const failedExecutions: string[] = [];

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(tmpdir(), 'kt-export-cancel-'));
  stack = await startLocalStack(testStackConfig(dataDir, { maxRunningExports: MAX_RUNNING }), {
    retryIntervalOverrides: NO_RETRY_WAIT,
    onExportFailed: (id) => failedExecutions.push(id),
    workflowStarter: (runner) => ({
      startExport: async (id) => (holding ? void held.push(id) : runner.startExport(id)),
      stopExport: (id) => runner.stopExport(id),
      redeliverExport: (id, name) => runner.redeliverExport(id, name),
    }),
  });
  const response = await call('POST', '/v1/events', { body: { events: EVENTS } });
  expect(response.status).toBe(200);
}, 60_000);

afterEach(async () => {
  jest.restoreAllMocks();
  holding = true;
  await stack.workflow.idle();
});

afterAll(async () => {
  await stack?.workflow.idle();
  await stack?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

const call = (method: string, route: string, options: CallOptions = {}) =>
  callApi(stack, method, route, options);

async function json<T>(response: Response, status: number): Promise<T> {
  expect(response.status).toBe(status);
  return (await response.json()) as T;
}

const tokenIds = new Map<string, string>();

async function addToken(options: { scopes?: Scope[]; team?: string } = {}): Promise<string> {
  const token = generateToken();
  const record = newTokenRecord(token, {
    name: 'cancel-test',
    scopes: options.scopes ?? ['exports:write', 'exports:read'],
    ...(options.team === undefined ? {} : { team: options.team }),
  });
  await stack.adapters.tokenStore.putToken(record);
  tokenIds.set(token, record.tokenId);
  return token;
}

const create = async (token: string, body: unknown = BODY) =>
  json<ExportJobView>(await call('POST', '/v1/exports', { token, body }), 202);
const cancel = (id: string, token = stack.admin.token) => call('POST', `/v1/exports/${id}/cancel`, { token, body: {} });
const get = async (id: string) => json<ExportJobView>(await call('GET', `/v1/exports/${id}`), 200);

async function slotHolders(token: string): Promise<string[]> {
  const slots = await stack.adapters.runningExportSlots.takenSlots(tokenIds.get(token)!);
  return slots.map((slot) => slot.exportId).sort();
}

async function auditActions(id: string): Promise<string[]> {
  return (await stack.adapters.auditLog.entries({ subject: id })).map((entry) => entry.action);
}

/** Every object and open upload under the export's prefix: a cancelled export must have none. */
async function leftovers(id: string) {
  const listed = await stack.adapters.clients.s3.send(
    new ListObjectsV2Command({ Bucket: LOCAL_RESOURCES.artifactBucket, Prefix: `exports/${id}/` }),
  );
  return {
    objects: (listed.Contents ?? []).map((object) => object.Key),
    uploads: await stack.adapters.artifactStore.openUploads(`exports/${id}/`),
  };
}

/**
 * Holds the first call of `object[method]` that `when` picks until released; every other call
 * goes straight through. `reached` resolves once the held call has arrived.
 */
function gate<T extends object, K extends keyof T>(
  object: T,
  method: K,
  when: (...args: unknown[]) => boolean = () => true,
) {
  const original = (object[method] as (...args: unknown[]) => Promise<unknown>).bind(object);
  let release: () => void = () => undefined;
  const released = new Promise<void>((resolve) => (release = resolve));
  let arrive: () => void = () => undefined;
  const reached = new Promise<void>((resolve) => (arrive = resolve));
  let armed = true;
  jest.spyOn(object, method as never).mockImplementation((async (...args: unknown[]) => {
    if (armed && when(...args)) {
      armed = false;
      arrive();
      await released;
    }
    return original(...args);
  }) as never);
  return { reached, release: () => release() };
}

/** `kt` in this process, pointed at the stack as `token`. */
function kt(token: string) {
  const io = memoryIo();
  const context: CliContext = { io, version: 'test', secrets: new Set([token]), http: { sleep: async () => undefined } };
  const globals: GlobalOptions = { apiUrl: stack.apiUrl, token, outputFormat: 'human' };
  return { io, context, globals };
}

describe('cancelling a queued export', () => {
  it('cancels it, frees its slot for the next create, publishes nothing and audits who cancelled', async () => {
    const token = await addToken();
    const first = await create(token);
    const second = await create(token);
    await problem(await call('POST', '/v1/exports', { token, body: BODY }), 429);

    const view = await json<ExportJobView>(await cancel(first.id, token), 200);
    expect(view).toMatchObject({ id: first.id, status: 'cancelled', records: 0 });
    expect(Date.parse(view.cancelled!)).toBeGreaterThanOrEqual(Date.parse(first.created));
    expect(await get(first.id)).toEqual(view);

    // The slot is free: the token may create again, and is at its limit once more after that.
    expect(await slotHolders(token)).toEqual([second.id]);
    const third = await create(token);
    expect(third.status).toBe('queued');
    await problem(await call('POST', '/v1/exports', { token, body: BODY }), 429);

    expect(await leftovers(first.id)).toEqual({ objects: [], uploads: [] });
    const entries = await stack.adapters.auditLog.entries({ subject: first.id });
    expect(entries.map((entry) => entry.action)).toEqual(['export.created', 'export.cancelled']);
    expect(entries[1]).toMatchObject({
      actor: tokenIds.get(token),
      at: view.cancelled,
      details: { status: 'queued', records: 0 },
    });
    expect((await problem(await call('GET', `/v1/exports/${first.id}/download`), 409)).detail).toBe(
      `Export ${first.id} was cancelled, so it has no file to download.`,
    );
    await problem(await call('GET', `/v1/exports/${first.id}/manifest`), 409);
  });

  it('answers a repeat with the same job and appends nothing', async () => {
    const token = await addToken();
    const { id } = await create(token);
    const first = await json<ExportJobView>(await cancel(id, token), 200);
    const head = await stack.adapters.auditLog.head();
    expect(await json<ExportJobView>(await cancel(id, token), 200)).toEqual(first);
    expect(await stack.adapters.auditLog.head()).toEqual(head);
  });

  it('runs nothing when its held start arrives after the cancellation: Prepare finds it cancelled', async () => {
    const token = await addToken();
    const { id } = await create(token);
    await json(await cancel(id, token), 200);
    const head = await stack.adapters.auditLog.head();

    await stack.workflow.startExport(id);
    await stack.workflow.idle();
    expect((await get(id)).status).toBe('cancelled');
    expect(await stack.adapters.auditLog.head()).toEqual(head);
    expect(await leftovers(id)).toEqual({ objects: [], uploads: [] });
    expect(await slotHolders(token)).toEqual([]);
    // The execution ended in its Fail state, the job untouched.
    expect(failedExecutions).toContain(id);
  });

  it('lets a team token cancel its team\u2019s exports only: another team\u2019s is not found, and nothing changes', async () => {
    const engineering = await addToken({ team: 'engineering' });
    const support = await addToken({ team: 'support' });
    const { id } = await create(engineering);
    const before = await get(id);
    expect((await problem(await cancel(id, support), 404)).detail).toBe(`Export ${id} was not found`);
    expect(await get(id)).toEqual(before);
    expect(await auditActions(id)).toEqual(['export.created']);
    expect((await json<ExportJobView>(await cancel(id, engineering), 200)).status).toBe('cancelled');
  });

  it('needs exports:write (403), and takes no body fields (400)', async () => {
    const { id } = await create(stack.admin.token);
    const reader = await addToken({ scopes: ['exports:read'] });
    expect((await problem(await cancel(id, reader), 403)).detail).toBe(
      'This action needs a token with the exports:write scope (or admin).',
    );
    const withField = await call('POST', `/v1/exports/${id}/cancel`, { body: { force: true } });
    expect((await problem(withField, 400)).errors).toEqual([
      { field: 'force', rule: 'is not a known field; this request takes none' },
    ]);
    expect((await get(id)).status).toBe('queued');
    // No body at all is as good as {}.
    expect((await json<ExportJobView>(await call('POST', `/v1/exports/${id}/cancel`), 200)).status).toBe('cancelled');
  });
});

describe('cancelling a running export', () => {
  it('mid-export: the in-flight step stops, nothing is published, and the job stays cancelled', async () => {
    holding = false;
    const token = await addToken();
    // ExportPage holds at its part upload: Prepare has marked the job running and opened the upload.
    const hold = gate(stack.adapters.artifactStore, 'uploadPart');
    const { id } = await create(token);
    await hold.reached;
    const running = await get(id);
    expect(running.status).toBe('running');

    const view = await json<ExportJobView>(await cancel(id, token), 200);
    expect(view.status).toBe('cancelled');
    // The upload is aborted and the slot free before the in-flight step has even returned.
    expect((await leftovers(id)).uploads).toEqual([]);
    expect(await slotHolders(token)).toEqual([]);

    hold.release();
    await stack.workflow.idle();
    expect(await get(id)).toEqual(view);
    expect(await leftovers(id)).toEqual({ objects: [], uploads: [] });
    expect(await auditActions(id)).toEqual(['export.created', 'export.cancelled']);
    expect((await stack.adapters.auditLog.entries({ subject: id }))[1]?.details).toMatchObject({ status: 'running' });
  });

  it('while Finalize counts, before its claim to publish: Finalize stops, and no artifact or manifest appears', async () => {
    holding = false;
    const token = await addToken();
    const hold = gate(stack.adapters.eventStore, 'countEvents');
    const { id } = await create(token);
    await hold.reached;
    expect(await json<ExportJobView>(await cancel(id, token), 200)).toMatchObject({ status: 'cancelled' });
    hold.release();
    await stack.workflow.idle();
    expect((await get(id)).status).toBe('cancelled');
    expect(await leftovers(id)).toEqual({ objects: [], uploads: [] });
    expect(await auditActions(id)).toEqual(['export.created', 'export.cancelled']);
  });

  it('once Finalize has claimed to publish: refused (409), and the export completes', async () => {
    holding = false;
    const token = await addToken();
    const hold = gate(stack.adapters.artifactStore, 'completeUpload');
    const { id } = await create(token);
    await hold.reached;
    const refused = await problem(await cancel(id, token), 409);
    expect(refused.detail).toMatch(
      new RegExp(`^Export ${id} is running and already publishing its artifact \\(since \\S+\\); it can no longer be cancelled\\.`),
    );
    hold.release();
    await stack.workflow.idle();
    expect((await get(id)).status).toBe('completed');
    expect(await auditActions(id)).toEqual(['export.created', 'export.completed']);
  });

  it('kt export create --wait stops with exit 1 and one line when the export is cancelled under it', async () => {
    holding = false;
    const token = await addToken();
    const hold = gate(stack.adapters.artifactStore, 'uploadPart');
    const { io, context, globals } = kt(token);
    const waiting = ktExportCreate(context, globals, { ...BODY, format: 'json', wait: true }, { pollIntervalMs: 20 }).then(
      () => undefined,
      (error: unknown) => error,
    );
    await hold.reached;
    const newest = await json<{ exports: ExportJobView[] }>(await call('GET', '/v1/exports?limit=1'), 200);
    const id = newest.exports[0]!.id;
    await json(await cancel(id, token), 200);
    hold.release();
    const error = await waiting;
    expect(exitCodeFor(error)).toBe(1);
    expect(errorLine(error)).toBe(`error: export ${id} was cancelled`);
    expect(io.out()).toContain('Status: cancelled\n');
  });
});

describe('cancelling a finished export', () => {
  it('is refused with a 409 naming its status, and changes nothing', async () => {
    holding = false;
    const token = await addToken();
    const { id } = await create(token);
    await stack.workflow.idle();
    const done = await get(id);
    expect(done.status).toBe('completed');
    const head = await stack.adapters.auditLog.head();

    expect((await problem(await cancel(id, token), 409)).detail).toBe(
      `Export ${id} is completed; only a queued or running export can be cancelled. ` +
        `To remove its artifact, delete it (kt export delete --id ${id}).`,
    );
    expect(await get(id)).toEqual(done);
    expect(await stack.adapters.auditLog.head()).toEqual(head);

    // kt says the same in one line, exit 1.
    const { io, context, globals } = kt(token);
    const error = await ktExportCancel(context, globals, { id }).then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(exitCodeFor(error)).toBe(1);
    expect(errorLine(error)).toBe(
      `error: Export ${id} is completed; only a queued or running export can be cancelled. ` +
        `To remove its artifact, delete it (kt export delete --id ${id}).`,
    );
    expect(io.out()).toBe('');
  });

  it('a cancelled export can be deleted at once (it has no artifact), and then cannot be cancelled', async () => {
    const { id } = await create(stack.admin.token);
    await json(await cancel(id), 200);
    expect((await json<ExportJobView>(await call('DELETE', `/v1/exports/${id}`), 200)).status).toBe('deleted');
    expect((await problem(await cancel(id), 409)).detail).toBe(
      `Export ${id} cannot be cancelled because it is deleted; only a queued or running export can be cancelled.`,
    );
  });
});

describe('kt export cancel', () => {
  it('prints ✓ Export … cancelled', async () => {
    const token = await addToken();
    const { id } = await create(token);
    const { io, context, globals } = kt(token);
    await ktExportCancel(context, globals, { id });
    expect(io.out()).toBe(`✓ Export ${id} cancelled\nNo artifact was published; the job and its audit entries remain.\n`);
    expect((await get(id)).status).toBe('cancelled');
  });
});
