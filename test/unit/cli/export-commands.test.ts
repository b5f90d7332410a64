import { cancelExport } from '../../../cli/export/cancel-action.ts';
import { createExport } from '../../../cli/export/create-action.ts';
import { deleteExport, listExports, showExportStatus } from '../../../cli/export/job-actions.ts';
import { ApiError, CommandFailedError, exitCodeFor } from '../../../cli/errors.ts';
import {
  exportContext,
  type FakeApi,
  ID,
  jobView,
  problem,
  sendJson,
  startFakeApi,
  TOKEN,
} from './export-fixtures.ts';
import { rejection } from './helpers.ts';

/**
 * The `kt export` actions against a real loopback HTTP server standing in for the API, called
 * directly (commander is ESM-only; export-program.test.ts covers the parsed command line).
 */

let api: FakeApi;
beforeAll(async () => {
  api = await startFakeApi();
});
afterAll(() => api.close());
beforeEach(() => api.reset());

const FLAGS = { from: '2026-04-16T00:00:00Z', to: '2026-04-23T23:59:59Z', format: 'json' } as const;
const queued = () =>
  jobView({
    status: 'queued',
    records: 0,
    bytes: undefined,
    sha256: undefined,
    started: undefined,
    completed: undefined,
  });

const CREATED = [
  '✓ Export job created',
  `Job ID: ${ID}`,
  'Format: json',
  'Status: queued',
  'Range: 2026-04-16T00:00:00Z → 2026-04-23T23:59:59Z',
];

/** GET /v1/exports/{id} answers these views in turn, repeating the last. */
function jobGoesThrough(views: Record<string, unknown>[]): void {
  api.route(`GET /v1/exports/${ID}`, (_req, res) => {
    sendJson(res, 200, views.length > 1 ? views.shift() : views[0]);
  });
}

