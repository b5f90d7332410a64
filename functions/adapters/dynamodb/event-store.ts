import {
  type AttributeValue,
  type CancellationReason,
  QueryCommand,
  type QueryCommandOutput,
  type TransactWriteItem,
  TransactWriteItemsCommand,
} from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  type BatchGetCommandOutput,
  BatchWriteCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import { DependencyError, ValidationError } from '../../core/errors.ts';
import { type DecisionEvent, isoUtcTimestamp } from '../../core/events/decision-event.ts';
import { daysInRange, sortableInstant } from '../../core/events/time-range.ts';
import type { EventFilter } from '../../core/events/event-filter.ts';
import type { EventIdClaim, EventIdRecord } from '../../core/events/event-identity.ts';
import type { StoredEvent } from '../../core/events/stored-event.ts';
import type { EventPage, EventStore, PutEventsResult } from '../../core/ports.ts';
import { backoffMs, describe, errorName, isRetryable, sleep } from '../aws-call.ts';
import { dayPartitions, type EventItem, eventIdKey, eventItem, SHARD_COUNT } from './event-keys.ts';

export interface DynamoEventStoreOptions {
  /** BatchWriteItem requests in flight at once. */
  readonly writeConcurrency?: number;
  /** TransactWriteItems claiming ids (100 a request) in flight at once. */
  readonly claimConcurrency?: number;
  /** Attempts per 25-item chunk (first try included) before its leftovers are reported failed. */
  readonly maxWriteAttempts?: number;
  /** Backoff base and cap for those retries; the delay is drawn uniformly below the capped exponential. */
  readonly retryBaseDelayMs?: number;
  readonly retryMaxDelayMs?: number;
}

const BATCH_WRITE_LIMIT = 25;
const BATCH_GET_LIMIT = 100;
const TRANSACT_WRITE_LIMIT = 100;
const COUNT_CONCURRENCY = 16;
const MAX_QUERY_PAGE = 1000;
const STREAM_FIRST_PAGE = 100;
export const MAX_PAGE_LIMIT = 1000;

// Above every id character, so `<instant>#\uffff` bounds all events at that instant.
const AFTER_LAST_ID = '#\uffff';
const SORT_KEY = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{9}Z#evt_[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;

/**
 * Decision events in DynamoDB (layout in event-keys.ts). Reads go day by day over only the days
 * in range, query the shard partitions of the narrowest index lazily, and merge them by sk.
 */
export class DynamoEventStore implements EventStore {
  private readonly writeConcurrency: number;
  private readonly claimConcurrency: number;
  private readonly maxWriteAttempts: number;
  private readonly retryBaseDelayMs: number;
  private readonly retryMaxDelayMs: number;

  constructor(
    private readonly documents: DynamoDBDocumentClient,
    private readonly tableName: string,
    options: DynamoEventStoreOptions = {},
  ) {
    this.writeConcurrency = options.writeConcurrency ?? 4;
    this.claimConcurrency = options.claimConcurrency ?? 4;
    this.maxWriteAttempts = options.maxWriteAttempts ?? 8;
    this.retryBaseDelayMs = options.retryBaseDelayMs ?? 50;
    this.retryMaxDelayMs = options.retryMaxDelayMs ?? 2000;
  }

  async claimEventIds(records: readonly EventIdRecord[]): Promise<readonly EventIdClaim[]> {
    // The first offer of each id is claimed; an id offered again in the same call is answered from
    // what its first offer found (one transaction may not name an item twice).
    const firstOffer = new Map<string, number>();
    records.forEach((record, index) => {
      if (!firstOffer.has(record.id)) firstOffer.set(record.id, index);
    });
    const claims = new Map<string, EventIdClaim>();
    const toClaim = [...firstOffer.values()].map((index) => records[index]!);
    await runPool(chunk(toClaim, TRANSACT_WRITE_LIMIT), this.claimConcurrency, async (group) => {
      for (const [id, claim] of await this.claimGroup(group)) claims.set(id, claim);
    });
    return records.map((record, index) => {
      const first = firstOffer.get(record.id)!;
      const claim = claims.get(record.id)!;
      return first !== index && claim.outcome === 'claimed'
        ? { outcome: 'recorded', stored: records[first]! }
        : claim;
    });
  }

