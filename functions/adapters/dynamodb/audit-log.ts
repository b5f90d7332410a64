import { randomUUID } from 'node:crypto';
import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  type QueryCommandInput,
} from '@aws-sdk/lib-dynamodb';
import {
  AUDIT_ACTIONS,
  type AuditEntry,
  AuditChainError,
  type AuditHead,
  type AuditRecord,
  auditEntryHash,
  auditRecordIssues,
  chainNext,
  GENESIS_HASH,
} from '../../core/audit/audit-chain.ts';
import { DependencyError, type FieldIssue, ValidationError } from '../../core/errors.ts';
import type { AuditLog } from '../../core/ports.ts';

export interface DynamoAuditLogOptions {
  /** Appends that lose a race retry; this bounds the tries (first included) before giving up. */
  readonly maxAppendAttempts?: number;
  /** Backoff base and cap between tries; the delay is drawn uniformly below the capped exponential. */
  readonly retryBaseDelayMs?: number;
  readonly retryMaxDelayMs?: number;
}

export const MAX_ENTRIES_LIMIT = 1000;
const SEQ_DIGITS = 12;
const MAX_SEQ = 10 ** SEQ_DIGITS - 1;

/**
 * Keys of the audit trail in the ExportControl table:
 * - the head, `pk = AUDIT, sk = HEAD`, holds { seq, hash } of the last entry linked into the chain;
 * - entry n is `pk = AUDIT, sk = E#<n, 12 digits>`, and is listed per export by
 *   `gsi1pk = AUDIT#<subject>, gsi1sk = <n, 12 digits>`.
 * Entries are written once (attribute_not_exists) and never updated.
 */
export const auditKeys = {
  partition: 'AUDIT',
  head: { pk: 'AUDIT', sk: 'HEAD' },
  entry: (seq: number) => ({ pk: 'AUDIT', sk: `E#${paddedSeq(seq)}` }),
  subjectPartition: (subject: string) => `AUDIT#${subject}`,
  paddedSeq,
} as const;

/**
 * The audit trail as a hash chain in the ExportControl table, using only conditional single-item
 * writes (dynalite has no transactions).
 *
 * Append: read the head (seq n) → put entry n + 1 if its slot is empty → move the head from n to
 * n + 1 if it is still at n. Losing either race is safe:
 * - the slot is taken: another appender won, or one crashed after its entry and before moving the
 *   head. Either way the entry there is checked (it must link to entry n and match its hash), the
 *   head is moved past it on the writer's behalf, and the append retries on top of it. So the chain
 *   never forks, never skips a seq, and a crash leaves nothing for an operator to repair;
 * - the head moved already: someone moved it past our entry for us, which is what we wanted.
 * Each append writes a random writer id into its entry item (outside the hashed entry), so a put
 * whose response was lost and then retried by the SDK is recognised as our own entry rather than
 * appended twice. An append that fails with a DependencyError may still have written its entry (it
 * is then linked by the next append); a caller that retries should first look for it, as
 * entries({ subject }) allows.
 */
export class DynamoAuditLog implements AuditLog {
  private readonly maxAppendAttempts: number;
  private readonly retryBaseDelayMs: number;
  private readonly retryMaxDelayMs: number;

  constructor(
    private readonly documents: DynamoDBDocumentClient,
    private readonly tableName: string,
    options: DynamoAuditLogOptions = {},
  ) {
    this.maxAppendAttempts = options.maxAppendAttempts ?? 50;
    this.retryBaseDelayMs = options.retryBaseDelayMs ?? 10;
    this.retryMaxDelayMs = options.retryMaxDelayMs ?? 500;
  }