describe('kt export create', () => {
  beforeEach(() => api.route('POST /v1/exports', (_req, res) => sendJson(res, 202, queued())));

  it('sends the PDF page size, and refuses it on another format before anything is sent', async () => {
    const { context, globals } = exportContext(api.url);
    await createExport(context, globals, { ...FLAGS, format: 'pdf', title: 'Q2', pageSize: 'letter' });
    expect(JSON.parse(api.seen[0]!.body)).toMatchObject({ format: 'pdf', title: 'Q2', pageSize: 'letter' });
    api.reset();
    api.route('POST /v1/exports', (_req, res) => sendJson(res, 202, queued()));
    const error = await rejection(createExport(context, globals, { ...FLAGS, format: 'csv', pageSize: 'a4' }));
    expect(exitCodeFor(error)).toBe(2);
    expect(error.message).toBe('--page-size applies to --format pdf only');
    expect(api.seen).toHaveLength(0);
  });

  it('posts the request with a fresh idempotency key and prints the tutorial block', async () => {
    const { context, globals, io } = exportContext(api.url);
    await createExport(context, globals, FLAGS);
    expect(io.out()).toBe(`${CREATED.join('\n')}\n`);
    expect(io.err()).toBe('');

    await createExport(context, globals, FLAGS);
    const [first, second] = api.seen;
    expect(first?.method).toBe('POST');
    expect(JSON.parse(first!.body)).toEqual({ from: FLAGS.from, to: FLAGS.to, format: 'json' });
    expect(first?.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(first?.headers['idempotency-key']).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
    // One key per invocation, not one per program.
    expect(second?.headers['idempotency-key']).not.toBe(first?.headers['idempotency-key']);
  });

  it('sends filters from either spelling, the title and a caller-chosen key', async () => {
    const { context, globals } = exportContext(api.url);
    await createExport(context, globals, {
      ...FLAGS,
      format: 'csv',
      filterTeam: 'engineering',
      policy: 'pii-redaction',
      title: 'Q2 2026 AI Compliance Report',
      idempotencyKey: 'weekly-2026-16',
    });
    expect(JSON.parse(api.seen[0]!.body)).toEqual({
      from: FLAGS.from,
      to: FLAGS.to,
      format: 'csv',
      title: 'Q2 2026 AI Compliance Report',
      filters: { team: 'engineering', policy: 'pii-redaction' },
    });
    expect(api.seen[0]?.headers['idempotency-key']).toBe('weekly-2026-16');
  });

  it('retries a 503 with the same idempotency key', async () => {
    let calls = 0;
    api.route('POST /v1/exports', (_req, res) => {
      calls += 1;
      if (calls === 1) problem(res, 503, { title: 'Service Unavailable' });
      else sendJson(res, 202, queued());
    });
    const { context, globals, io } = exportContext(api.url);
    await createExport({ ...context, http: { ...context.http, retry: { attempts: 3 } } }, globals, FLAGS);
    expect(api.seen).toHaveLength(2);
    expect(api.seen[1]?.headers['idempotency-key']).toBe(api.seen[0]?.headers['idempotency-key']);
    expect(io.out()).toContain('Status: queued');
  });

  it('on a 429 waits as Retry-After says with one line on stderr, then creates with the same key', async () => {
    let calls = 0;
    api.route('POST /v1/exports', (_req, res) => {
      calls += 1;
      if (calls > 1) return sendJson(res, 202, queued());
      res.writeHead(429, { 'content-type': 'application/problem+json', 'retry-after': '30' });
      res.end(
        JSON.stringify({
          type: 'urn:keeptrusts:problem:rate_limited',
          title: 'Too many requests',
          status: 429,
          detail: '5 exports of this token are already queued or running (the limit is 5 at a time)',
          retryAfter: 30,
        }),
      );
    });
    const sleeps: number[] = [];
    const { context, globals, io } = exportContext(api.url);
    const http = { ...context.http, retry: { attempts: 4 }, sleep: async (ms: number) => void sleeps.push(ms) };
    await createExport({ ...context, http }, globals, FLAGS);
    expect(sleeps).toEqual([30_000]);
    expect(io.err()).toBe(
      'Waiting 30 s: 5 exports of this token are already queued or running (the limit is 5 at a time)…\n',
    );
    expect(api.seen[1]?.headers['idempotency-key']).toBe(api.seen[0]?.headers['idempotency-key']);
    expect(io.out()).toBe(`${CREATED.join('\n')}\n`);
  });

  it('prints only the job view as JSON with -o json', async () => {
    const { context, globals, io } = exportContext(api.url, 'json');
    await createExport(context, globals, FLAGS);
    expect(JSON.parse(io.out())).toEqual(queued());
    expect(io.out().trimEnd().split('\n')).toHaveLength(1);
  });

  it('checks flags before anything is sent', async () => {
    const { context, globals } = exportContext(api.url);
    const error = await rejection(createExport(context, globals, { ...FLAGS, team: 'a', filterTeam: 'b' }));
    expect(exitCodeFor(error)).toBe(2);
    expect(api.seen).toHaveLength(0);
  });

  it('shows a format the API cannot write yet as one line naming the flag, exit 1', async () => {
    api.route('POST /v1/exports', (_req, res) =>
      problem(res, 400, {
        title: 'Bad Request',
        detail: 'The pdf export format is not yet supported.',
        errors: [{ field: 'format', rule: 'pdf is not yet supported; use one of json, csv' }],
      }),
    );
    const { context, globals, io } = exportContext(api.url);
    const error = await rejection(createExport(context, globals, { ...FLAGS, format: 'pdf' }));
    expect(error).toBeInstanceOf(ApiError);
    expect(exitCodeFor(error)).toBe(1);
    expect(error.message).toBe('--format pdf is not yet supported; use one of json, csv');
    expect(io.out()).toBe('');
  });
});

describe('kt export create --wait', () => {
  beforeEach(() => api.route('POST /v1/exports', (_req, res) => sendJson(res, 202, queued())));

  const running = (percent: number) =>
    jobView({
      status: 'running',
      records: 600,
      bytes: undefined,
      completed: undefined,
      progress: { percent },
    });

  it('polls until the job completes, then prints its status block', async () => {
    jobGoesThrough([running(40), running(80), jobView()]);
    const { context, globals, io } = exportContext(api.url);
    await createExport(context, globals, { ...FLAGS, wait: true }, { pollIntervalMs: 5 });
    expect(io.out()).toBe(
      [
        ...CREATED,
        '',
        `Export: ${ID}`,
        'Status: completed',
        'Format: json',
        'Records: 1,247',
        'File size: 2.3 MB',
        'Created: 2026-04-23T14:30:00Z',
        'Completed: 2026-04-23T14:30:12Z',
        '',
      ].join('\n'),
    );
    expect(api.seen.map((r) => `${r.method} ${r.url}`)).toEqual([
      'POST /v1/exports',
      `GET /v1/exports/${ID}`,
      `GET /v1/exports/${ID}`,
      `GET /v1/exports/${ID}`,
    ]);
    expect(io.err()).toBe(''); // not a terminal: no progress bar
  });

  it('draws a progress bar from progress.percent on a terminal only', async () => {
    jobGoesThrough([running(40), jobView()]);
    const { context, globals, io } = exportContext(api.url, 'human', true);
    // Slower polls than the bar's 10 redraws a second, so 40% is drawn before the end.
    await createExport(context, globals, { ...FLAGS, wait: true }, { pollIntervalMs: 150 });
    expect(io.err()).toContain('Exporting');
    expect(io.err()).toContain('40%');
    expect(io.err()).toContain('100%');
    expect(io.err()).not.toContain(' of '); // a percent, not "40 of 100 events"
    expect(io.out()).toContain('Status: completed');
  });

  it('prints the failed job, then exits 1 with its reason', async () => {
    const reason = 'DynamoDB throttled the export after 5 retries';
    jobGoesThrough([
      running(10),
      jobView({ status: 'failed', records: 0, bytes: undefined, error: { reason } }),
    ]);
    const { context, globals, io } = exportContext(api.url);
    const error = await rejection(
      createExport(context, globals, { ...FLAGS, wait: true }, { pollIntervalMs: 5 }),
    );
    expect(error).toBeInstanceOf(CommandFailedError);
    expect(exitCodeFor(error)).toBe(1);
    expect(error.message).toBe(`export ${ID} failed: ${reason}`);
    expect(io.out()).toContain(`Failed: 2026-04-23T14:30:12Z\nError: ${reason}\n`);
  });

  it('stops polling when the job is cancelled, prints it, then exits 1 saying so', async () => {
    const cancelled = '2026-04-23T14:30:05.120Z';
    jobGoesThrough([
      running(20),
      jobView({ status: 'cancelled', records: 600, bytes: undefined, sha256: undefined, completed: undefined, cancelled }),
    ]);
    const { context, globals, io } = exportContext(api.url);
    const error = await rejection(
      createExport(context, globals, { ...FLAGS, wait: true }, { pollIntervalMs: 5 }),
    );
    expect(error).toBeInstanceOf(CommandFailedError);
    expect(exitCodeFor(error)).toBe(1);
    expect(error.message).toBe(`export ${ID} was cancelled`);
    expect(io.out()).toContain('Status: cancelled\n');
    expect(io.out()).toContain('Cancelled: 2026-04-23T14:30:05Z\n');
    expect(api.seen.filter((r) => r.method === 'GET')).toHaveLength(2);
  });

  it('prints only the final job view with -o json, even when it failed', async () => {
    const failed = jobView({ status: 'failed', error: { reason: 'boom' } });
    jobGoesThrough([failed]);
    const { context, globals, io } = exportContext(api.url, 'json');
    const error = await rejection(
      createExport(context, globals, { ...FLAGS, wait: true }, { pollIntervalMs: 5 }),
    );
    expect(exitCodeFor(error)).toBe(1);
    expect(JSON.parse(io.out())).toEqual(failed);
  });
});

describe('kt export status', () => {
  it('prints the tutorial block, or the job view as JSON', async () => {
    jobGoesThrough([jobView()]);
    const human = exportContext(api.url);
    await showExportStatus(human.context, human.globals, { id: ID });
    expect(human.io.out()).toBe(
      `Export: ${ID}\nStatus: completed\nFormat: json\nRecords: 1,247\nFile size: 2.3 MB\nCreated: 2026-04-23T14:30:00Z\nCompleted: 2026-04-23T14:30:12Z\n`,
    );
    const json = exportContext(api.url, 'json');
    await showExportStatus(json.context, json.globals, { id: ID });
    expect(JSON.parse(json.io.out())).toEqual(jobView());
  });

  it('says which export does not exist', async () => {
    const { context, globals } = exportContext(api.url);
    const error = await rejection(showExportStatus(context, globals, { id: ID }));
    expect(exitCodeFor(error)).toBe(1);
    expect(error.message).toBe(`export ${ID} was not found`);
  });
});

describe('kt export list', () => {
  it('prints aligned columns and a stderr hint when there is more', async () => {
    api.route('GET /v1/exports', (_req, res) =>
      sendJson(res, 200, {
        exports: [jobView(), jobView({ id: 'exp_def456', format: 'csv', records: 312 })],
        cursor: 'eyJrIjoxfQ==',
      }),
    );
    const { context, globals, io } = exportContext(api.url);
    await listExports(context, globals, { limit: 10 });
    expect(io.out().split('\n')).toEqual([
      'ID                        Format  Status     Records  Created',
      `${ID}  json    completed    1,247  2026-04-23T14:30:00Z`,
      'exp_def456                csv     completed      312  2026-04-23T14:30:00Z',
      '',
    ]);
    expect(io.err()).toBe('More exports: kt export list --limit 10 --cursor eyJrIjoxfQ==\n');
    expect(api.seen[0]?.url).toBe('/v1/exports?limit=10');
  });

  it('passes --cursor on, and says so when a page is empty', async () => {
    api.route('GET /v1/exports', (_req, res) => sendJson(res, 200, { exports: [] }));
    const { context, globals, io } = exportContext(api.url);
    await listExports(context, globals, { limit: 20 });
    await listExports(context, globals, { limit: 20, cursor: 'a b' });
    expect(io.out()).toBe(
      'No exports yet. Create one with: kt export create --from <start> --to <end> --format json\nNo more exports.\n',
    );
    expect(io.err()).toBe('');
    expect(api.seen[1]?.url).toBe('/v1/exports?limit=20&cursor=a+b');
  });

  it('prints the list object as JSON with -o json, hint-free', async () => {
    const page = { exports: [jobView()], cursor: 'next page' };
    api.route('GET /v1/exports', (_req, res) => sendJson(res, 200, page));
    const { context, globals, io } = exportContext(api.url, 'json');
    await listExports(context, globals, { limit: 20 });
    expect(JSON.parse(io.out())).toEqual(page);
    expect(io.err()).toBe('');
  });

  it('quotes a cursor a shell would split', async () => {
    api.route('GET /v1/exports', (_req, res) =>
      sendJson(res, 200, { exports: [jobView()], cursor: "it's next" }),
    );
    const { context, globals, io } = exportContext(api.url);
    await listExports(context, globals, { limit: 20 });
    expect(io.err()).toBe("More exports: kt export list --cursor 'it'\\''s next'\n");
  });
});

describe('kt export delete', () => {
  it('deletes the artifact and says the job stays', async () => {
    const deleted = jobView({ status: 'deleted', deleted: '2026-04-24T08:00:00Z' });
    api.route(`DELETE /v1/exports/${ID}`, (_req, res) => sendJson(res, 200, deleted));
    const human = exportContext(api.url);
    await deleteExport(human.context, human.globals, { id: ID });
    expect(human.io.out()).toBe(
      `✓ Export ${ID} deleted\nThe artifact was removed; the job and its audit entries remain.\n`,
    );
    const json = exportContext(api.url, 'json');
    await deleteExport(json.context, json.globals, { id: ID });
    expect(JSON.parse(json.io.out())).toEqual(deleted);
    expect(api.seen.map((r) => r.method)).toEqual(['DELETE', 'DELETE']);
  });
});

describe('kt export cancel', () => {
  const cancelled = () =>
    jobView({
      status: 'cancelled',
      records: 300,
      bytes: undefined,
      sha256: undefined,
      completed: undefined,
      cancelled: '2026-04-23T14:30:05.000Z',
    });

  it('cancels the export and says so, or prints the job as JSON', async () => {
    api.route(`POST /v1/exports/${ID}/cancel`, (_req, res) => sendJson(res, 200, cancelled()));
    const human = exportContext(api.url);
    await cancelExport(human.context, human.globals, { id: ID });
    expect(human.io.out()).toBe(
      `✓ Export ${ID} cancelled\nNo artifact was published; the job and its audit entries remain.\n`,
    );
    const json = exportContext(api.url, 'json');
    await cancelExport(json.context, json.globals, { id: ID });
    expect(JSON.parse(json.io.out())).toEqual(cancelled());
    expect(api.seen.map((r) => `${r.method} ${r.url} ${r.body}`)).toEqual([
      `POST /v1/exports/${ID}/cancel {}`,
      `POST /v1/exports/${ID}/cancel {}`,
    ]);
  });

  it('exits 1 with the API\'s one line for an export that has finished', async () => {
    const detail = `Export ${ID} is failed; only a queued or running export can be cancelled.`;
    api.route(`POST /v1/exports/${ID}/cancel`, (_req, res) =>
      problem(res, 409, { type: 'urn:keeptrusts:problem:conflict', title: 'Conflict', status: 409, detail }),
    );
    const { context, globals, io } = exportContext(api.url);
    const error = await rejection(cancelExport(context, globals, { id: ID }));
    expect(error).toBeInstanceOf(ApiError);
    expect(exitCodeFor(error)).toBe(1);
    expect(error.message).toBe(detail);
    expect(io.out()).toBe('');
  });

  it('retries a 503, as sending it again is safe', async () => {
    let calls = 0;
    api.route(`POST /v1/exports/${ID}/cancel`, (_req, res) => {
      calls += 1;
      if (calls === 1) problem(res, 503, { status: 503, detail: 'busy' });
      else sendJson(res, 200, cancelled());
    });
    const { context, globals, io } = exportContext(api.url);
    const retrying = { ...context, http: { retry: { attempts: 2 }, sleep: async () => undefined } };
    await cancelExport(retrying, globals, { id: ID });
    expect(calls).toBe(2);
    expect(io.out()).toContain(`✓ Export ${ID} cancelled`);
  });

  it('says which export does not exist, and checks --id before sending', async () => {
    const { context, globals } = exportContext(api.url);
    const missing = await rejection(cancelExport(context, globals, { id: ID }));
    expect(missing.message).toBe(`export ${ID} was not found`);
    const usage = await rejection(cancelExport(context, globals, { id: 'exp_nope' }));
    expect(exitCodeFor(usage)).toBe(2);
    expect(api.seen).toHaveLength(1);
  });
});

describe("kt export create and list check with the API's schema before sending", () => {
  it('refuses a title over 200 characters with exit 2, naming --title, and sends nothing', async () => {
    const { context, globals } = exportContext(api.url);
    const error = await rejection(createExport(context, globals, { ...FLAGS, title: 'x'.repeat(201) }));
    expect(exitCodeFor(error)).toBe(2);
    expect(error.message).toBe('--title must be at most 200 characters');
    expect(api.seen).toHaveLength(0);
  });

  it('names the flag of a filter the API would refuse', async () => {
    const { context, globals } = exportContext(api.url);
    const error = await rejection(createExport(context, globals, { ...FLAGS, team: 'x'.repeat(257) }));
    expect(exitCodeFor(error)).toBe(2);
    expect(error.message).toBe('--filter-team must be at most 256 characters');
    expect(api.seen).toHaveLength(0);
  });

  it("leaves the longest range to the API, which knows the deployment's", async () => {
    api.route('POST /v1/exports', (_req, res) => sendJson(res, 202, queued()));
    const { context, globals } = exportContext(api.url);
    await createExport(context, globals, { ...FLAGS, from: '2024-01-01T00:00:00Z' });
    expect(api.seen).toHaveLength(1);
  });

  it('refuses a cursor no listing hands out before sending', async () => {
    const { context, globals } = exportContext(api.url);
    const error = await rejection(listExports(context, globals, { limit: 20, cursor: 'c'.repeat(1025) }));
    expect(exitCodeFor(error)).toBe(2);
    expect(error.message).toBe('--cursor must be a cursor returned by a previous page of this list');
    expect(api.seen).toHaveLength(0);
  });
});
