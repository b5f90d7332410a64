import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { generateToken, newTokenRecord } from '../../functions/core/auth/tokens.ts';
import type { Scope } from '../../functions/core/auth/token-record.ts';
import type { ExportJobView } from '../../functions/core/export/export-job.ts';
import { LOCAL_RESOURCES, type LocalStack, startLocalStack } from '../../infra/local/local-stack.ts';
import { countItems } from '../support/count-items.ts';
import { NO_RETRY_WAIT, testStackConfig } from '../support/local-stack-config.ts';
import { type CallOptions, callApi, problem } from '../support/call-api.ts';

/**
 * /v1/exports over real HTTP through the local stack: the authorizer and API handlers Lambda
 * runs, the local Step Functions runner, dynalite and s3rver. Expected counts are computed here
 * from the events the test ingests, never read back from the code under test.
 */

const FROM = '2026-04-02T00:00:00Z';
const TO = '2026-04-08T23:59:59Z';
const EXPORT_ID = /^exp_[0-9abcdefghjkmnpqrstvwxyz]{20}$/;

interface TestEvent {
  readonly id: string;
  readonly timestamp: string;
  readonly team: string;
  readonly policy: string;
  readonly [field: string]: unknown;
}

/** 360 events over 2026-04-01..10 (a few outside the range), plus events exactly on its edges. */
const EVENTS: TestEvent[] = [
  ...Array.from({ length: 360 }, (_, n) => ({
    id: `evt_xa${String(n).padStart(5, '0')}`,
    // 40 minutes apart from 2026-04-01T00:00:00Z: spans 10 days.
    timestamp: new Date(Date.UTC(2026, 3, 1) + n * 40 * 60_000).toISOString().replace('.000Z', 'Z'),
    model: 'gpt-4o-mini',
    policy: n % 3 === 0 ? 'pii-redaction' : 'cost-guard',
    action: 'redact',
    result: 'modified',
    tokens: 100 + n,
    latency_ms: 250,
    team: n % 2 === 0 ? 'engineering' : 'support',
  })),
  ...[
    ['evt_edge1', '2026-04-01T23:59:59.999Z'],
    ['evt_edge2', FROM],
    ['evt_edge3', TO],
    ['evt_edge4', '2026-04-08T23:59:59.001Z'],
  ].map(([id, timestamp]) => ({
    id: id!,
    timestamp: timestamp!,
    model: 'gpt-4o',
    policy: 'pii-redaction',
    action: 'block',
    result: 'blocked',
    tokens: 1,
    latency_ms: 1,
    team: 'engineering',
  })),
];

/** Independent count: inclusive range, exact-match filters. */
const expectedIds = (filters: { team?: string; policy?: string } = {}) =>
  EVENTS.filter(
    (event) =>
      Date.parse(event.timestamp) >= Date.parse(FROM) &&
      Date.parse(event.timestamp) <= Date.parse(TO) &&
      (filters.team === undefined || event.team === filters.team) &&
      (filters.policy === undefined || event.policy === filters.policy),
  ).map((event) => event.id);

let stack: LocalStack;
let dataDir: string;
const failures: string[] = [];

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(tmpdir(), 'kt-export-api-'));
  stack = await startLocalStack(testStackConfig(dataDir), {
    retryIntervalOverrides: NO_RETRY_WAIT,
    onExportFailed: (id, error) => failures.push(`${id}: ${String(error)}`),
  });
  const response = await call('POST', '/v1/events', { body: { events: EVENTS } });
  expect(response.status).toBe(200);
  expect(await response.json()).toMatchObject({
    received: EVENTS.length,
    written: EVENTS.length,
    failed: [],
  });
}, 60_000);

