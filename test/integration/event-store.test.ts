import { DeleteCommand } from '@aws-sdk/lib-dynamodb';
import { SHARD_COUNT } from '../../functions/adapters/dynamodb/event-keys.ts';
import { DynamoEventStore, encodeCursor } from '../../functions/adapters/dynamodb/event-store.ts';
import { DynamoTokenStore } from '../../functions/adapters/dynamodb/token-store.ts';
import type { TokenRecord } from '../../functions/core/auth/token-record.ts';
import { ConflictError, DependencyError, ValidationError } from '../../functions/core/errors.ts';
import { canonicalEventJson, type DecisionEvent } from '../../functions/core/events/decision-event.ts';
import { generateDemoEvents } from '../../functions/core/events/demo-events.ts';
import { daysInRange, eventSortKey } from '../../functions/core/events/time-range.ts';
import type { EventFilter } from '../../functions/core/events/event-filter.ts';
import type { StoredEvent } from '../../functions/core/events/stored-event.ts';
import type { EventIdRecord } from '../../functions/core/events/event-identity.ts';
import { countItems } from '../support/count-items.ts';
import { type EmbeddedDynamoDb, startEmbeddedDynamoDb } from '../support/embedded-dynamodb.ts';

/** What the client sent and got back for one Query, as recorded by the spy middleware. */
interface QueryCall {
  readonly indexName: string | undefined;
  readonly partitionKey: string;
  readonly count: number;
  readonly scannedCount: number;
}

let db: EmbeddedDynamoDb;
let store: DynamoEventStore;
let queries: QueryCall[] = [];

/** `:pk` as the document client sends it (a string) or as the low-level client does (`{S}`). */
const partitionKeyOf = (value: unknown): string =>
  typeof value === 'object' && value !== null ? String((value as { S?: unknown }).S) : String(value);
/**
 * When set, BatchWriteItem requests pass only the first n items on and report the rest
 * unprocessed, or fail as a whole when it throws (before the SDK's own retries, which sit below).
 */
let unprocessOnWrite: ((items: unknown[]) => number) | undefined;
/** Id claims (TransactWriteItems) still to fail with a ThrottlingException before reaching dynalite. */
let throttleClaims = 0;
/**
 * When set, id claims are cancelled before reaching dynalite as DynamoDB cancels a transaction
 * whose puts asked for ReturnValuesOnConditionCheckFailure=ALL_OLD: every put's reason is
 * ConditionalCheckFailed with this item. What each refused put asked for is kept in `refusedAsked`.
 */
let refuseClaimsWith: Record<string, unknown> | undefined;
/**
 * When set, a cancelled claim's reasons name only the first refused put (`None` for the rest), as
 * DynamoDB may: its documentation does not promise to name every failed condition.
 */
let nameOnlyFirstRefusal = false;
/** Id-claim transactions sent (each counted once, before the SDK's retries). */
let claimTransactions = 0;
let refusedAsked: unknown[] = [];

const base = (n: number, timestamp: string, overrides: Partial<DecisionEvent> = {}): DecisionEvent => ({
  id: `evt_fixed${String(n).padStart(4, '0')}`,
  timestamp,
  model: 'gpt-4o',
  policy: 'pii-redaction',
  action: 'redact',
  result: 'modified',
  tokens: 10,
  latency_ms: 100,
  team: 'engineering',
  ...overrides,
});

const R1: EventFilter = { from: '2026-03-03T06:00:00Z', to: '2026-03-06T18:30:00Z' };

