import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  PutCommand,
  QueryCommand,
  type QueryCommandOutput,
} from '@aws-sdk/lib-dynamodb';
import { DependencyError } from '../../core/errors.ts';
import type { RunningExportSlot, RunningExportSlots } from '../../core/ports.ts';

/**
 * A principal's running-export slots in the ExportControl table: `RUNNING#<owner>` / `SLOT#<n>`,
 * holding the export id and when it was claimed. One partition per principal, read with one
 * consistent Query (a handful of items); every claim and release is a conditional single-item
 * write, so two creates can never hold the same slot (the cheapest way on AWS: no transaction is
 * needed for one item). Slot items carry no index attributes: no listing ever sees them.
 */
export class DynamoRunningExportSlots implements RunningExportSlots {
  constructor(
    private readonly documents: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async takenSlots(owner: string): Promise<readonly RunningExportSlot[]> {
    const slots: RunningExportSlot[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      let output: QueryCommandOutput;
      try {
        output = await this.documents.send(
          new QueryCommand({
            TableName: this.tableName,
            KeyConditionExpression: 'pk = :pk AND begins_with(sk, :slot)',
            ExpressionAttributeValues: { ':pk': partitionOf(owner), ':slot': SLOT_PREFIX },
            ConsistentRead: true,
            ...(start === undefined ? {} : { ExclusiveStartKey: start }),
          }),
        );
      } catch (error) {
        throw new DependencyError(`Reading the running exports of ${owner} failed.`, { cause: error });
      }
      for (const item of output.Items ?? []) slots.push(slotOf(item));
      start = output.LastEvaluatedKey;
    } while (start !== undefined);
    return slots;
  }

  async claimSlot(owner: string, slot: RunningExportSlot, replacing?: string): Promise<boolean> {
    try {
      await this.documents.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...keyOf(owner, slot.index), exportId: slot.exportId, claimedAt: slot.claimedAt },
          ...(replacing === undefined
            ? { ConditionExpression: 'attribute_not_exists(pk)' }
            : {
                ConditionExpression: 'exportId = :holder',
                ExpressionAttributeValues: { ':holder': replacing },
              }),
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw new DependencyError(`Claiming a running-export slot of ${owner} failed.`, { cause: error });
    }
  }

  async releaseSlot(owner: string, exportId: string): Promise<void> {
    const held = (await this.takenSlots(owner)).filter((slot) => slot.exportId === exportId);
    for (const slot of held) {
      try {
        await this.documents.send(
          new DeleteCommand({
            TableName: this.tableName,
            Key: keyOf(owner, slot.index),
            // Another export may have taken the slot over since it was read: leave that one.
            ConditionExpression: 'exportId = :holder',
            ExpressionAttributeValues: { ':holder': exportId },
          }),
        );
      } catch (error) {
        if (isConditionFailure(error)) continue;
        throw new DependencyError(`Releasing the running-export slot of ${exportId} failed.`, {
          cause: error,
        });
      }
    }
  }
}

const SLOT_PREFIX = 'SLOT#';

function partitionOf(owner: string): string {
  return `RUNNING#${owner}`;
}

function keyOf(owner: string, index: number): { pk: string; sk: string } {
  return { pk: partitionOf(owner), sk: `${SLOT_PREFIX}${index}` };
}

function slotOf(item: Record<string, unknown>): RunningExportSlot {
  const index = Number(String(item.sk).slice(SLOT_PREFIX.length));
  if (
    !Number.isSafeInteger(index) ||
    typeof item.exportId !== 'string' ||
    typeof item.claimedAt !== 'string'
  ) {
    throw new DependencyError('A stored running-export slot is malformed.');
  }
  return { index, exportId: item.exportId, claimedAt: item.claimedAt };
}

function isConditionFailure(error: unknown): boolean {
  return error instanceof Error && error.name === 'ConditionalCheckFailedException';
}