afterAll(async () => {
  await stack?.workflow.idle();
  await stack?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

const call = (method: string, route: string, options: CallOptions = {}) =>
  callApi(stack, method, route, options);

const validBody = (overrides: Record<string, unknown> = {}) => ({
  from: FROM,
  to: TO,
  format: 'json',
  ...overrides,
});

async function createExport(body: unknown, options: Omit<CallOptions, 'body'> = {}): Promise<ExportJobView> {
  const response = await call('POST', '/v1/exports', { ...options, body });
  expect(response.status).toBe(202);
  return (await response.json()) as ExportJobView;
}

async function getJob(id: string, token?: string): Promise<ExportJobView> {
  const response = await call('GET', `/v1/exports/${id}`, token === undefined ? {} : { token });
  expect(response.status).toBe(200);
  return (await response.json()) as ExportJobView;
}

/** Polls GET /v1/exports/{id} until the job has an outcome. */
async function finished(id: string, token?: string): Promise<ExportJobView> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const job = await getJob(id, token);
    if (job.status !== 'queued' && job.status !== 'running') return job;
    if (Date.now() > deadline) throw new Error(`export ${id} still ${job.status}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Every job in GET /v1/exports, page by page with `limit`. */
async function listAll(limit: number, token?: string): Promise<{ jobs: ExportJobView[]; pages: number }> {
  const jobs: ExportJobView[] = [];
  let cursor: string | undefined;
  let pages = 0;
  do {
    const query = `?limit=${limit}${cursor === undefined ? '' : `&cursor=${encodeURIComponent(cursor)}`}`;
    const response = await call('GET', `/v1/exports${query}`, token === undefined ? {} : { token });
    expect(response.status).toBe(200);
    const page = (await response.json()) as { exports: ExportJobView[]; cursor?: string };
    expect(page.exports.length).toBeLessThanOrEqual(limit);
    jobs.push(...page.exports);
    cursor = page.cursor;
    pages += 1;
    if (pages > 1000) throw new Error('the listing never ends');
  } while (cursor !== undefined);
  return { jobs, pages };
}

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

/** Every item in the control table (jobs, claims, audit entries), once no workflow is writing. */
async function controlItems(): Promise<number> {
  await stack.workflow.idle();
  return countItems(stack.adapters.clients.dynamodb, LOCAL_RESOURCES.controlTable);
}
const ids = async (token?: string) => (await listAll(100, token)).jobs.map((job) => job.id);
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

describe('POST /v1/exports → GET → download → DELETE', () => {
  let job: ExportJobView;

  it('answers 202 with the queued job view under a new exp_ id', async () => {
    const response = await call('POST', '/v1/exports', { body: validBody({ title: 'Q2 evidence' }) });
    expect(response.status).toBe(202);
    expect(response.headers.get('content-type')).toBe('application/json');
    job = (await response.json()) as ExportJobView;
    expect(job.id).toMatch(EXPORT_ID);
    expect(job).toEqual({
      id: job.id,
      status: 'queued',
      format: 'json',
      title: 'Q2 evidence',
      range: { from: FROM, to: TO },
      filters: {},
      records: 0,
      created: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
    });
  });

  it('completes with exactly the records in range (counted independently)', async () => {
    const done = await finished(job.id);
    expect(failures).toEqual([]);
    expect(done.status).toBe('completed');
    expect(done.records).toBe(expectedIds().length);
    expect(done.records).toBeGreaterThan(200);
    expect(done.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(done.created).toBe(job.created);
    expect(Object.hasOwn(done, 'progress')).toBe(false);
  });

  it('downloads: a URL whose bytes hash to the sha256 and hold exactly the events in range', async () => {
    const response = await call('GET', `/v1/exports/${job.id}/download`);
    expect(response.status).toBe(200);
    const download = (await response.json()) as {
      url: string;
      bytes: number;
      sha256: string;
      filename: string;
    };
    const view = await getJob(job.id);
    expect(download).toMatchObject({ bytes: view.bytes, sha256: view.sha256, filename: `${job.id}.json` });
    const file = await fetch(download.url);
    expect(file.status).toBe(200);
    const bytes = new Uint8Array(await file.arrayBuffer());
    expect(bytes.length).toBe(download.bytes);
    expect(sha256(bytes)).toBe(download.sha256);
    const artifact = JSON.parse(Buffer.from(bytes).toString('utf8')) as {
      export: { id: string; title: string };
      events: { id: string }[];
      summary: { record_count: number };
    };
    expect(artifact.export).toMatchObject({ id: job.id, title: 'Q2 evidence' });
    expect(artifact.events.map((event) => event.id).sort()).toEqual(expectedIds().sort());
    expect(artifact.summary.record_count).toBe(expectedIds().length);
  });

  it('DELETE answers the deleted job, twice, and the download is then a 409 naming the deletion', async () => {
    const url = ((await (await call('GET', `/v1/exports/${job.id}/download`)).json()) as { url: string }).url;
    const first = await call('DELETE', `/v1/exports/${job.id}`);
    expect(first.status).toBe(200);
    const deleted = (await first.json()) as ExportJobView;
    expect(deleted).toMatchObject({ id: job.id, status: 'deleted', records: expectedIds().length });
    expect(deleted.deleted).toEqual(expect.any(String));

    const second = await call('DELETE', `/v1/exports/${job.id}`);
    expect(second.status).toBe(200);
    expect(await second.json()).toEqual(deleted);
    expect(await getJob(job.id)).toEqual(deleted);

    const details = await problem(await call('GET', `/v1/exports/${job.id}/download`), 409);
    expect(details.detail).toMatch(/deleted/);
    // The artifact itself is gone, not just hidden: a URL signed before the delete finds nothing.
    expect((await fetch(url)).status).toBe(404);
  });
});

describe('POST /v1/exports with an invalid body', () => {
  const INVALID: readonly [string, unknown, readonly string[]][] = [
    ['from after to', validBody({ from: TO, to: FROM }), ['from']],
    ['a timestamp that is not ISO 8601 UTC', validBody({ from: '2026-04-02 00:00' }), ['from']],
    ['a non-UTC offset', validBody({ to: '2026-04-08T23:59:59+02:00' }), ['to']],
    ['an unknown field', validBody({ colour: 'red' }), ['colour']],
    ['a page size on a csv export', validBody({ format: 'csv', pageSize: 'letter' }), ['pageSize']],
    ['an unknown page size', validBody({ format: 'pdf', pageSize: 'a3' }), ['pageSize']],
    ['an unknown format', validBody({ format: 'xml' }), ['format']],
    ['a filter that is not an object', validBody({ filters: 'engineering' }), ['filters']],
    [
      'an empty team filter and an unknown filter',
      validBody({ filters: { team: '', region: 'eu' } }),
      ['filters.team', 'filters.region'],
    ],
    ['a range over a year', validBody({ from: '2025-01-01T00:00:00Z', to: '2026-04-01T00:00:00Z' }), ['to']],
    [
      'several problems at once',
      { from: 'yesterday', format: 'xml', extra: 1 },
      ['from', 'to', 'format', 'extra'],
    ],
    ['a body that is not an object', [validBody()], ['(body)']],
  ];

  it.each(INVALID)(
    '%s → 400 problem+json naming each field, and nothing is created',
    async (_, body, fields) => {
      const before = { items: await controlItems(), jobs: await ids() };
      const details = await problem(await call('POST', '/v1/exports', { body }), 400);
      expect(details.type).toBe('urn:keeptrusts:problem:validation');
      expect(details.errors?.map((issue) => issue.field).sort()).toEqual([...fields].sort());
      expect(await ids()).toEqual(before.jobs);
      expect(await controlItems()).toBe(before.items);
    },
  );

  it('accepts a pdf export with its page size, and shows the page size on the job', async () => {
    const response = await call('POST', '/v1/exports', {
      body: validBody({ format: 'pdf', pageSize: 'letter' }),
    });
    expect(response.status).toBe(202);
    expect(await response.json()).toMatchObject({ format: 'pdf', pageSize: 'letter', status: 'queued' });
  });

  it('refuses a body that is not JSON, naming the body', async () => {
    const details = await problem(await call('POST', '/v1/exports', { body: '{"from": ' }), 400);
    expect(details.errors).toEqual([{ field: 'body', rule: 'must be valid JSON' }]);
  });
});

describe('GET /v1/exports/{id} for an export that does not exist', () => {
  it.each([
    ['an unknown well-formed id', 'exp_00000000000000000000'],
    ['a malformed id', 'not-an-export'],
    ['an id with letters outside the alphabet', 'exp_ILOU0000000000000000'],
  ])('%s → 404 problem+json, for the job, its download and its deletion', async (_, id) => {
    for (const [method, route] of [
      ['GET', `/v1/exports/${id}`],
      ['GET', `/v1/exports/${id}/download`],
      ['DELETE', `/v1/exports/${id}`],
    ] as const) {
      const details = await problem(await call(method, route), 404);
      expect(details.type).toBe('urn:keeptrusts:problem:not_found');
      expect(details.detail).toContain(id);
    }
  });
});

describe('Idempotency-Key', () => {
  it('the same key and body twice → the same job, and only one job in the list', async () => {
    const key = `idem-${Date.now()}`;
    const before = (await listAll(100)).jobs.length;
    const body = validBody({ format: 'csv', filters: { policy: 'pii-redaction' } });
    const first = await createExport(body, { headers: { 'idempotency-key': key } });
    // Same request, keys in another order: the same request by value.
    const again = await createExport(
      { filters: { policy: 'pii-redaction' }, format: 'csv', to: TO, from: FROM },
      { headers: { 'idempotency-key': key } },
    );
    expect(again.id).toBe(first.id);
    const { jobs } = await listAll(100);
    expect(jobs).toHaveLength(before + 1);
    expect(jobs.filter((job) => job.id === first.id)).toHaveLength(1);
    const done = await finished(first.id);
    expect(done.records).toBe(expectedIds({ policy: 'pii-redaction' }).length);
    // After it finished, the key still answers the same job (now completed).
    const later = await createExport(body, { headers: { 'idempotency-key': key } });
    expect(later).toEqual(done);
    expect((await listAll(100)).jobs).toHaveLength(before + 1);
  });

  it('the same key with a different body → 409 and nothing created', async () => {
    const key = `idem-other-${Date.now()}`;
    await createExport(validBody(), { headers: { 'idempotency-key': key } });
    const before = { items: await controlItems(), jobs: await ids() };
    const details = await problem(
      await call('POST', '/v1/exports', {
        body: validBody({ format: 'csv' }),
        headers: { 'idempotency-key': key },
      }),
      409,
    );
    expect(details.detail).toMatch(/Idempotency-Key/);
    expect(await ids()).toEqual(before.jobs);
    expect(await controlItems()).toBe(before.items);
  });

  it('refuses a malformed key with a 400 naming the header', async () => {
    const details = await problem(
      await call('POST', '/v1/exports', { body: validBody(), headers: { 'idempotency-key': 'has a space' } }),
      400,
    );
    expect(details.errors?.map((issue) => issue.field)).toEqual(['Idempotency-Key']);
  });
});

describe('GET /v1/exports paging', () => {
  it('limit=1 pages through every job, newest first, without repeats or gaps', async () => {
    const all = (await listAll(100)).jobs;
    expect(all.length).toBeGreaterThanOrEqual(3);
    const newestFirst = [...all].sort(
      (a, b) => b.created.localeCompare(a.created) || b.id.localeCompare(a.id),
    );
    expect(all.map((job) => job.id)).toEqual(newestFirst.map((job) => job.id));
    const paged = await listAll(1);
    expect(paged.jobs.map((job) => job.id)).toEqual(all.map((job) => job.id));
    expect(paged.pages).toBeGreaterThanOrEqual(all.length);
    const byTwo = await listAll(2);
    expect(byTwo.jobs.map((job) => job.id)).toEqual(all.map((job) => job.id));
  });

  it('an unknown parameter → 400 naming it and the parameters the listing takes', async () => {
    const details = await problem(await call('GET', '/v1/exports?limit=5&foo=1'), 400);
    expect(details.errors).toEqual([{ field: 'foo', rule: 'is not a parameter of the export listing (limit, cursor)' }]);
  });

  it('an unknown download parameter → 400 naming it', async () => {
    const details = await problem(await call('GET', '/v1/exports/exp_0000000000000000000a/download?files=companion'), 400);
    expect(details.errors).toEqual([{ field: 'files', rule: 'is not a parameter of a download (file)' }]);
  });

  it.each(['0', '101', '-1', '1.5', 'ten'])('limit=%s → 400 naming limit', async (limit) => {
    const details = await problem(await call('GET', `/v1/exports?limit=${limit}`), 400);
    expect(details.errors?.map((issue) => issue.field)).toEqual(['limit']);
  });

  it.each([
    ['garbage', 'not-a-cursor!'],
    [
      'a cursor of another partition',
      Buffer.from(JSON.stringify({ pk: 'a', sk: 'b', gsi1pk: 'AUDIT', gsi1sk: 'c' })).toString('base64url'),
    ],
  ])('a forged cursor (%s) → 400 naming cursor', async (_, cursor) => {
    const details = await problem(await call('GET', `/v1/exports?cursor=${encodeURIComponent(cursor)}`), 400);
    expect(details.errors?.map((issue) => issue.field)).toEqual(['cursor']);
  });
});

describe('tokens restricted by team or scope', () => {
  let engineering: string;
  let adminSupportExport: ExportJobView;

  beforeAll(async () => {
    engineering = await addToken(['exports:read', 'exports:write'], 'engineering');
    adminSupportExport = await createExport(validBody({ filters: { team: 'support' } }));
  });

  it('a team token creating an export without filters gets its own team as the filter', async () => {
    const own = await createExport(validBody(), { token: engineering });
    expect(own.filters).toEqual({ team: 'engineering' });
    const done = await finished(own.id, engineering);
    expect(done.status).toBe('completed');
    expect(done.records).toBe(expectedIds({ team: 'engineering' }).length);
    expect(done.records).toBeLessThan(expectedIds().length);
  });

  it('cannot see, download or delete an export of another team (404), nor find it in the list', async () => {
    const admin = await finished(adminSupportExport.id);
    expect(admin.records).toBe(expectedIds({ team: 'support' }).length);
    for (const [method, route] of [
      ['GET', `/v1/exports/${admin.id}`],
      ['GET', `/v1/exports/${admin.id}/download`],
      ['DELETE', `/v1/exports/${admin.id}`],
    ] as const) {
      await problem(await call(method, route, { token: engineering }), 404);
    }
    expect((await getJob(admin.id)).status).toBe('completed');
    for (const limit of [1, 100]) {
      const listed = (await listAll(limit, engineering)).jobs;
      expect(listed.length).toBeGreaterThan(0);
      expect(listed.map((job) => job.id)).not.toContain(admin.id);
      expect(listed.every((job) => job.filters.team === 'engineering')).toBe(true);
    }
    // The admin sees both teams' exports.
    expect((await listAll(100)).jobs.map((job) => job.id)).toContain(admin.id);
  });

  it('a team token asking for another team is refused (403) and nothing is created', async () => {
    const before = { items: await controlItems(), jobs: await ids() };
    const details = await problem(
      await call('POST', '/v1/exports', {
        token: engineering,
        body: validBody({ filters: { team: 'support' } }),
      }),
      403,
    );
    expect(details.detail).toContain('engineering');
    expect(await ids()).toEqual(before.jobs);
    expect(await controlItems()).toBe(before.items);
  });

  it('a token without exports:write gets 403 on POST and DELETE, and creates nothing', async () => {
    const reader = await addToken(['exports:read']);
    const before = { items: await controlItems(), jobs: await ids() };
    const details = await problem(
      await call('POST', '/v1/exports', { token: reader, body: validBody() }),
      403,
    );
    expect(details.detail).toContain('exports:write');
    await problem(await call('DELETE', `/v1/exports/${adminSupportExport.id}`, { token: reader }), 403);
    expect(await ids(reader)).toEqual(before.jobs);
    expect(await controlItems()).toBe(before.items);
    expect((await getJob(adminSupportExport.id)).status).toBe('completed');
  });

  it('a token without exports:read gets 403 on GET', async () => {
    const writer = await addToken(['events:write']);
    await problem(await call('GET', '/v1/exports', { token: writer }), 403);
    await problem(await call('GET', `/v1/exports/${adminSupportExport.id}`, { token: writer }), 403);
  });
});