  /**
   * Claims the ids of `group` (at most 100, distinct) with one TransactWriteItems of conditional
   * puts: new events cost one request per hundred, and nothing is read first. A transaction is all
   * or nothing: when some ids are recorded already (a retry, or a concurrent writer), DynamoDB
   * cancels it and names them with their records (ReturnValuesOnConditionCheckFailure). Its
   * reasons need not name every recorded id, so one consistent read then settles the rest before
   * they are claimed again. Only an attempt that settles nothing (throttling, a conflict with a
   * concurrent transaction on the same ids) counts against the attempts and waits. A put in a
   * transaction costs two write units on AWS; an id record is under 1 KB, so two per new event.
   */
  private async claimGroup(group: readonly EventIdRecord[]): Promise<Map<string, EventIdClaim>> {
    const outcomes = new Map<string, EventIdClaim>();
    let pending = group;
    let lastProblem = '';
    for (let failures = 0; pending.length > 0 && failures < this.maxWriteAttempts; ) {
      const attempt = await this.recordIds(pending);
      if (attempt.claimed) {
        for (const record of pending) outcomes.set(record.id, { outcome: 'claimed' });
        return outcomes;
      }
      lastProblem = attempt.problem;
      const unnamed: EventIdRecord[] = [];
      const taken: string[] = [];
      pending.forEach((record, index) => {
        const reason = attempt.reasons?.[index];
        if (reason?.Code !== 'ConditionalCheckFailed') unnamed.push(record);
        else if (reason.Item === undefined) taken.push(record.id);
        else {
          const { digest, ts, team } = reason.Item;
          outcomes.set(
            record.id,
            this.recordedClaim(record.id, { digest: digest?.S, ts: ts?.S, team: team?.S }),
          );
        }
      });
      const recorded =
        unnamed.length < pending.length
          ? await this.readIdRecords([...taken, ...unnamed.map((r) => r.id)])
          : new Map();
      for (const [id, claim] of recorded) outcomes.set(id, claim);
      for (const id of taken.filter((id) => !recorded.has(id))) {
        // A record that refused our put a moment ago cannot vanish (nothing deletes them): unreadable now.
        outcomes.set(id, {
          outcome: 'failed',
          reason: 'its id record could not be read back; resending it is safe',
        });
      }
      const next = unnamed.filter((record) => !recorded.has(record.id));
      if (next.length === pending.length) await sleep(this.backoffMs(++failures));
      pending = next;
    }
    for (const record of pending) {
      outcomes.set(record.id, {
        outcome: 'failed',
        reason: `not recorded after ${this.maxWriteAttempts} attempts: ${lastProblem}; resending it is safe`,
      });
    }
    return outcomes;
  }

  /** One TransactWriteItems recording `records`; a cancellation or a retryable error is an answer. */
  private async recordIds(
    records: readonly EventIdRecord[],
  ): Promise<
    { claimed: true } | { claimed: false; reasons?: readonly CancellationReason[]; problem: string }
  > {
    try {
      await this.documents.send(
        new TransactWriteItemsCommand({ TransactItems: records.map(idRecordPut(this.tableName)) }),
      );
      return { claimed: true };
    } catch (error) {
      const reasons = cancellationReasons(error);
      const invalid = reasons?.find((reason) => reason.Code === 'ValidationError');
      if ((reasons === undefined && !isRetryable(error)) || invalid !== undefined) {
        const why = invalid?.Message ?? describe(error);
        throw new DependencyError(`Recording event ids in ${this.tableName} failed: ${why}`, {
          cause: error,
        });
      }
      return {
        claimed: false,
        reasons,
        problem:
          reasons === undefined ? describe(error) : [...new Set(reasons.map((r) => r.Code))].join(', '),
      };
    }
  }