  async append(record: AuditRecord): Promise<AuditEntry> {
    const issues = auditRecordIssues(record);
    if (issues.length > 0) throw new ValidationError('The audit record is invalid.', issues);
    const writer = randomUUID();
    let lostRaces = 0;
    let head = await this.readHead();
    for (;;) {
      const entry = chainNext(head, record);
      if (await this.putEntry(entry, writer)) {
        await this.moveHead(head, entry);
        return entry;
      }
      const occupant = await this.readEntryItem(entry.seq);
      if (occupant !== undefined) {
        if (occupant.entry.prevHash !== (head?.hash ?? GENESIS_HASH)) {
          throw new AuditChainError(
            `Audit entry ${entry.seq} in ${this.tableName} does not link to entry ${entry.seq - 1}: ` +
              'the chain was altered; appending stops until it is investigated.',
          );
        }
        if (!hashMatches(occupant.entry)) {
          throw new AuditChainError(
            `Audit entry ${entry.seq} in ${this.tableName} does not match its hash: the entry was altered; ` +
              'appending stops until it is investigated.',
          );
        }
        const moved = await this.moveHead(head, occupant.entry);
        if (occupant.writer === writer) return occupant.entry;
        if (moved) {
          // We moved the head for a writer that had not (it crashed, or is slow): catching up is
          // progress, not contention, so the next slot is tried at once.
          head = occupant.entry;
          continue;
        }
      }
      lostRaces++;
      if (lostRaces >= this.maxAppendAttempts) {
        throw new DependencyError(
          `Appending to the audit trail in ${this.tableName} lost the race to other writers ${lostRaces} ` +
            'times; retrying later may succeed.',
        );
      }
      await sleep(this.backoffMs(lostRaces));
      head = await this.readHead();
    }
  }

  async entries(
    options: { readonly subject?: string; readonly afterSeq?: number; readonly limit?: number } = {},
  ): Promise<readonly AuditEntry[]> {
    const { subject, afterSeq = 0, limit } = options;
    const issues: FieldIssue[] = [];
    if (subject !== undefined && (typeof subject !== 'string' || subject.length === 0)) {
      issues.push({ field: 'subject', rule: 'must be a non-empty string' });
    }
    if (!Number.isSafeInteger(afterSeq) || afterSeq < 0 || afterSeq > MAX_SEQ) {
      issues.push({ field: 'afterSeq', rule: 'must be a whole number of 0 or more' });
    }
    if (limit !== undefined && (!Number.isInteger(limit) || limit < 1 || limit > MAX_ENTRIES_LIMIT)) {
      issues.push({ field: 'limit', rule: `must be a whole number from 1 to ${MAX_ENTRIES_LIMIT}` });
    }
    if (issues.length > 0) throw new ValidationError('The audit query is invalid.', issues);
    if (afterSeq === MAX_SEQ) return [];

    const query: QueryCommandInput =
      subject === undefined
        ? {
            TableName: this.tableName,
            KeyConditionExpression: 'pk = :pk AND sk BETWEEN :from AND :to',
            ExpressionAttributeValues: {
              ':pk': auditKeys.partition,
              ':from': auditKeys.entry(afterSeq + 1).sk,
              ':to': auditKeys.entry(MAX_SEQ).sk,
            },
            ConsistentRead: true,
          }
        : {
            // A GSI read is eventually consistent on AWS: an entry appended a moment ago may be missing.
            TableName: this.tableName,
            IndexName: 'gsi1',
            KeyConditionExpression: 'gsi1pk = :pk AND gsi1sk > :after',
            ExpressionAttributeValues: {
              ':pk': auditKeys.subjectPartition(subject),
              ':after': paddedSeq(afterSeq),
            },
          };
    const entries: AuditEntry[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const want = limit === undefined ? MAX_ENTRIES_LIMIT : limit - entries.length;
      const output = await this.call('Reading the audit trail', () =>
        this.documents.send(
          new QueryCommand({
            ...query,
            Limit: want,
            ...(start === undefined ? {} : { ExclusiveStartKey: start }),
          }),
        ),
      );
      for (const item of output.Items ?? []) entries.push(this.entryOf(item).entry);
      start = output.LastEvaluatedKey;
    } while (start !== undefined && (limit === undefined || entries.length < limit));
    return entries;
  }

  private async readHead(): Promise<AuditHead | undefined> {
    const output = await this.call('Reading the audit chain head', () =>
      this.documents.send(
        new GetCommand({ TableName: this.tableName, Key: auditKeys.head, ConsistentRead: true }),
      ),
    );
    const item = output.Item;
    if (item === undefined) return undefined;
    const { seq, hash } = item;
    if (
      !Number.isSafeInteger(seq) ||
      (seq as number) < 1 ||
      typeof hash !== 'string' ||
      !/^[0-9a-f]{64}$/.test(hash)
    ) {
      throw new AuditChainError(`The audit chain head in ${this.tableName} is malformed.`);
    }
    return { seq: seq as number, hash };
  }

