import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { createTables } from '../../functions/adapters/dynamodb/create-tables.ts';
import { DynamoJobStore } from '../../functions/adapters/dynamodb/job-store.ts';
import type { Principal } from '../../functions/core/auth/token-record.ts';
import { ConflictError, ValidationError } from '../../functions/core/errors.ts';
import {
  cancelJob,
  deleteJob,
  type ExportJob,
  newExportJob,
  startJob,
} from '../../functions/core/export/export-job.ts';
import type { IdempotencyClaim } from '../../functions/core/ports.ts';
import { type EmbeddedDynamoDb, startEmbeddedDynamoDb } from '../support/embedded-dynamodb.ts';
import { rejection } from '../support/rejection.ts';

/** DynamoJobStore on the real embedded DynamoDB (dynalite), each test on its own tables. */

const PRINCIPAL: Principal = { tokenId: 'tok_0123456789ab', name: 'ci', scopes: ['admin'] };
const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';

/** A well-formed export id that encodes `n`, so ids are distinct and readable in failures. */
function idOf(n: number): string {
  let tail = '';
  let rest = n;
  for (let i = 0; i < 20; i += 1) {
    tail = ALPHABET[rest % 32] + tail;
    rest = Math.floor(rest / 32);
  }
  return `exp_${tail}`;
}

/** A queued job created `minute` minutes after a fixed instant. */
function jobAt(n: number, minute: number, title = `job ${n}`): ExportJob {
  return newExportJob(
    {
      range: { from: '2026-04-01T00:00:00Z', to: '2026-04-30T23:59:59Z' },
      format: 'json',
      title,
      filters: {},
    },
    PRINCIPAL,
    new Date(Date.UTC(2026, 4, 1, 12, minute)),
    idOf(n),
  );
}

let db: EmbeddedDynamoDb;

beforeAll(async () => {
  db = await startEmbeddedDynamoDb();
});

afterAll(async () => db?.close());

let tables = 0;

/** A new control table on the same server, so a listing sees only the jobs of its own test. */
async function freshTable(): Promise<string> {
  tables += 1;
  const names = {
    eventsTable: `${db.tables.eventsTable}-${tables}`,
    controlTable: `${db.tables.controlTable}-${tables}`,
  };
  await createTables(db.client, names);
  return names.controlTable;
}

const freshStore = async () => new DynamoJobStore(db.documents, await freshTable());

describe('createJob / getJob', () => {
  it('stores a new job at revision 1 and reads it back unchanged', async () => {
    const store = await freshStore();
    const job = jobAt(1, 0);
    await store.createJob(job);
    expect(await store.getJob(job.id)).toEqual({ value: job, revision: 1 });
  });

  it('answers undefined for an id that was never stored', async () => {
    const store = await freshStore();
    expect(await store.getJob(idOf(999))).toBeUndefined();
  });

  it('refuses a second job with the same id as a ConflictError and keeps the first', async () => {
    const store = await freshStore();
    const first = jobAt(2, 0, 'first');
    await store.createJob(first);
    const error = await rejection(store.createJob(jobAt(2, 5, 'second')), ConflictError);
    expect(error.message).toContain(first.id);
    expect(await store.getJob(first.id)).toEqual({ value: first, revision: 1 });
  });
});