/** Events on the edges of R1, on day boundaries, sharing an instant, and with '#' in names. */
const EDGE_EVENTS: DecisionEvent[] = [
  base(1, '2026-03-03T05:59:59.999Z'),
  base(2, '2026-03-03T06:00:00Z'),
  base(3, '2026-03-03T06:00:00.000Z', { team: 'support' }),
  base(4, '2026-03-06T18:30:00Z'),
  base(5, '2026-03-06T18:30:00.000Z', { policy: 'content-filter' }),
  base(6, '2026-03-06T18:30:00.001Z'),
  base(7, '2026-03-04T23:59:59.999Z'),
  base(8, '2026-03-05T00:00:00Z'),
  base(9, '2026-03-05T00:00:00.000Z', { team: 'support', policy: 'cost-guard' }),
  // Same instant: order falls back to the id.
  base(12, '2026-03-05T12:00:00Z'),
  base(11, '2026-03-05T12:00:00Z'),
  base(10, '2026-03-05T12:00:00.000Z'),
  // Names with '#': neither may show up under the other's team+policy filter.
  base(20, '2026-03-05T13:00:00Z', { team: 'a#b', policy: 'c' }),
  base(21, '2026-03-05T13:00:00Z', { team: 'a', policy: 'b#c' }),
  base(22, '2026-03-05T13:00:00Z', { team: 'x%23y', policy: 'z' }),
  base(23, '2026-03-05T13:00:00Z', { team: 'x#y', policy: 'z' }),
  // One nanosecond outside R1 on either side: both out.
  base(30, '2026-03-03T05:59:59.999999999Z'),
  base(31, '2026-03-06T18:30:00.000000001Z'),
  // Within one millisecond, time order differs from id order.
  base(39, '2026-03-05T14:00:00.000000001Z'),
  base(38, '2026-03-05T14:00:00.000000002Z'),
  base(37, '2026-03-05T14:00:00.0000005Z'),
  base(36, '2026-03-05T14:00:00.0009Z'),
  base(35, '2026-03-05T14:00:00.000999999Z'),
];

const GENERATED = [
  ...generateDemoEvents({
    count: 3000,
    from: new Date('2026-03-01T00:00:00Z'),
    to: new Date('2026-03-10T23:59:59.999Z'),
    seed: 42,
  }),
];
const ALL_EVENTS = [...GENERATED, ...EDGE_EVENTS];

/** Nanoseconds since the epoch, computed without the code under test. */
function nanosOf(timestamp: string): bigint {
  const fraction = /\.(\d+)Z$/.exec(timestamp)?.[1] ?? '';
  return BigInt(Date.parse(`${timestamp.slice(0, 19)}Z`)) * 1_000_000n + BigInt(fraction.padEnd(9, '0'));
}

/** The answer computed without the store: filter and sort the events in plain JS, at full precision. */
function expected(filter: EventFilter): StoredEvent[] {
  const from = nanosOf(filter.from);
  const to = nanosOf(filter.to);
  return ALL_EVENTS.filter((e) => nanosOf(e.timestamp) >= from && nanosOf(e.timestamp) <= to)
    .filter((e) => filter.team === undefined || e.team === filter.team)
    .filter((e) => filter.policy === undefined || e.policy === filter.policy)
    .sort((a, b) => {
      const byTime = nanosOf(a.timestamp) - nanosOf(b.timestamp);
      return byTime !== 0n ? (byTime < 0n ? -1 : 1) : a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
    })
    .map((e) => ({ sortKey: eventSortKey(e), json: canonicalEventJson(e) }));
}

async function collect(iterable: AsyncIterable<StoredEvent>): Promise<StoredEvent[]> {
  const out: StoredEvent[] = [];
  for await (const event of iterable) out.push(event);
  return out;
}

async function putAll(target: DynamoEventStore, events: readonly DecisionEvent[]): Promise<void> {
  for (let i = 0; i < events.length; i += 500) {
    const result = await target.putEvents(events.slice(i, i + 500));
    expect(result.failed).toEqual([]);
  }
}