  /** An id record's fields, as read or as a refusal returned them; malformed ones are refused. */
  private recordedClaim(id: string, { digest, ts, team }: Record<string, unknown>): EventIdClaim {
    if (typeof digest !== 'string' || typeof ts !== 'string' || typeof team !== 'string') {
      throw new DependencyError(`The id record of event ${id} in ${this.tableName} is malformed.`);
    }
    return { outcome: 'recorded', stored: { id, digest, timestamp: ts, team } };
  }

  /** The id records of `ids`, read consistently (they were written a moment ago). */
  private async readIdRecords(ids: readonly string[]): Promise<Map<string, EventIdClaim>> {
    const found = new Map<string, EventIdClaim>();
    for (const keys of chunk(ids.map(eventIdKey), BATCH_GET_LIMIT)) {
      let pending: Record<string, unknown>[] = keys;
      for (let attempt = 0; pending.length > 0 && attempt < this.maxWriteAttempts; attempt++) {
        if (attempt > 0) await sleep(this.backoffMs(attempt));
        let output: BatchGetCommandOutput;
        try {
          output = await this.documents.send(
            new BatchGetCommand({
              RequestItems: { [this.tableName]: { Keys: pending, ConsistentRead: true } },
            }),
          );
        } catch (error) {
          if (!isRetryable(error)) {
            throw new DependencyError(
              `Reading event id records from ${this.tableName} failed: ${describe(error)}`,
              {
                cause: error,
              },
            );
          }
          continue;
        }
        for (const item of output.Responses?.[this.tableName] ?? []) {
          const id = String(item.pk).slice('ID#'.length);
          found.set(id, this.recordedClaim(id, item));
        }
        pending = output.UnprocessedKeys?.[this.tableName]?.Keys ?? [];
      }
    }
    return found;
  }

  async putEvents(events: readonly DecisionEvent[]): Promise<PutEventsResult> {
    // One BatchWriteItem may not name the same key twice; a repeat would overwrite it anyway.
    const byKey = new Map<string, EventItem>();
    for (const event of events) {
      const item = eventItem(event);
      byKey.set(`${item.pk}\n${item.sk}`, item);
    }
    const chunks = chunk([...byKey.values()], BATCH_WRITE_LIMIT);
    const failures = new Map<string, string>();
    await runPool(chunks, this.writeConcurrency, async (items) => {
      for (const { id, reason } of await this.writeChunk(items)) failures.set(id, reason);
    });
    const ids = [...new Set(events.map((event) => event.id))];
    return {
      written: ids.filter((id) => !failures.has(id)),
      failed: ids.filter((id) => failures.has(id)).map((id) => ({ id, reason: failures.get(id)! })),
    };
  }

  /** Writes one chunk, retrying what DynamoDB left unprocessed; returns what never got written. */
  private async writeChunk(items: readonly EventItem[]): Promise<{ id: string; reason: string }[]> {
    let pending: { PutRequest: { Item: Record<string, unknown> } }[] = items.map((item) => ({
      PutRequest: { Item: { ...item } },
    }));
    let lastProblem = '';
    for (let attempt = 0; attempt < this.maxWriteAttempts; attempt++) {
      if (attempt > 0) await sleep(this.backoffMs(attempt));
      try {
        const output = await this.documents.send(
          new BatchWriteCommand({ RequestItems: { [this.tableName]: pending } }),
        );
        const unprocessed = output.UnprocessedItems?.[this.tableName] ?? [];
        if (unprocessed.length === 0) return [];
        pending = unprocessed.flatMap((request) => {
          const item = request.PutRequest?.Item;
          return item === undefined ? [] : [{ PutRequest: { Item: item } }];
        });
        lastProblem = 'DynamoDB left it unprocessed (throttled)';
      } catch (error) {
        if (!isRetryable(error)) {
          throw new DependencyError(
            `Writing decision events to ${this.tableName} failed: ${describe(error)}. ` +
              'Some events may be stored already; resending the batch is safe.',
            { cause: error },
          );
        }
        lastProblem = describe(error);
      }
    }
    const reason = `not written after ${this.maxWriteAttempts} attempts: ${lastProblem}; resending it is safe`;
    return pending.map((request) => ({ id: idOfSortKey(String(request.PutRequest.Item.sk)), reason }));
  }