  /** Puts the entry if its slot is empty; false when the slot is taken. */
  private async putEntry(entry: AuditEntry, writer: string): Promise<boolean> {
    return this.call(`Writing audit entry ${entry.seq}`, () =>
      ifConditionHolds(
        this.documents.send(
          new PutCommand({
            TableName: this.tableName,
            Item: {
              ...auditKeys.entry(entry.seq),
              gsi1pk: auditKeys.subjectPartition(entry.subject),
              gsi1sk: paddedSeq(entry.seq),
              writer,
              ...entry,
            },
            ConditionExpression: 'attribute_not_exists(pk)',
          }),
        ),
      ),
    );
  }

  /** Moves the head from `from` to `to` (which follows it); false when it is no longer at `from`. */
  private async moveHead(from: AuditHead | undefined, to: AuditHead): Promise<boolean> {
    return this.call('Advancing the audit chain head', () =>
      ifConditionHolds(
        this.documents.send(
          new PutCommand({
            TableName: this.tableName,
            Item: { ...auditKeys.head, seq: to.seq, hash: to.hash },
            ...(from === undefined
              ? { ConditionExpression: 'attribute_not_exists(pk)' }
              : {
                  ConditionExpression: '#seq = :from',
                  ExpressionAttributeNames: { '#seq': 'seq' },
                  ExpressionAttributeValues: { ':from': from.seq },
                }),
          }),
        ),
      ),
    );
  }

  private async readEntryItem(seq: number): Promise<{ entry: AuditEntry; writer: unknown } | undefined> {
    const output = await this.call(`Reading audit entry ${seq}`, () =>
      this.documents.send(
        new GetCommand({ TableName: this.tableName, Key: auditKeys.entry(seq), ConsistentRead: true }),
      ),
    );
    return output.Item === undefined ? undefined : this.entryOf(output.Item);
  }

  /** Rebuilds the entry member by member, so key and bookkeeping attributes stay behind. */
  private entryOf(item: Record<string, unknown>): { entry: AuditEntry; writer: unknown } {
    const malformed = (what: string) =>
      new AuditChainError(`Audit item ${String(item.sk)} in ${this.tableName} is malformed: ${what}.`);
    const text = (name: string): string => {
      const value = item[name];
      if (typeof value !== 'string') throw malformed(`${name} is not text`);
      return value;
    };
    const { seq, action, details } = item;
    if (!Number.isSafeInteger(seq)) throw malformed('seq is not a whole number');
    if (!(AUDIT_ACTIONS as readonly unknown[]).includes(action)) throw malformed('unknown action');
    if (details !== undefined) {
      if (typeof details !== 'object' || details === null || Array.isArray(details)) {
        throw malformed('details is not a map');
      }
      for (const value of Object.values(details)) {
        if (typeof value !== 'string' && typeof value !== 'number')
          throw malformed('a detail is not text or a number');
      }
    }
    const entry: AuditEntry = {
      seq: seq as number,
      prevHash: text('prevHash'),
      action: action as AuditEntry['action'],
      subject: text('subject'),
      actor: text('actor'),
      at: text('at'),
      ...(details === undefined ? {} : { details: { ...(details as Record<string, string | number>) } }),
      hash: text('hash'),
    };
    return { entry, writer: item.writer };
  }

  private async call<T>(what: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      throw new DependencyError(`${what} in ${this.tableName} failed: ${describe(error)}`, { cause: error });
    }
  }

  private backoffMs(attempt: number): number {
    const ceiling = Math.min(this.retryMaxDelayMs, this.retryBaseDelayMs * 2 ** attempt);
    // Full jitter: appenders that collided do not retry in lockstep.
    return Math.random() * ceiling;
  }
}

function hashMatches(entry: AuditEntry): boolean {
  try {
    return auditEntryHash(entry) === entry.hash;
  } catch {
    return false; // a member canonical JSON cannot spell (e.g. a fraction written into the item)
  }
}

function paddedSeq(seq: number): string {
  if (!Number.isSafeInteger(seq) || seq < 0 || seq > MAX_SEQ) {
    throw new RangeError(`An audit seq must be a whole number from 0 to ${MAX_SEQ}`);
  }
  return String(seq).padStart(SEQ_DIGITS, '0');
}

/** Resolves true when the write happened, false when its condition failed; other errors pass through. */
async function ifConditionHolds(write: Promise<unknown>): Promise<boolean> {
  try {
    await write;
    return true;
  } catch (error) {
    // Compared by name: an error class from another copy of the SDK would fail instanceof.
    if (error instanceof Error && error.name === 'ConditionalCheckFailedException') return false;
    throw error;
  }
}

function describe(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