beforeAll(async () => {
  db = await startEmbeddedDynamoDb();
  db.client.middlewareStack.add(
    (next) => async (args) => {
      const input = args.input as {
        IndexName?: string;
        KeyConditionExpression?: string;
        ExpressionAttributeValues?: Record<string, unknown>;
        RequestItems?: Record<string, unknown[]>;
        TransactItems?: { Put: { ReturnValuesOnConditionCheckFailure?: string } }[];
      };
      if (input.TransactItems !== undefined) {
        claimTransactions++;
        const puts = input.TransactItems.map((item) => item.Put);
        if (refuseClaimsWith !== undefined) {
          refusedAsked.push(...puts.map((put) => put.ReturnValuesOnConditionCheckFailure));
          throw Object.assign(new Error('Transaction cancelled'), {
            name: 'TransactionCanceledException',
            CancellationReasons: puts.map(() => ({ Code: 'ConditionalCheckFailed', Item: refuseClaimsWith })),
          });
        }
        if (throttleClaims > 0) {
          throttleClaims--;
          throw Object.assign(new Error('slow down'), { name: 'ThrottlingException' });
        }
        if (nameOnlyFirstRefusal) {
          try {
            return await next(args);
          } catch (error) {
            const reasons = (error as { CancellationReasons?: { Code: string }[] }).CancellationReasons ?? [];
            const first = reasons.findIndex((reason) => reason.Code === 'ConditionalCheckFailed');
            (error as { CancellationReasons?: unknown }).CancellationReasons = reasons.map((reason, index) =>
              index === first ? reason : { Code: 'None' },
            );
            throw error;
          }
        }
      }
      if (input.RequestItems !== undefined && unprocessOnWrite !== undefined) {
        const [table, items] = Object.entries(input.RequestItems)[0]!;
        const passed = unprocessOnWrite(items);
        const result = await next({
          ...args,
          input: { ...input, RequestItems: { [table]: items.slice(0, passed) } },
        });
        const rest = items.slice(passed);
        (result.output as { UnprocessedItems?: unknown }).UnprocessedItems = rest.length
          ? { [table]: rest }
          : {};
        return result;
      }
      const result = await next(args);
      if (input.KeyConditionExpression !== undefined) {
        const output = result.output as { Count?: number; ScannedCount?: number };
        queries.push({
          indexName: input.IndexName,
          partitionKey: partitionKeyOf(input.ExpressionAttributeValues?.[':pk']),
          count: output.Count ?? 0,
          scannedCount: output.ScannedCount ?? 0,
        });
      }
      return result;
    },
    { step: 'initialize', name: 'testSpy' },
  );
  store = new DynamoEventStore(db.documents, db.tables.eventsTable, {
    retryBaseDelayMs: 1,
    retryMaxDelayMs: 5,
  });
  await putAll(store, ALL_EVENTS);
});

afterAll(async () => {
  await db?.close();
});

beforeEach(() => {
  queries = [];
  unprocessOnWrite = undefined;
});