  private backoffMs(attempt: number): number {
    // Full jitter: concurrent writers that were throttled together do not retry together.
    return backoffMs(attempt, this.retryBaseDelayMs, this.retryMaxDelayMs);
  }

  streamEvents(
    filter: EventFilter,
    options: { readonly afterSortKey?: string } = {},
  ): AsyncIterable<StoredEvent> {
    if (options.afterSortKey !== undefined && !isSortKey(options.afterSortKey)) {
      throw new ValidationError('The stream position is invalid.', [
        { field: 'afterSortKey', rule: 'must be a sort key <instant>#<event id> from a previous stream' },
      ]);
    }
    return this.stream(filter, options.afterSortKey, STREAM_FIRST_PAGE, true);
  }

  async countEvents(filter: EventFilter): Promise<number> {
    const upper = sortableInstant(filter.to) + AFTER_LAST_ID;
    const lower = sortableInstant(filter.from);
    const partitions = daysInRange(filter).flatMap((day) => {
      const { indexName, partitionKeyName, partitionKeys } = dayPartitions(filter, day);
      return partitionKeys.map((partitionKey) => ({ indexName, partitionKeyName, partitionKey }));
    });
    let total = 0;
    // Partitions counted side by side: each answer is small, and DynamoDB serves them in parallel.
    await runPool(partitions, COUNT_CONCURRENCY, async ({ indexName, partitionKeyName, partitionKey }) => {
      let start: Record<string, AttributeValue> | undefined;
      do {
        const output = await this.send(`Counting decision events in ${this.tableName}`, () =>
          this.documents.send(
            new QueryCommand({
              TableName: this.tableName,
              ...(indexName === undefined ? {} : { IndexName: indexName }),
              KeyConditionExpression: '#pk = :pk AND #sk BETWEEN :lower AND :upper',
              ExpressionAttributeNames: { '#pk': partitionKeyName, '#sk': 'sk' },
              ExpressionAttributeValues: {
                ':pk': { S: partitionKey },
                ':lower': { S: lower },
                ':upper': { S: upper },
              },
              Select: 'COUNT',
              ...(start === undefined ? {} : { ExclusiveStartKey: start }),
            }),
          ),
        );
        total += output.Count ?? 0;
        start = output.LastEvaluatedKey;
      } while (start !== undefined);
    });
    return total;
  }

