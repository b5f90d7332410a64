import type { TokenRecord } from '../../functions/core/auth/token-record.ts';
import { ConflictError, NotFoundError } from '../../functions/core/errors.ts';
import type { TokenStore } from '../../functions/core/ports.ts';

/** The TokenStore contract in memory, counting lookups by hash to show which refusals reach it. */
export class MemoryTokenStore implements TokenStore {
  readonly records = new Map<string, TokenRecord>();
  lookups = 0;

  async putToken(record: TokenRecord): Promise<void> {
    if (
      this.records.has(record.tokenHash) ||
      [...this.records.values()].some((r) => r.tokenId === record.tokenId)
    ) {
      throw new ConflictError(`duplicate token ${record.tokenId}`);
    }
    this.records.set(record.tokenHash, record);
  }

  async getTokenByHash(tokenHash: string): Promise<TokenRecord | undefined> {
    this.lookups++;
    return this.records.get(tokenHash);
  }

  async getTokenById(tokenId: string): Promise<TokenRecord | undefined> {
    return [...this.records.values()].find((record) => record.tokenId === tokenId);
  }

  async listTokens(options: { readonly limit: number; readonly cursor?: string }) {
    const all = [...this.records.values()].sort((a, b) =>
      `${b.createdAt}#${b.tokenId}`.localeCompare(`${a.createdAt}#${a.tokenId}`),
    );
    const start = options.cursor === undefined ? 0 : Number(options.cursor);
    const tokens = all.slice(start, start + options.limit);
    const next = start + tokens.length;
    return { tokens, ...(next < all.length ? { cursor: String(next) } : {}) };
  }

  async revokeToken(tokenHash: string, revokedAt: string): Promise<TokenRecord> {
    const record = this.records.get(tokenHash);
    if (record === undefined) throw new NotFoundError('Token', 'with this hash');
    if (record.revokedAt !== undefined) return record;
    const revoked = { ...record, revokedAt };
    this.records.set(tokenHash, revoked);
    return revoked;
  }
}