describe('DynamoEventStore.streamEvents', () => {
  const WHOLE: EventFilter = { from: '2026-02-28T00:00:00Z', to: '2026-03-11T23:59:59Z' };
  const cases: [string, EventFilter][] = [
    ['everything', WHOLE],
    ['R1', R1],
    ['R1, team', { ...R1, team: 'engineering' }],
    ['R1, policy', { ...R1, policy: 'pii-redaction' }],
    ['R1, team + policy', { ...R1, team: 'support', policy: 'content-filter' }],
    [
      'within one day, policy',
      { from: '2026-03-07T01:00:00Z', to: '2026-03-07T22:00:00.5Z', policy: 'cost-guard' },
    ],
    ['one instant', { from: '2026-03-05T12:00:00Z', to: '2026-03-05T12:00:00Z' }],
    ['day boundary', { from: '2026-03-04T23:59:59.999Z', to: '2026-03-05T00:00:00Z', team: 'support' }],
    ['team with #', { ...R1, team: 'a#b', policy: 'c' }],
    ['team with % and #', { ...R1, team: 'x#y', policy: 'z' }],
    ['no events', { from: '2026-01-01T00:00:00Z', to: '2026-01-03T00:00:00Z' }],
  ];

  it.each(cases)('returns exactly the matching events in (timestamp, id) order: %s', async (_, filter) => {
    const want = expected(filter);
    const got = await collect(store.streamEvents(filter));
    expect(got.length).toBe(want.length);
    expect(got).toEqual(want);
  });

  it('covers the edge events as the rules say', async () => {
    const ids = (await collect(store.streamEvents(R1))).map((e) => JSON.parse(e.json).id as string);
    expect(ids).not.toContain('evt_fixed0001');
    expect(ids).toEqual(
      expect.arrayContaining(['evt_fixed0002', 'evt_fixed0003', 'evt_fixed0004', 'evt_fixed0005']),
    );
    expect(ids).not.toContain('evt_fixed0006');
    const sameInstant = ids.filter((id) => ['evt_fixed0010', 'evt_fixed0011', 'evt_fixed0012'].includes(id));
    expect(sameInstant).toEqual(['evt_fixed0010', 'evt_fixed0011', 'evt_fixed0012']);
    expect(await collect(store.streamEvents({ ...R1, team: 'a', policy: 'b#c' }))).toHaveLength(1);
  });

  it('yields sort keys in strictly increasing order', async () => {
    const got = await collect(
      store.streamEvents({ from: '2026-03-01T00:00:00Z', to: '2026-03-10T23:59:59.999Z' }),
    );
    for (let i = 1; i < got.length; i++) expect(got[i]!.sortKey > got[i - 1]!.sortKey).toBe(true);
    expect(got.length).toBeGreaterThan(3000);
  });

  it('queries only the days in range, every shard of each', async () => {
    await collect(store.streamEvents(R1));
    const days = new Set(queries.map((q) => q.partitionKey.match(/^D#(\d{4}-\d{2}-\d{2})#\d$/)?.[1]));
    expect([...days].sort()).toEqual(daysInRange(R1));
    expect(new Set(queries.map((q) => q.partitionKey)).size).toBe(daysInRange(R1).length * SHARD_COUNT);
    expect(queries.every((q) => q.indexName === undefined)).toBe(true);
  });

  it('reads only the matching items when filtering by team', async () => {
    const filter = { ...R1, team: 'finance' };
    const got = await collect(store.streamEvents(filter));
    expect(got.length).toBeGreaterThan(0);
    expect(queries.every((q) => q.indexName === 'byTeam')).toBe(true);
    expect(queries.reduce((sum, q) => sum + q.scannedCount, 0)).toBe(expected(filter).length);
  });

  it('reads only the matching items when filtering by team and policy', async () => {
    const filter = { ...R1, team: 'engineering', policy: 'prompt-injection' };
    await collect(store.streamEvents(filter));
    expect(queries.every((q) => q.indexName === 'byTeamPolicy')).toBe(true);
    expect(queries.reduce((sum, q) => sum + q.scannedCount, 0)).toBe(expected(filter).length);
  });

  it('resumes after a sort key, with nothing lost or repeated', async () => {
    const filter = { ...R1, policy: 'pii-redaction' };
    const want = expected(filter);
    const head: StoredEvent[] = [];
    for await (const event of store.streamEvents(filter)) {
      head.push(event);
      if (head.length === 150) break;
    }
    const tail = await collect(store.streamEvents(filter, { afterSortKey: head.at(-1)!.sortKey }));
    expect([...head, ...tail]).toEqual(want);
    // A position before the range starts at the range; one after it yields nothing.
    expect(
      await collect(store.streamEvents(filter, { afterSortKey: '2020-01-01T00:00:00.000000000Z#evt_x' })),
    ).toEqual(want);
    expect(
      await collect(store.streamEvents(filter, { afterSortKey: '2030-01-01T00:00:00.000000000Z#evt_x' })),
    ).toEqual([]);
  });

  it('reads lazily: stopping early leaves later days unread, with at most one page read ahead', async () => {
    for await (const _ of store.streamEvents({ from: '2026-03-01T00:00:00Z', to: '2026-03-10T23:59:59Z' }))
      break;
    expect(queries.length).toBeGreaterThanOrEqual(SHARD_COUNT);
    expect(queries.length).toBeLessThanOrEqual(2 * SHARD_COUNT);
    expect(queries.every((q) => q.partitionKey.startsWith('D#2026-03-01#'))).toBe(true);
  });

  it('rejects a malformed afterSortKey', () => {
    expect(() => store.streamEvents(R1, { afterSortKey: 'nonsense' })).toThrow(ValidationError);
  });
});

describe('DynamoEventStore.queryEvents', () => {
  it.each([
    [97, { ...R1, team: 'engineering' }],
    [1000, { from: '2026-03-01T00:00:00Z', to: '2026-03-10T23:59:59.999Z' }],
    [7, { ...R1, team: 'legal', policy: 'content-filter' }],
  ] as const)('pages of %i return every event exactly once', async (limit, filter) => {
    const want = expected(filter).map((e) => JSON.parse(e.json) as DecisionEvent);
    const got: DecisionEvent[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await store.queryEvents(filter, { limit, ...(cursor ? { cursor } : {}) });
      expect(page.events.length).toBeLessThanOrEqual(limit);
      got.push(...page.events);
      cursor = page.cursor;
      pages++;
    } while (cursor !== undefined);
    expect(got).toEqual(want);
    expect(new Set(got.map((e) => e.id)).size).toBe(want.length);
    expect(pages).toBe(Math.max(1, Math.ceil(want.length / limit)));
  });

  it('returns the events as parsed objects, extra fields kept', async () => {
    const page = await store.queryEvents(
      { from: '2026-03-05T13:00:00Z', to: '2026-03-05T13:00:00Z' },
      { limit: 10 },
    );
    expect(page.events).toContainEqual(EDGE_EVENTS.find((e) => e.id === 'evt_fixed0020'));
    expect(page.cursor).toBeUndefined();
  });

  it('does not over-read for a small page', async () => {
    const page = await store.queryEvents(
      { from: '2026-03-01T00:00:00Z', to: '2026-03-10T23:59:59Z' },
      { limit: 10 },
    );
    expect(page.events).toHaveLength(10);
    expect(page.cursor).toBeDefined();
    expect(queries.reduce((sum, q) => sum + q.count, 0)).toBeLessThanOrEqual(40);
  });

  it.each(['', 'not base64!', encodeCursor('2026-13-01T00:00:00.000Z#evt_x'), encodeCursor('hello'), 'YQ=='])(
    'rejects the bad cursor %j naming the cursor field',
    async (cursor) => {
      const error = await store.queryEvents(R1, { limit: 10, cursor }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ValidationError);
      expect((error as ValidationError).issues.map((i) => i.field)).toEqual(['cursor']);
    },
  );

  it.each([0, 1001, 1.5, Number.NaN])('rejects limit %p', async (limit) => {
    const error = await store.queryEvents(R1, { limit }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).issues).toEqual([
      { field: 'limit', rule: 'must be a whole number from 1 to 1000' },
    ]);
  });
});

describe('DynamoEventStore.putEvents', () => {
  it('is idempotent: the same batch twice stores each event once', async () => {
    const before = await countItems(db.client, db.tables.eventsTable);
    expect(before).toBe(ALL_EVENTS.length);
    const batch = ALL_EVENTS.slice(0, 500);
    const result = await store.putEvents(batch);
    expect(result).toEqual({ written: batch.map((e) => e.id), failed: [] });
    expect(await countItems(db.client, db.tables.eventsTable)).toBe(before);
  });

  it('retries items DynamoDB leaves unprocessed until all are written', async () => {
    const batch = [
      ...generateDemoEvents({
        count: 120,
        from: new Date('2026-05-01T00:00:00Z'),
        to: new Date('2026-05-01T23:00:00Z'),
        seed: 5,
      }),
    ];
    let calls = 0;
    // Each request writes only its first 5 items, like a throttled partition would.
    unprocessOnWrite = (items) => {
      calls++;
      return Math.min(5, items.length);
    };
    const result = await store.putEvents(batch);
    expect(result.failed).toEqual([]);
    expect([...result.written].sort()).toEqual(batch.map((e) => e.id).sort());
    expect(calls).toBeGreaterThan(batch.length / 25);
    unprocessOnWrite = undefined;
    const stored = await collect(
      store.streamEvents({ from: '2026-05-01T00:00:00Z', to: '2026-05-01T23:00:00Z' }),
    );
    expect(stored.map((e) => e.json).sort()).toEqual(batch.map(canonicalEventJson).sort());
  });

  it('reports what stays unprocessed after the retry budget, and only that', async () => {
    const tight = new DynamoEventStore(db.documents, db.tables.eventsTable, {
      maxWriteAttempts: 3,
      retryBaseDelayMs: 1,
      retryMaxDelayMs: 2,
    });
    const batch = [
      ...generateDemoEvents({
        count: 60,
        from: new Date('2026-06-01T00:00:00Z'),
        to: new Date('2026-06-01T23:00:00Z'),
        seed: 6,
      }),
    ];
    unprocessOnWrite = (items) => Math.min(5, items.length);
    const result = await tight.putEvents(batch);
    unprocessOnWrite = undefined;
    // 60 events = chunks of 25, 25, 10; each chunk gets 3 attempts of 5 items.
    expect(result.written).toHaveLength(15 + 15 + 10);
    expect(result.failed).toHaveLength(10 + 10);
    expect(new Set([...result.written, ...result.failed.map((f) => f.id)])).toEqual(
      new Set(batch.map((e) => e.id)),
    );
    expect(result.failed[0]!.reason).toMatch(
      /not written after 3 attempts.*unprocessed.*resending it is safe/,
    );
    const stored = await collect(
      store.streamEvents({ from: '2026-06-01T00:00:00Z', to: '2026-06-01T23:00:00Z' }),
    );
    expect(stored.map((e) => JSON.parse(e.json).id).sort()).toEqual([...result.written].sort());
  });

  it('retries a chunk that failed with a throttling error', async () => {
    const batch = [
      ...generateDemoEvents({
        count: 30,
        from: new Date('2026-07-01T00:00:00Z'),
        to: new Date('2026-07-01T23:00:00Z'),
        seed: 7,
      }),
    ];
    let throttled = 0;
    unprocessOnWrite = (items) => {
      if (throttled++ < 3) throw Object.assign(new Error('slow down'), { name: 'ThrottlingException' });
      return items.length;
    };
    const result = await store.putEvents(batch);
    expect(result.failed).toEqual([]);
    expect(result.written).toHaveLength(30);
  });

  it('reports a chunk as failed when throttling outlasts the retry budget', async () => {
    const tight = new DynamoEventStore(db.documents, db.tables.eventsTable, {
      maxWriteAttempts: 2,
      retryBaseDelayMs: 1,
    });
    const batch = [
      ...generateDemoEvents({
        count: 30,
        from: new Date('2026-08-01T00:00:00Z'),
        to: new Date('2026-08-01T23:00:00Z'),
        seed: 8,
      }),
    ];
    unprocessOnWrite = () => {
      throw Object.assign(new Error('Rate exceeded'), { name: 'ProvisionedThroughputExceededException' });
    };
    const result = await tight.putEvents(batch);
    expect(result.written).toEqual([]);
    expect(result.failed.map((f) => f.id)).toEqual(batch.map((e) => e.id));
    expect(result.failed[0]!.reason).toBe(
      'not written after 2 attempts: ProvisionedThroughputExceededException: Rate exceeded; resending it is safe',
    );
  });

  it('wraps DynamoDB failures in DependencyError with the cause', async () => {
    const missing = new DynamoEventStore(db.documents, 'NoSuchTable');
    const write = await missing.putEvents(EDGE_EVENTS.slice(0, 2)).catch((e: unknown) => e);
    expect(write).toBeInstanceOf(DependencyError);
    expect((write as DependencyError).cause).toMatchObject({ name: 'ResourceNotFoundException' });
    const read = await collect(missing.streamEvents(R1)).catch((e: unknown) => e);
    expect(read).toBeInstanceOf(DependencyError);
    expect((read as DependencyError).cause).toMatchObject({ name: 'ResourceNotFoundException' });
  });
});

describe('DynamoEventStore.countEvents', () => {
  it.each([
    ['the range', {}],
    ['a team', { team: 'engineering' }],
    ['a policy', { policy: 'pii-redaction' }],
    ['a team and a policy', { team: 'support', policy: 'cost-guard' }],
    ['names with #', { team: 'a#b', policy: 'c' }],
  ])('counts exactly the events a stream of %s yields, edges at full precision included', async (_, filters) => {
    const filter = { ...R1, ...filters };
    expect(await store.countEvents(filter)).toBe(expected(filter).length);
  });

  it('counts nothing in an empty range, and wraps a failure in DependencyError', async () => {
    expect(await store.countEvents({ from: '2030-01-01T00:00:00Z', to: '2030-01-03T00:00:00Z' })).toBe(0);
    const missing = new DynamoEventStore(db.documents, 'NoSuchTable');
    await expect(missing.countEvents(R1)).rejects.toBeInstanceOf(DependencyError);
  });
});

describe('DynamoEventStore.claimEventIds', () => {
  const record = (
    id: string,
    digest = 'a'.repeat(64),
    timestamp = '2026-09-01T00:00:00Z',
  ): EventIdRecord => ({
    id,
    digest,
    timestamp,
    team: 'engineering',
  });

  it('claims a new id once, and then reports the record it finds, in request order', async () => {
    const first = await store.claimEventIds([record('evt_claim1'), record('evt_claim2', 'b'.repeat(64))]);
    expect(first).toEqual([{ outcome: 'claimed' }, { outcome: 'claimed' }]);
    const again = await store.claimEventIds([
      record('evt_claim3'),
      record('evt_claim2', 'c'.repeat(64), '2026-09-02T00:00:00.5Z'),
      record('evt_claim1'),
    ]);
    expect(again).toEqual([
      { outcome: 'claimed' },
      { outcome: 'recorded', stored: record('evt_claim2', 'b'.repeat(64)) },
      { outcome: 'recorded', stored: record('evt_claim1') },
    ]);
  });

  it('lets exactly one of many concurrent claimants of an id win', async () => {
    const claims = await Promise.all(
      Array.from({ length: 12 }, (_, n) =>
        store.claimEventIds([record('evt_claimrace', String(n).padStart(64, '0'))]),
      ),
    );
    const winners = claims.flat().filter((c) => c.outcome === 'claimed');
    expect(winners).toHaveLength(1);
    const stored = claims.flat().filter((c) => c.outcome === 'recorded');
    expect(stored).toHaveLength(11);
    // Every loser sees the winner's digest: one record, never overwritten.
    expect(new Set(stored.map((c) => (c.outcome === 'recorded' ? c.stored.digest : '')))).toEqual(
      new Set([stored[0]!.outcome === 'recorded' ? stored[0]!.stored.digest : 'x']),
    );
  });

  it('keeps id records out of every range read', async () => {
    await store.claimEventIds([record('evt_claimhidden', 'd'.repeat(64), '2026-03-05T12:00:00Z')]);
    expect(await collect(store.streamEvents(R1))).toEqual(expected(R1));
  });

  it('claims a batch of new ids with one transaction per hundred, and reads nothing first', async () => {
    claimTransactions = 0;
    const ids = Array.from({ length: 250 }, (_, n) => `evt_claimbulk${n}`);
    const claims = await store.claimEventIds(ids.map((id) => record(id)));
    expect(claims.every((claim) => claim.outcome === 'claimed')).toBe(true);
    expect(claimTransactions).toBe(3);
    // A repeat of them all is answered by the cancelled transactions' reasons: still one each.
    claimTransactions = 0;
    const again = await store.claimEventIds(ids.map((id) => record(id)));
    expect(again).toEqual(ids.map((id) => ({ outcome: 'recorded', stored: record(id) })));
    expect(claimTransactions).toBe(3);
  });

  it('answers an id offered twice in one call from its first offer: a repeat, or a conflict', async () => {
    const claims = await store.claimEventIds([
      record('evt_claimtwice'),
      record('evt_claimtwice'),
      record('evt_claimtwice', 'f'.repeat(64)),
    ]);
    expect(claims).toEqual([
      { outcome: 'claimed' },
      { outcome: 'recorded', stored: record('evt_claimtwice') },
      { outcome: 'recorded', stored: record('evt_claimtwice') },
    ]);
  });

  it('settles ids a cancellation did not name with one read, then claims the rest', async () => {
    await store.claimEventIds([record('evt_claimnamed1'), record('evt_claimnamed2', 'b'.repeat(64))]);
    nameOnlyFirstRefusal = true;
    claimTransactions = 0;
    try {
      const claims = await store.claimEventIds([
        record('evt_claimnamed1'),
        record('evt_claimunnamed'),
        record('evt_claimnamed2', 'c'.repeat(64)),
      ]);
      expect(claims).toEqual([
        { outcome: 'recorded', stored: record('evt_claimnamed1') },
        { outcome: 'claimed' },
        { outcome: 'recorded', stored: record('evt_claimnamed2', 'b'.repeat(64)) },
      ]);
      // The cancelled one, then one for the id the read did not find.
      expect(claimTransactions).toBe(2);
    } finally {
      nameOnlyFirstRefusal = false;
    }
  });

  it('takes the record from a refusal that carries it (DynamoDB with ALL_OLD), with no read after', async () => {
    refusedAsked = [];
    refuseClaimsWith = {
      pk: { S: 'ID#evt_claimrefused' },
      sk: { S: 'ID' },
      digest: { S: 'e'.repeat(64) },
      ts: { S: '2026-09-03T00:00:00Z' },
      team: { S: 'support' },
    };
    try {
      // Nothing is stored under this id, so a read after the refusal would find nothing (failed).
      expect(await store.claimEventIds([record('evt_claimrefused')])).toEqual([
        {
          outcome: 'recorded',
          stored: {
            id: 'evt_claimrefused',
            digest: 'e'.repeat(64),
            timestamp: '2026-09-03T00:00:00Z',
            team: 'support',
          },
        },
      ]);
      expect(refusedAsked).toEqual(['ALL_OLD']);
      refuseClaimsWith = { pk: { S: 'ID#evt_claimrefused' }, sk: { S: 'ID' }, digest: { S: 'e'.repeat(64) } };
      const error = await store.claimEventIds([record('evt_claimrefused')]).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(DependencyError);
      expect((error as Error).message).toMatch(/id record of event evt_claimrefused .* is malformed/);
    } finally {
      refuseClaimsWith = undefined;
    }
    // The refusals were made up: nothing was recorded, so the id is still free.
    expect(await store.claimEventIds([record('evt_claimrefused')])).toEqual([{ outcome: 'claimed' }]);
  });

  it('retries a throttled claim and reports one that stays throttled as failed, never as claimed', async () => {
    const tight = new DynamoEventStore(db.documents, db.tables.eventsTable, {
      maxWriteAttempts: 2,
      retryBaseDelayMs: 1,
    });
    throttleClaims = 1;
    expect(await tight.claimEventIds([record('evt_claimok')])).toEqual([{ outcome: 'claimed' }]);
    throttleClaims = 2;
    expect(await tight.claimEventIds([record('evt_claimthrottled')])).toEqual([
      {
        outcome: 'failed',
        reason: 'not recorded after 2 attempts: ThrottlingException: slow down; resending it is safe',
      },
    ]);
    throttleClaims = 0;
    // Failed means not recorded: the next try claims it.
    expect(await tight.claimEventIds([record('evt_claimthrottled')])).toEqual([{ outcome: 'claimed' }]);

    const missing = new DynamoEventStore(db.documents, 'NoSuchTable');
    const error = await missing.claimEventIds([record('evt_claimgone')]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DependencyError);
  });
});

describe('DynamoTokenStore', () => {
  let tokens: DynamoTokenStore;
  beforeAll(() => {
    tokens = new DynamoTokenStore(db.documents, db.tables.controlTable);
  });

  const record = (hash: string, extra: Partial<TokenRecord> = {}): TokenRecord => ({
    tokenHash: hash,
    tokenId: `tok_${hash.slice(0, 12)}`,
    name: 'ci exporter',
    scopes: ['exports:read', 'exports:write'],
    createdAt: '2026-04-01T10:00:00.000Z',
    ...extra,
  });

  it('round-trips a record exactly, optional fields included', async () => {
    const plain = record('a'.repeat(64));
    const full = record('b'.repeat(64), {
      team: 'support',
      revokedAt: '2026-04-02T00:00:00.000Z',
      scopes: [],
    });
    await tokens.putToken(plain);
    await tokens.putToken(full);
    expect(await tokens.getTokenByHash(plain.tokenHash)).toStrictEqual(plain);
    expect(await tokens.getTokenByHash(full.tokenHash)).toStrictEqual(full);
    expect(await tokens.getTokenByHash('c'.repeat(64))).toBeUndefined();
  });

  it('rejects a second token with the same hash and keeps the first', async () => {
    const first = record('d'.repeat(64));
    await tokens.putToken(first);
    await expect(tokens.putToken({ ...first, name: 'impostor' })).rejects.toBeInstanceOf(ConflictError);
    expect(await tokens.getTokenByHash(first.tokenHash)).toStrictEqual(first);
    await db.documents.send(
      new DeleteCommand({
        TableName: db.tables.controlTable,
        Key: { pk: `TOKEN#${first.tokenHash}`, sk: 'TOKEN' },
      }),
    );
  });
});