  /** Runs one read; a failure becomes a DependencyError that starts with `what`. */
  private async send<T>(what: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      throw new DependencyError(`${what} failed: ${describe(error)}`, { cause: error });
    }
  }

  async queryEvents(
    filter: EventFilter,
    options: { readonly limit: number; readonly cursor?: string },
  ): Promise<EventPage> {
    const { limit } = options;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE_LIMIT) {
      throw new ValidationError('The page size is invalid.', [
        { field: 'limit', rule: `must be a whole number from 1 to ${MAX_PAGE_LIMIT}` },
      ]);
    }
    const after = options.cursor === undefined ? undefined : decodeCursor(options.cursor);
    // One event beyond the page tells whether a cursor is needed; the shards share the page evenly.
    const firstPage = Math.ceil(((limit + 1) / SHARD_COUNT) * 1.25) + 2;
    const events: DecisionEvent[] = [];
    let last: string | undefined;
    for await (const stored of this.stream(filter, after, firstPage)) {
      if (events.length === limit) return { events, cursor: encodeCursor(last!) };
      events.push(JSON.parse(stored.json) as DecisionEvent);
      last = stored.sortKey;
    }
    return { events };
  }

  private async *stream(
    filter: EventFilter,
    afterSortKey: string | undefined,
    firstPageSize: number,
    readAhead = false,
  ): AsyncGenerator<StoredEvent> {
    const upper = sortableInstant(filter.to) + AFTER_LAST_ID;
    let lower = sortableInstant(filter.from);
    let days = daysInRange(filter);
    if (afterSortKey !== undefined && afterSortKey > lower) {
      // BETWEEN is inclusive; the event at afterSortKey itself is skipped below.
      lower = afterSortKey;
      const resumeDay = afterSortKey.slice(0, 10);
      days = days.filter((day) => day >= resumeDay);
    }
    if (lower > upper) return;
    for (const day of days) {
      const { indexName, partitionKeyName, partitionKeys } = dayPartitions(filter, day);
      const shards = partitionKeys.map(
        (partitionKey) =>
          new ShardReader(
            (exclusiveStartKey, limit) =>
              this.queryPage({
                indexName,
                partitionKeyName,
                partitionKey,
                lower,
                upper,
                exclusiveStartKey,
                limit,
              }),
            firstPageSize,
            readAhead,
          ),
      );
      for await (const event of mergeBySortKey(shards)) {
        if (afterSortKey === undefined || event.sortKey > afterSortKey) yield event;
      }
    }
  }

  private async queryPage(q: {
    indexName: string | undefined;
    partitionKeyName: string;
    partitionKey: string;
    lower: string;
    upper: string;
    exclusiveStartKey: Record<string, unknown> | undefined;
    limit: number;
  }): Promise<{ events: StoredEvent[]; lastKey: Record<string, unknown> | undefined }> {
    // The low-level Query: items come back as `{S: …}` maps and are read directly, skipping the
    // document client's unmarshalling copy of every item (exports read millions of them).
    let output: QueryCommandOutput;
    try {
      output = await this.documents.send(
        new QueryCommand({
          TableName: this.tableName,
          ...(q.indexName === undefined ? {} : { IndexName: q.indexName }),
          KeyConditionExpression: '#pk = :pk AND #sk BETWEEN :lower AND :upper',
          ProjectionExpression: '#sk, #e',
          ExpressionAttributeNames: { '#pk': q.partitionKeyName, '#sk': 'sk', '#e': 'e' },
          ExpressionAttributeValues: {
            ':pk': { S: q.partitionKey },
            ':lower': { S: q.lower },
            ':upper': { S: q.upper },
          },
          Limit: q.limit,
          ...(q.exclusiveStartKey === undefined
            ? {}
            : { ExclusiveStartKey: q.exclusiveStartKey as Record<string, AttributeValue> }),
        }),
      );
    } catch (error) {
      throw new DependencyError(`Reading decision events from ${this.tableName} failed: ${describe(error)}`, {
        cause: error,
      });
    }
    const events = (output.Items ?? []).map((item) => {
      const sortKey = item.sk?.S;
      const json = item.e?.S;
      if (sortKey === undefined || json === undefined) {
        throw new DependencyError(
          `A stored decision event in ${this.tableName} lacks its sk or e attribute.`,
        );
      }
      return { sortKey, json };
    });
    return { events, lastKey: output.LastEvaluatedKey };
  }
}

interface Page {
  readonly events: StoredEvent[];
  readonly lastKey: Record<string, unknown> | undefined;
}

type PageFetcher = (exclusiveStartKey: Record<string, unknown> | undefined, limit: number) => Promise<Page>;

/** One shard partition read page by page, in order. */
class ShardReader {
  private buffer: StoredEvent[] = [];
  private position = 0;
  private lastKey: Record<string, unknown> | undefined;
  private exhausted = false;
  private ahead: Promise<Page> | undefined;

  /**
   * With `readAhead`, the next page is requested as soon as a page arrives, so DynamoDB works on
   * it while the caller consumes this one (a long stream). Without it nothing is read beyond what
   * the caller asks for (a short page of results).
   */
  constructor(
    private readonly fetchPage: PageFetcher,
    private pageSize: number,
    private readonly readAhead = false,
  ) {}

  peek(): StoredEvent | undefined {
    return this.buffer[this.position];
  }

  take(): StoredEvent | undefined {
    return this.buffer[this.position++];
  }

  /** Whether peek() is empty only because the next page has not been read yet. */
  needsFill(): boolean {
    return this.position >= this.buffer.length && (!this.exhausted || this.ahead !== undefined);
  }