describe('saveJob', () => {
  it('replaces the job at the revision it was read at and returns the next revision', async () => {
    const store = await freshStore();
    const job = jobAt(3, 0);
    await store.createJob(job);
    const running = startJob(job, new Date('2026-05-01T12:00:01Z'));
    expect(await store.saveJob(running, 1)).toBe(2);
    expect(await store.getJob(job.id)).toEqual({ value: running, revision: 2 });
    const more = { ...running, records: 42 };
    expect(await store.saveJob(more, 2)).toBe(3);
    expect(await store.getJob(job.id)).toEqual({ value: more, revision: 3 });
  });

  it('refuses a stale revision as a ConflictError and changes nothing', async () => {
    const store = await freshStore();
    const job = jobAt(4, 0);
    await store.createJob(job);
    const running = startJob(job, new Date('2026-05-01T12:00:01Z'));
    await store.saveJob(running, 1);
    // A second writer that read revision 1 loses, and so does one that guesses ahead.
    await rejection(store.saveJob({ ...running, records: 7 }, 1), ConflictError);
    await rejection(store.saveJob({ ...running, records: 8 }, 3), ConflictError);
    expect(await store.getJob(job.id)).toEqual({ value: running, revision: 2 });
  });

  it('never saves a cancelled job as anything but cancelled or deleted, even at its current revision', async () => {
    const store = await freshStore();
    const job = jobAt(6, 0);
    await store.createJob(job);
    const running = startJob(job, new Date('2026-05-01T12:00:01Z'));
    await store.saveJob(running, 1);
    const cancelled = cancelJob(running, new Date('2026-05-01T12:00:02Z'));
    await store.saveJob(cancelled, 2);
    // A step that read the cancelled job (revision 3) and wrote it back as running anyway: refused.
    await rejection(store.saveJob({ ...running, records: 9 }, 3), ConflictError);
    await rejection(store.saveJob({ ...cancelled, status: 'completed' }, 3), ConflictError);
    expect(await store.getJob(job.id)).toEqual({ value: cancelled, revision: 3 });
    // Cancelled again (a repeat's bookkeeping) or deleted: allowed.
    await store.saveJob(cancelled, 3);
    const deleted = deleteJob(cancelled, new Date('2026-05-01T12:00:03Z'));
    await store.saveJob(deleted, 4);
    expect(await store.getJob(job.id)).toEqual({ value: deleted, revision: 5 });
  });

  it('refuses to save a job that was never created (no revision matches)', async () => {
    const store = await freshStore();
    const ghost = jobAt(5, 0);
    await rejection(store.saveJob(ghost, 1), ConflictError);
    expect(await store.getJob(ghost.id)).toBeUndefined();
  });
});

describe('listJobs', () => {
  // Created in shuffled order; ids deliberately not in creation order.
  const MINUTES = [7, 2, 11, 0, 5, 9, 1, 12, 3, 8, 4, 10, 6];
  const jobs = MINUTES.map((minute, n) => jobAt(100 + ((n * 7) % MINUTES.length), minute));
  const newestFirst = [...jobs].sort((a, b) => b.createdAt.localeCompare(a.createdAt)).map((job) => job.id);
  let store: DynamoJobStore;

  beforeAll(async () => {
    store = await freshStore();
    for (const job of jobs) await store.createJob(job);
  });

  it('lists every job newest first by createdAt, with no cursor when all fit', async () => {
    const page = await store.listJobs({ limit: 100 });
    expect(page.jobs.map((job) => job.id)).toEqual(newestFirst);
    expect(page.cursor).toBeUndefined();
    expect(page.jobs[0]).toEqual(jobs[MINUTES.indexOf(12)]);
  });

  it.each([1, 2, 4, 5, 13])('pages with limit %i and its cursor without repeats or gaps', async (limit) => {
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await store.listJobs({ limit, ...(cursor === undefined ? {} : { cursor }) });
      expect(page.jobs.length).toBeLessThanOrEqual(limit);
      seen.push(...page.jobs.map((job) => job.id));
      cursor = page.cursor;
      pages += 1;
      expect(pages).toBeLessThanOrEqual(jobs.length + 1);
    } while (cursor !== undefined);
    expect(seen).toEqual(newestFirst);
    expect(pages).toBeGreaterThanOrEqual(Math.ceil(jobs.length / limit));
  });

  it('shows a saved job once, at its creation position, with its latest content', async () => {
    const local = await freshStore();
    const a = jobAt(200, 1);
    const b = jobAt(201, 2);
    await local.createJob(a);
    await local.createJob(b);
    const running = startJob(a, new Date('2026-05-01T13:00:00Z'));
    await local.saveJob(running, 1);
    expect((await local.listJobs({ limit: 10 })).jobs).toEqual([b, running]);
  });

  it('lists nothing, with no cursor, when there are no jobs', async () => {
    const empty = await freshStore();
    expect(await empty.listJobs({ limit: 5 })).toEqual({ jobs: [] });
  });

  const b64 = (value: unknown) => Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');

  it('keeps the cursor opaque: it is base64url, not readable JSON', async () => {
    const { cursor } = await store.listJobs({ limit: 1 });
    expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(() => JSON.parse(cursor!)).toThrow();
  });

  const FORGED: readonly [string, string][] = [
    ['garbage', '!!!not a cursor!!!'],
    ['base64 of text that is not JSON', Buffer.from('hello there').toString('base64url')],
    ['JSON null', b64(null)],
    ['a JSON array', b64(['EXPORT#x', 'JOB', 'JOBS', 'x'])],
    ['a JSON string', b64('JOBS')],
    ['an object missing a key', b64({ pk: 'EXPORT#x', sk: 'JOB', gsi1pk: 'JOBS' })],
    ['an object with an extra key', b64({ pk: 'EXPORT#x', sk: 'JOB', gsi1pk: 'JOBS', gsi1sk: 'a', x: 'y' })],
    ['a number where a string goes', b64({ pk: 'EXPORT#x', sk: 'JOB', gsi1pk: 'JOBS', gsi1sk: 5 })],
    ['another index partition', b64({ pk: 'AUDIT#1', sk: 'ENTRY', gsi1pk: 'AUDIT', gsi1sk: '2026' })],
  ];

  it.each(FORGED)('refuses a forged cursor (%s) as a ValidationError naming cursor', async (_, cursor) => {
    const error = await rejection(store.listJobs({ limit: 3, cursor }), ValidationError);
    expect(error.issues.map((issue) => issue.field)).toEqual(['cursor']);
  });

  it('continues after a well-formed cursor whose position holds no job (it names a place, not an item)', async () => {
    const after = b64({
      pk: `EXPORT#${idOf(105)}`,
      sk: 'JOB',
      gsi1pk: 'JOBS',
      gsi1sk: `2026-05-01T12:06:30.000Z#${idOf(105)}`,
    });
    const page = await store.listJobs({ limit: 100, cursor: after });
    expect(page.jobs.map((job) => job.createdAt)).toEqual(
      jobs
        .map((job) => job.createdAt)
        .filter((created) => created < '2026-05-01T12:06:30.000Z')
        .sort()
        .reverse(),
    );
  });

  // Key values DynamoDB itself refuses (empty, or longer than a key may be) must be the caller's
  // mistake (400), not a failed Query (503).
  it.each([
    ['empty key values', b64({ pk: '', sk: '', gsi1pk: 'JOBS', gsi1sk: '' })],
    ['an oversized key value', b64({ pk: 'x'.repeat(3000), sk: 'JOB', gsi1pk: 'JOBS', gsi1sk: 'z' })],
  ])('refuses a forged cursor (%s) as a ValidationError naming cursor', async (_, cursor) => {
    const error = await rejection(store.listJobs({ limit: 3, cursor }), ValidationError);
    expect(error.issues.map((issue) => issue.field)).toEqual(['cursor']);
  });
});

