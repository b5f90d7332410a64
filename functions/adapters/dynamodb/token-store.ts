import { type DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { SCOPES, type Scope, type TokenRecord } from '../../core/auth/token-record.ts';
import { ConflictError, DependencyError } from '../../core/errors.ts';
import type { TokenStore } from '../../core/ports.ts';

/**
 * API tokens in the ExportControl table, one item per token keyed by the hash of its secret, so
 * authenticating is a single GetItem and the secret itself is never stored.
 */
export class DynamoTokenStore implements TokenStore {
  constructor(
    private readonly documents: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async putToken(record: TokenRecord): Promise<void> {
    try {
      await this.documents.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...tokenKey(record.tokenHash), ...recordAttributes(record) },
          // A second token with the same hash would let one secret answer for two records.
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
    } catch (error) {
      if (error instanceof Error && error.name === 'ConditionalCheckFailedException') {
        throw new ConflictError(`A token with the same hash (${record.tokenId}) already exists.`, {
          cause: error,
        });
      }
      throw new DependencyError(`Storing token ${record.tokenId} in ${this.tableName} failed.`, {
        cause: error,
      });
    }
  }

  async getTokenByHash(tokenHash: string): Promise<TokenRecord | undefined> {
    let item: Record<string, unknown> | undefined;
    try {
      const output = await this.documents.send(
        // Consistent, so a revocation is seen by the next lookup. On AWS the HTTP API caches the
        // authorizer's answer per token for its TTL (5 minutes by default), which bounds the delay.
        new GetCommand({ TableName: this.tableName, Key: tokenKey(tokenHash), ConsistentRead: true }),
      );
      item = output.Item;
    } catch (error) {
      throw new DependencyError(`Reading a token from ${this.tableName} failed.`, { cause: error });
    }
    return item === undefined ? undefined : tokenRecordOf(item);
  }
}

function tokenKey(tokenHash: string): { pk: string; sk: string } {
  return { pk: `TOKEN#${tokenHash}`, sk: 'TOKEN' };
}

function recordAttributes(record: TokenRecord): Record<string, unknown> {
  return {
    tokenHash: record.tokenHash,
    tokenId: record.tokenId,
    name: record.name,
    scopes: [...record.scopes],
    createdAt: record.createdAt,
    ...(record.team === undefined ? {} : { team: record.team }),
    ...(record.revokedAt === undefined ? {} : { revokedAt: record.revokedAt }),
  };
}

/** Rebuilds the record from the item field by field, so key and bookkeeping attributes stay behind. */
function tokenRecordOf(item: Record<string, unknown>): TokenRecord {
  const text = (name: string): string => {
    const value = item[name];
    if (typeof value !== 'string') throw new DependencyError(`A stored token lacks its ${name} attribute.`);
    return value;
  };
  const optionalText = (name: string): string | undefined =>
    item[name] === undefined ? undefined : text(name);
  const scopes = Array.isArray(item.scopes) ? item.scopes : [];
  // An unknown scope (say, written by a newer release) grants nothing rather than failing the request.
  const known = scopes.filter((scope): scope is Scope => (SCOPES as readonly unknown[]).includes(scope));
  const team = optionalText('team');
  const revokedAt = optionalText('revokedAt');
  return {
    tokenHash: text('tokenHash'),
    tokenId: text('tokenId'),
    name: text('name'),
    scopes: known,
    createdAt: text('createdAt'),
    ...(team === undefined ? {} : { team }),
    ...(revokedAt === undefined ? {} : { revokedAt }),
  };
}
