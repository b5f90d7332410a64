import { decodeIndexCursor, encodeIndexCursor } from './index-cursor.ts';
import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  type QueryCommandOutput,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { SCOPES, type Scope, type TokenRecord } from '../../core/auth/token-record.ts';
import { ConflictError, DependencyError, NotFoundError } from '../../core/errors.ts';
import type { TokenStore } from '../../core/ports.ts';

const TOKENS_INDEX = 'gsi1';
// All tokens share one index partition: there are a handful to a few hundred, made by people.
const TOKENS_PARTITION = 'TOKENS';

/**
 * API tokens in the ExportControl table, one item per token keyed by the hash of its secret
 * (`TOKEN#<hash>` / `TOKEN`), so authenticating is a single GetItem and the secret itself is never
 * stored. gsi1 lists them newest first (gsi1pk = `TOKENS`, gsi1sk = `<created>#<id>`) without a
 * scan, and a small id item (`TOKENID#<id>` / `TOKEN`, holding the hash) finds a token by the id
 * that `kt token revoke --id` names. The id item is written first and conditionally, so two
 * tokens never share an id; a writer that dies between the two writes leaves an id item that
 * points at nothing, which reads as "no such token".
 */
export class DynamoTokenStore implements TokenStore {
  constructor(
    private readonly documents: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async putToken(record: TokenRecord): Promise<void> {
    await this.putOnce(
      { ...idKey(record.tokenId), tokenHash: record.tokenHash },
      `A token with the id ${record.tokenId} already exists.`,
      record.tokenId,
    );
    try {
      await this.putOnce(
        { ...tokenKey(record.tokenHash), ...recordAttributes(record), ...indexAttributes(record) },
        // A second token with the same hash would let one secret answer for two records.
        `A token with the same hash (${record.tokenId}) already exists.`,
        record.tokenId,
      );
    } catch (error) {
      await this.documents
        .send(new DeleteCommand({ TableName: this.tableName, Key: idKey(record.tokenId) }))
        .catch(() => undefined);
      throw error;
    }
  }

  private async putOnce(item: Record<string, unknown>, conflict: string, tokenId: string): Promise<void> {
    try {
      await this.documents.send(
        new PutCommand({
          TableName: this.tableName,
          Item: item,
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
    } catch (error) {
      if (error instanceof Error && error.name === 'ConditionalCheckFailedException') {
        throw new ConflictError(conflict, { cause: error });
      }
      throw new DependencyError(`Storing token ${tokenId} in ${this.tableName} failed.`, { cause: error });
    }
  }

  async getTokenByHash(tokenHash: string): Promise<TokenRecord | undefined> {
    let item: Record<string, unknown> | undefined;
    try {
      const output = await this.documents.send(
        // Consistent, so a revocation is seen by the next lookup. On AWS the HTTP API caches the
        // authorizer's answer per token for its TTL, so the API Lambda looks the token up again
        // on every request (handlers/http/token-recheck.ts).
        new GetCommand({ TableName: this.tableName, Key: tokenKey(tokenHash), ConsistentRead: true }),
      );
      item = output.Item;
    } catch (error) {
      throw new DependencyError(`Reading a token from ${this.tableName} failed.`, { cause: error });
    }
    return item === undefined ? undefined : tokenRecordOf(item);
  }

  async getTokenById(tokenId: string): Promise<TokenRecord | undefined> {
    let pointer: Record<string, unknown> | undefined;
    try {
      const output = await this.documents.send(
        new GetCommand({ TableName: this.tableName, Key: idKey(tokenId), ConsistentRead: true }),
      );
      pointer = output.Item;
    } catch (error) {
      throw new DependencyError(`Reading token ${tokenId} from ${this.tableName} failed.`, { cause: error });
    }
    if (typeof pointer?.tokenHash !== 'string') return undefined;
    return this.getTokenByHash(pointer.tokenHash);
  }

  async listTokens(options: { readonly limit: number; readonly cursor?: string }) {
    const start = options.cursor === undefined ? undefined : decodeIndexCursor(options.cursor, TOKEN_CURSOR);
    let output: QueryCommandOutput;
    try {
      output = await this.documents.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: TOKENS_INDEX,
          KeyConditionExpression: 'gsi1pk = :tokens',
          ExpressionAttributeValues: { ':tokens': TOKENS_PARTITION },
          ScanIndexForward: false,
          Limit: options.limit,
          ...(start === undefined ? {} : { ExclusiveStartKey: start }),
        }),
      );
    } catch (error) {
      throw new DependencyError(`Listing tokens in ${this.tableName} failed.`, { cause: error });
    }
    return {
      tokens: (output.Items ?? []).map(tokenRecordOf),
      ...(output.LastEvaluatedKey === undefined ? {} : { cursor: encodeIndexCursor(output.LastEvaluatedKey) }),
    };
  }

  async revokeToken(tokenHash: string, revokedAt: string): Promise<TokenRecord> {
    try {
      const output = await this.documents.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: tokenKey(tokenHash),
          UpdateExpression: 'SET revokedAt = :at',
          ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(revokedAt)',
          ExpressionAttributeValues: { ':at': revokedAt },
          ReturnValues: 'ALL_NEW',
        }),
      );
      if (output.Attributes !== undefined) return tokenRecordOf(output.Attributes);
    } catch (error) {
      if (!(error instanceof Error && error.name === 'ConditionalCheckFailedException')) {
        throw new DependencyError(`Revoking a token in ${this.tableName} failed.`, { cause: error });
      }
    }
    // Revoked already (keep the first time), or gone.
    const stored = await this.getTokenByHash(tokenHash);
    if (stored === undefined) throw new NotFoundError('Token', 'with this hash');
    return stored;
  }
}

function idKey(tokenId: string): { pk: string; sk: string } {
  return { pk: `TOKENID#${tokenId}`, sk: 'TOKEN' };
}

function indexAttributes(record: TokenRecord): { gsi1pk: string; gsi1sk: string } {
  return { gsi1pk: TOKENS_PARTITION, gsi1sk: `${record.createdAt}#${record.tokenId}` };
}

/** A tokens page's cursor: the last token shown, by its index position. */
const TOKEN_CURSOR = {
  partition: TOKENS_PARTITION,
  sk: 'TOKEN',
  pk: /^TOKEN#[0-9a-f]{64}$/,
  gsi1sk: /^\d{4}-\d{2}-\d{2}T[\d:.]{1,20}Z#tok_[0-9a-f]{12}$/,
} as const;

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
    ...(record.expiresAt === undefined ? {} : { expiresAt: record.expiresAt }),
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
  const expiresAt = optionalText('expiresAt');
  const revokedAt = optionalText('revokedAt');
  return {
    tokenHash: text('tokenHash'),
    tokenId: text('tokenId'),
    name: text('name'),
    scopes: known,
    createdAt: text('createdAt'),
    ...(team === undefined ? {} : { team }),
    ...(expiresAt === undefined ? {} : { expiresAt }),
    ...(revokedAt === undefined ? {} : { revokedAt }),
  };
}