describe('claimIdempotencyKey', () => {
  const claim = (overrides: Partial<IdempotencyClaim> = {}): IdempotencyClaim => ({
    scope: 'tok_aaaaaaaaaaaa',
    key: 'order-42',
    fingerprint: 'f'.repeat(64),
    exportId: idOf(300),
    ...overrides,
  });

  it('records a first claim and answers the earlier claim, unchanged, on every later one', async () => {
    const store = await freshStore();
    expect(await store.claimIdempotencyKey(claim())).toBeUndefined();
    const again = await store.claimIdempotencyKey(
      claim({ fingerprint: 'e'.repeat(64), exportId: idOf(301) }),
    );
    expect(again).toEqual(claim());
    expect(await store.claimIdempotencyKey(claim({ exportId: idOf(302) }))).toEqual(claim());
  });

  it('keeps scopes independent: the same key under another scope is a new claim', async () => {
    const store = await freshStore();
    expect(await store.claimIdempotencyKey(claim())).toBeUndefined();
    const other = claim({ scope: 'tok_bbbbbbbbbbbb', exportId: idOf(310), fingerprint: 'd'.repeat(64) });
    expect(await store.claimIdempotencyKey(other)).toBeUndefined();
    expect(await store.claimIdempotencyKey(claim({ exportId: idOf(311) }))).toEqual(claim());
    expect(await store.claimIdempotencyKey({ ...other, exportId: idOf(312) })).toEqual(other);
  });

  it('keeps keys independent within a scope, and never creates a job', async () => {
    const store = await freshStore();
    expect(await store.claimIdempotencyKey(claim())).toBeUndefined();
    expect(await store.claimIdempotencyKey(claim({ key: 'order-43', exportId: idOf(320) }))).toBeUndefined();
    expect(await store.getJob(idOf(300))).toBeUndefined();
    expect(await store.listJobs({ limit: 10 })).toEqual({ jobs: [] });
  });

  it('stores the claim where a raw read finds it (an independent check of the write)', async () => {
    const table = await freshTable();
    const store = new DynamoJobStore(db.documents, table);
    await store.claimIdempotencyKey(claim());
    const raw = await db.documents.send(
      new GetCommand({
        TableName: table,
        Key: { pk: 'IDEMPOTENCY#tok_aaaaaaaaaaaa#order-42', sk: 'EXPORT' },
      }),
    );
    expect(raw.Item).toMatchObject({ fingerprint: 'f'.repeat(64), exportId: idOf(300) });
  });
});
