import { decodeIndexCursor, encodeIndexCursor } from './index-cursor.ts';
import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  type QueryCommandOutput,
} from '@aws-sdk/lib-dynamodb';
import { ConflictError, DependencyError } from '../../core/errors.ts';
import type { ExportJob } from '../../core/export/export-job.ts';
import type { ExportJobStore, IdempotencyClaim, Revisioned } from '../../core/ports.ts';

const JOBS_INDEX = 'gsi1';
// All jobs share one index partition: jobs are created by people and schedules, a few per
// minute at most, far below a partition's write limit, and listing needs one sorted partition.
const JOBS_PARTITION = 'JOBS';

/**
 * Export jobs in the ExportControl table: `EXPORT#<id>` / `JOB`, the job as JSON plus a revision
 * number that every save checks and increments (optimistic concurrency: dynalite has no
 * transactions, and a conditional single-item write is also the cheapest on AWS). gsi1 sorts jobs
 * by creation time for newest-first listing without a scan.
 */
export class DynamoJobStore implements ExportJobStore {
  constructor(
    private readonly documents: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async createJob(job: ExportJob): Promise<void> {
    await this.write(
      new PutCommand({
        TableName: this.tableName,
        Item: jobItem(job, 1),
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
      () => new ConflictError(`Export ${job.id} already exists.`),
      `Storing export ${job.id}`,
    );
  }

  async getJob(id: string): Promise<Revisioned<ExportJob> | undefined> {
    let item: Record<string, unknown> | undefined;
    try {
      const output = await this.documents.send(
        new GetCommand({ TableName: this.tableName, Key: jobKey(id), ConsistentRead: true }),
      );
      item = output.Item;
    } catch (error) {
      throw new DependencyError(`Reading export ${id} from ${this.tableName} failed.`, { cause: error });
    }
    return item === undefined ? undefined : { value: jobOf(item), revision: revisionOf(item) };
  }

  /**
   * Conditional on the revision, and on a cancelled job staying cancelled (or becoming deleted):
   * no save can turn a cancelled export back into a running, completed or failed one. The
   * revision already refuses a save computed from a read before the cancellation; the status
   * condition refuses one computed from a read after it too, whatever the step does.
   */
  async saveJob(job: ExportJob, revision: number): Promise<number> {
    const next = revision + 1;
    const mayFollowCancelled = job.status === 'cancelled' || job.status === 'deleted';
    await this.write(
      new PutCommand({
        TableName: this.tableName,
        Item: jobItem(job, next),
        ...(mayFollowCancelled
          ? {
              ConditionExpression: 'revision = :revision',
              ExpressionAttributeValues: { ':revision': revision },
            }
          : {
              ConditionExpression: 'revision = :revision AND #status <> :cancelled',
              ExpressionAttributeNames: { '#status': 'status' },
              ExpressionAttributeValues: { ':revision': revision, ':cancelled': 'cancelled' },
            }),
      }),
      () => new ConflictError(`Export ${job.id} was changed by another writer; read it again.`),
      `Saving export ${job.id}`,
    );
    return next;
  }

  async listJobs(options: { readonly limit: number; readonly cursor?: string }) {
    const start = options.cursor === undefined ? undefined : decodeIndexCursor(options.cursor, JOB_CURSOR);
    let output: QueryCommandOutput;
    try {
      output = await this.documents.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: JOBS_INDEX,
          KeyConditionExpression: 'gsi1pk = :jobs',
          ExpressionAttributeValues: { ':jobs': JOBS_PARTITION },
          ScanIndexForward: false,
          Limit: options.limit,
          ...(start === undefined ? {} : { ExclusiveStartKey: start }),
        }),
      );
    } catch (error) {
      throw new DependencyError(`Listing exports in ${this.tableName} failed.`, { cause: error });
    }
    const jobs = (output.Items ?? []).map(jobOf);
    return {
      jobs,
      ...(output.LastEvaluatedKey === undefined ? {} : { cursor: encodeIndexCursor(output.LastEvaluatedKey) }),
    };
  }

  async claimIdempotencyKey(claim: IdempotencyClaim): Promise<IdempotencyClaim | undefined> {
    const key = idempotencyKeyOf(claim.scope, claim.key);
    try {
      await this.documents.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...key, fingerprint: claim.fingerprint, exportId: claim.exportId },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      return undefined;
    } catch (error) {
      if (!isConditionFailure(error)) {
        throw new DependencyError('Recording the Idempotency-Key failed.', { cause: error });
      }
    }
    const earlier = await this.findIdempotencyKey(claim.scope, claim.key);
    if (earlier === undefined) throw new DependencyError('The Idempotency-Key claim vanished while it was read.');
    return earlier;
  }

  async findIdempotencyKey(scope: string, key: string): Promise<IdempotencyClaim | undefined> {
    let item: Record<string, unknown> | undefined;
    try {
      const output = await this.documents.send(
        new GetCommand({ TableName: this.tableName, Key: idempotencyKeyOf(scope, key), ConsistentRead: true }),
      );
      item = output.Item;
    } catch (error) {
      throw new DependencyError('Reading the Idempotency-Key failed.', { cause: error });
    }
    return item === undefined
      ? undefined
      : { scope, key, fingerprint: String(item.fingerprint), exportId: String(item.exportId) };
  }

  private async write(command: PutCommand, onConflict: () => ConflictError, what: string): Promise<void> {
    try {
      await this.documents.send(command);
    } catch (error) {
      if (isConditionFailure(error)) {
        const conflict = onConflict();
        throw new ConflictError(conflict.message, { cause: error });
      }
      throw new DependencyError(`${what} in ${this.tableName} failed.`, { cause: error });
    }
  }
}

function idempotencyKeyOf(scope: string, key: string): { pk: string; sk: string } {
  return { pk: `IDEMPOTENCY#${scope}#${key}`, sk: 'EXPORT' };
}

function jobKey(id: string): { pk: string; sk: string } {
  return { pk: `EXPORT#${id}`, sk: 'JOB' };
}

function jobItem(job: ExportJob, revision: number): Record<string, unknown> {
  return {
    ...jobKey(job.id),
    gsi1pk: JOBS_PARTITION,
    gsi1sk: `${job.createdAt}#${job.id}`,
    revision,
    status: job.status,
    job: JSON.stringify(job),
  };
}

function jobOf(item: Record<string, unknown>): ExportJob {
  if (typeof item.job !== 'string') throw new DependencyError('A stored export job lacks its job attribute.');
  return JSON.parse(item.job) as ExportJob;
}

function revisionOf(item: Record<string, unknown>): number {
  const revision = item.revision;
  if (typeof revision !== 'number' || !Number.isSafeInteger(revision)) {
    throw new DependencyError('A stored export job lacks its revision.');
  }
  return revision;
}

function isConditionFailure(error: unknown): boolean {
  return error instanceof Error && error.name === 'ConditionalCheckFailedException';
}

/** A jobs page's cursor: the last job shown, by its index position. */
const JOB_CURSOR = {
  partition: JOBS_PARTITION,
  sk: 'JOB',
  pk: /^EXPORT#exp_[0-9a-z]{1,64}$/,
  gsi1sk: /^\d{4}-\d{2}-\d{2}T[\d:.]{1,20}Z#exp_[0-9a-z]{1,64}$/,
} as const;
