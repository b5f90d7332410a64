import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
} from '@aws-sdk/lib-dynamodb';
import { ConflictError, DependencyError } from '../../core/errors.ts';
import type { Revisioned, ScheduleStore } from '../../core/ports.ts';
import type { ExportSchedule } from '../../core/schedules/schedule.ts';
import { callAws, errorName } from '../aws-call.ts';

const INDEX = 'gsi1';
// All schedules share one index partition, sorted by name: there are at most a few hundred and
// they change a few times a day, far below a partition's limits; listing is one Query, no Scan.
const SCHEDULES_PARTITION = 'SCHEDULES';

/**
 * Schedules in the ExportControl table: `SCHEDULE#<name>` / `SCHEDULE`, the schedule as JSON and
 * a revision that every save checks and increments (conditional single-item writes, as for jobs).
 */
export class DynamoScheduleStore implements ScheduleStore {
  constructor(
    private readonly documents: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async createSchedule(schedule: ExportSchedule): Promise<void> {
    await this.conditionalPut(
      new PutCommand({
        TableName: this.tableName,
        Item: itemOf(schedule, 1),
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
      `Schedule ${schedule.name} already exists.`,
      `Storing schedule ${schedule.name}`,
    );
  }

  async getSchedule(name: string): Promise<Revisioned<ExportSchedule> | undefined> {
    const output = await callAws(`Reading schedule ${name} from ${this.tableName}`, () =>
      this.documents.send(new GetCommand({ TableName: this.tableName, Key: keyOf(name), ConsistentRead: true })),
    );
    const item = output.Item;
    return item === undefined ? undefined : { value: scheduleOf(item), revision: revisionOf(item) };
  }

  async saveSchedule(schedule: ExportSchedule, revision: number): Promise<number> {
    const next = revision + 1;
    await this.conditionalPut(
      new PutCommand({
        TableName: this.tableName,
        Item: itemOf(schedule, next),
        ConditionExpression: 'revision = :revision',
        ExpressionAttributeValues: { ':revision': revision },
      }),
      `Schedule ${schedule.name} was changed by another writer; read it again.`,
      `Saving schedule ${schedule.name}`,
    );
    return next;
  }

  async deleteSchedule(name: string): Promise<void> {
    await callAws(`Deleting schedule ${name} from ${this.tableName}`, () =>
      this.documents.send(new DeleteCommand({ TableName: this.tableName, Key: keyOf(name) })),
    );
  }

  async listSchedules(): Promise<readonly ExportSchedule[]> {
    const schedules: ExportSchedule[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const output = await callAws(`Listing schedules in ${this.tableName}`, () =>
        this.documents.send(
          new QueryCommand({
            TableName: this.tableName,
            IndexName: INDEX,
            KeyConditionExpression: 'gsi1pk = :schedules',
            ExpressionAttributeValues: { ':schedules': SCHEDULES_PARTITION },
            ...(start === undefined ? {} : { ExclusiveStartKey: start }),
          }),
        ),
      );
      schedules.push(...(output.Items ?? []).map(scheduleOf));
      start = output.LastEvaluatedKey;
    } while (start !== undefined);
    return schedules;
  }

  async countSchedules(): Promise<number> {
    // A deployment holds at most a hundred or so small schedule items: listing them is the count.
    return (await this.listSchedules()).length;
  }

  private async conditionalPut(command: PutCommand, conflict: string, what: string): Promise<void> {
    await callAws(`${what} in ${this.tableName}`, async () => {
      try {
        await this.documents.send(command);
      } catch (error) {
        if (errorName(error) === 'ConditionalCheckFailedException') throw new ConflictError(conflict, { cause: error });
        throw error;
      }
    });
  }
}

function keyOf(name: string): { pk: string; sk: string } {
  return { pk: `SCHEDULE#${name}`, sk: 'SCHEDULE' };
}

function itemOf(schedule: ExportSchedule, revision: number): Record<string, unknown> {
  return {
    ...keyOf(schedule.name),
    gsi1pk: SCHEDULES_PARTITION,
    gsi1sk: schedule.name,
    revision,
    state: schedule.state,
    schedule: JSON.stringify(schedule),
  };
}

function scheduleOf(item: Record<string, unknown>): ExportSchedule {
  if (typeof item.schedule !== 'string') throw new DependencyError('A stored schedule lacks its schedule attribute.');
  return JSON.parse(item.schedule) as ExportSchedule;
}

function revisionOf(item: Record<string, unknown>): number {
  const revision = item.revision;
  if (typeof revision !== 'number' || !Number.isSafeInteger(revision)) {
    throw new DependencyError('A stored schedule lacks its revision.');
  }
  return revision;
}
