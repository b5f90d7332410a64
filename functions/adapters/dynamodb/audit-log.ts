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
} from '../../core/audit/audit-chain.ts';
import {
  type AuditChainStore,
  type AuditStoreQuery,
  MAX_AUDIT_SEQ,
  type StoredAuditEntry,
} from '../../core/audit/audit-chain-store.ts';
import { AuditTrail, type AuditTrailOptions } from '../../core/audit/audit-trail.ts';
import type { CheckpointMark, CheckpointMarks, CheckpointWriterDeps } from '../../core/audit/checkpoint.ts';
import { DependencyError } from '../../core/errors.ts';
import { describe } from '../aws-call.ts';

export interface DynamoAuditLogOptions extends Omit<AuditTrailOptions, 'maxAttempts' | 'checkpoints'> {
  /** Appends that lose a race retry; this bounds the tries (first included) before giving up. */
  readonly maxAppendAttempts?: number;
  /** Signed checkpoints of the head (their record is kept in the same table); none when absent. */
  readonly checkpoints?: Omit<CheckpointWriterDeps, 'marks'>;
}

const SEQ_DIGITS = 12;

/**
 * Keys of the audit trail in the ExportControl table:
 * - the head, `pk = AUDIT, sk = HEAD`, holds { seq, hash } of the last entry linked into the chain;
 * - entry n is `pk = AUDIT, sk = E#<n, 12 digits>`, and is listed per export by
 *   `gsi1pk = AUDIT#<subject>, gsi1sk = <n, 12 digits>`;
 * - the last signed checkpoint, `pk = AUDIT, sk = CHECKPOINT`, holds its { seq, hash, at }.
 * Entries are written once (attribute_not_exists) and never updated.
 */
export const auditKeys = {
  partition: 'AUDIT',
  head: { pk: 'AUDIT', sk: 'HEAD' },
  checkpoint: { pk: 'AUDIT', sk: 'CHECKPOINT' },
  entry: (seq: number) => ({ pk: 'AUDIT', sk: `E#${paddedSeq(seq)}` }),
  subjectPartition: (subject: string) => `AUDIT#${subject}`,
  paddedSeq,
} as const;

/**
 * The audit trail over the ExportControl table: the core's append rules and reads
 * (functions/core/audit/audit-trail.ts) over the DynamoDB chain store below.
 */
export class DynamoAuditLog extends AuditTrail {
  constructor(documents: DynamoDBDocumentClient, tableName: string, options: DynamoAuditLogOptions = {}) {
    const { maxAppendAttempts, checkpoints, ...rest } = options;
    const store = new DynamoAuditChainStore(documents, tableName);
    super(store, {
      ...rest,
      ...(maxAppendAttempts === undefined ? {} : { maxAttempts: maxAppendAttempts }),
      ...(checkpoints === undefined ? {} : { checkpoints: { ...checkpoints, marks: store } }),
    });
  }
}

/**
 * The audit chain's items in the ExportControl table, with conditional single-item writes only
 * (each append changes one item at a time; see append-entry.ts). I/O only: keys, marshalling, conditions and error wrapping; the
 * rules of appending are in functions/core/audit/append-entry.ts. The `writer` attribute of an
 * entry item is the appending call's id, kept outside the hashed entry.
 */
export class DynamoAuditChainStore implements AuditChainStore, CheckpointMarks {
  constructor(
    private readonly documents: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async readHead(): Promise<AuditHead | undefined> {
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

  async putEntryIfAbsent(entry: AuditEntry, writer: string): Promise<boolean> {
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

  async moveHead(from: AuditHead | undefined, to: AuditHead): Promise<boolean> {
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

  async readEntry(seq: number): Promise<StoredAuditEntry | undefined> {
    const output = await this.call(`Reading audit entry ${seq}`, () =>
      this.documents.send(
        new GetCommand({ TableName: this.tableName, Key: auditKeys.entry(seq), ConsistentRead: true }),
      ),
    );
    return output.Item === undefined ? undefined : this.entryOf(output.Item);
  }

  async query({
    afterSeq,
    toSeq = MAX_AUDIT_SEQ,
    subject,
    limit,
  }: AuditStoreQuery): Promise<readonly AuditEntry[]> {
    if (afterSeq >= toSeq) return [];
    const query: QueryCommandInput =
      subject === undefined
        ? {
            TableName: this.tableName,
            KeyConditionExpression: 'pk = :pk AND sk BETWEEN :from AND :to',
            ExpressionAttributeValues: {
              ':pk': auditKeys.partition,
              ':from': auditKeys.entry(afterSeq + 1).sk,
              ':to': auditKeys.entry(toSeq).sk,
            },
            ConsistentRead: true,
          }
        : {
            // A GSI read is eventually consistent on AWS: an entry appended a moment ago may be missing.
            TableName: this.tableName,
            IndexName: 'gsi1',
            KeyConditionExpression: 'gsi1pk = :pk AND gsi1sk BETWEEN :from AND :to',
            ExpressionAttributeValues: {
              ':pk': auditKeys.subjectPartition(subject),
              ':from': paddedSeq(afterSeq + 1),
              ':to': paddedSeq(toSeq),
            },
          };
    const entries: AuditEntry[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const output = await this.call('Reading the audit trail', () =>
        this.documents.send(
          new QueryCommand({
            ...query,
            Limit: limit - entries.length,
            ...(start === undefined ? {} : { ExclusiveStartKey: start }),
          }),
        ),
      );
      for (const item of output.Items ?? []) entries.push(this.entryOf(item).entry);
      start = output.LastEvaluatedKey;
    } while (start !== undefined && entries.length < limit);
    return entries;
  }

  async readCheckpointMark(): Promise<CheckpointMark | undefined> {
    const output = await this.call('Reading the audit checkpoint record', () =>
      this.documents.send(
        new GetCommand({ TableName: this.tableName, Key: auditKeys.checkpoint, ConsistentRead: true }),
      ),
    );
    const item = output.Item;
    if (item === undefined) return undefined;
    const { seq, hash, at } = item;
    if (!Number.isSafeInteger(seq) || typeof hash !== 'string' || typeof at !== 'string') {
      throw new AuditChainError(`The audit checkpoint record in ${this.tableName} is malformed.`);
    }
    return { seq: seq as number, hash, at };
  }

  async advanceCheckpointMark(mark: CheckpointMark): Promise<boolean> {
    return this.call('Recording the audit checkpoint', () =>
      ifConditionHolds(
        this.documents.send(
          new PutCommand({
            TableName: this.tableName,
            Item: { ...auditKeys.checkpoint, seq: mark.seq, hash: mark.hash, at: mark.at },
            ConditionExpression: 'attribute_not_exists(pk) OR #seq < :seq',
            ExpressionAttributeNames: { '#seq': 'seq' },
            ExpressionAttributeValues: { ':seq': mark.seq },
          }),
        ),
      ),
    );
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
}

function paddedSeq(seq: number): string {
  if (!Number.isSafeInteger(seq) || seq < 0 || seq > MAX_AUDIT_SEQ) {
    throw new RangeError(`An audit seq must be a whole number from 0 to ${MAX_AUDIT_SEQ}`);
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