  /** Ensures peek() shows the next event, unless the partition has no more. */
  async fill(): Promise<void> {
    while (this.needsFill()) {
      const page = await (this.ahead ?? this.fetch());
      this.ahead = undefined;
      this.buffer = page.events;
      this.position = 0;
      if (this.readAhead && !this.exhausted) {
        this.ahead = this.fetch();
        // Awaited by the next fill(); if the stream is abandoned first, its failure is moot.
        this.ahead.catch(() => undefined);
      }
    }
  }

  private fetch(): Promise<Page> {
    const request = this.fetchPage(this.lastKey, this.pageSize);
    // The next request starts after this one's key, so the key is taken when it is known.
    const page = request.then((result) => {
      this.lastKey = result.lastKey;
      this.exhausted = result.lastKey === undefined;
      return result;
    });
    this.exhausted = true; // until this page says otherwise, nothing more may be requested
    // A reader that needs a second page likely needs many; grow toward DynamoDB's page size.
    this.pageSize = Math.min(MAX_QUERY_PAGE, this.pageSize * 2);
    return page;
  }
}

/** K-way merge of sorted shard streams; every shard's first page is fetched in parallel. */
async function* mergeBySortKey(shards: readonly ShardReader[]): AsyncGenerator<StoredEvent> {
  await Promise.all(shards.map((shard) => shard.fill()));
  for (;;) {
    let next: ShardReader | undefined;
    for (const shard of shards) {
      const head = shard.peek();
      if (head !== undefined && (next === undefined || head.sortKey < next.peek()!.sortKey)) next = shard;
    }
    if (next === undefined) return;
    yield next.take()!;
    if (next.needsFill()) await next.fill();
  }
}

export function encodeCursor(sortKey: string): string {
  return Buffer.from(sortKey, 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string): string {
  const invalid = () =>
    new ValidationError('The cursor is invalid.', [
      { field: 'cursor', rule: 'must be the cursor returned with the previous page' },
    ]);
  if (!/^[A-Za-z0-9_-]{1,400}$/.test(cursor)) throw invalid();
  const sortKey = Buffer.from(cursor, 'base64url').toString('utf8');
  if (encodeCursor(sortKey) !== cursor || !isSortKey(sortKey)) throw invalid();
  return sortKey;
}

function isSortKey(value: string): boolean {
  return SORT_KEY.test(value) && isoUtcTimestamp.safeParse(value.slice(0, value.indexOf('#'))).success;
}

function idOfSortKey(sortKey: string): string {
  return sortKey.slice(sortKey.indexOf('#') + 1);
}

function chunk<T>(values: readonly T[], size: number): T[][] {
  const chunks: T[][] = [];
  for (let i = 0; i < values.length; i += size) chunks.push(values.slice(i, i + size));
  return chunks;
}

/** Runs `work` over `inputs` with at most `concurrency` in flight; the first error stops new work. */
async function runPool<T>(
  inputs: readonly T[],
  concurrency: number,
  work: (input: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async () => {
    while (failure === undefined && next < inputs.length) {
      const input = inputs[next++]!;
      try {
        await work(input);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, inputs.length) }, worker));
  if (failure !== undefined) throw failure.error;
}

/**
 * The conditional put that records an event id, one action of a claim's transaction, marshalled by
 * hand (four strings): every new event costs one, so it skips the document client's marshalling.
 */
function idRecordPut(tableName: string): (record: EventIdRecord) => TransactWriteItem {
  return (record) => {
    const { pk, sk } = eventIdKey(record.id);
    return {
      Put: {
        TableName: tableName,
        Item: {
          pk: { S: pk },
          sk: { S: sk },
          digest: { S: record.digest },
          ts: { S: record.timestamp },
          team: { S: record.team },
        },
        ConditionExpression: 'attribute_not_exists(pk)',
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      },
    };
  };
}

/** A cancelled transaction's reasons, one per action in order; undefined for any other error. */
function cancellationReasons(error: unknown): readonly CancellationReason[] | undefined {
  if (errorName(error) !== 'TransactionCanceledException') return undefined;
  return (error as { CancellationReasons?: CancellationReason[] }).CancellationReasons ?? [];
}
