import { createHash } from 'node:crypto';
import type { Principal } from '../../functions/core/auth/token-record.ts';
import {
  authenticate,
  bearerToken,
  generateToken,
  hashToken,
  newTokenRecord,
  requireScope,
  tokenIdOf,
} from '../../functions/core/auth/tokens.ts';
import { AuthenticationError, ForbiddenError } from '../../functions/core/errors.ts';
import type { TokenStore } from '../../functions/core/ports.ts';
import { MemoryTokenStore } from '../support/memory-token-store.ts';

describe('generateToken', () => {
  it('has the kt_ prefix and 43 base64url characters (256 bits)', () => {
    const token = generateToken();
    expect(token).toMatch(/^kt_[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(token.slice(3), 'base64url')).toHaveLength(32);
  });

  it('never repeats', () => {
    const tokens = new Set(Array.from({ length: 1000 }, generateToken));
    expect(tokens.size).toBe(1000);
  });
});

describe('hashToken and newTokenRecord', () => {
  it('is the hex SHA-256 of the token', () => {
    expect(hashToken('kt_abc')).toBe(createHash('sha256').update('kt_abc').digest('hex'));
    expect(hashToken('kt_abc')).toMatch(/^[0-9a-f]{64}$/);
    expect(hashToken('kt_abc')).not.toBe(hashToken('kt_abd'));
  });

  it('builds a record that holds the hash, never the secret', () => {
    const token = generateToken();
    const record = newTokenRecord(token, {
      name: 'ci',
      scopes: ['exports:read'],
      now: new Date('2026-04-01T00:00:00Z'),
    });
    expect(record).toEqual({
      tokenHash: hashToken(token),
      tokenId: `tok_${hashToken(token).slice(0, 12)}`,
      name: 'ci',
      scopes: ['exports:read'],
      createdAt: '2026-04-01T00:00:00.000Z',
    });
    expect(JSON.stringify(record)).not.toContain(token.slice(3));
    expect(tokenIdOf(record.tokenHash)).toBe(record.tokenId);
  });
});

describe('bearerToken', () => {
  it.each([
    ['Bearer kt_x', 'kt_x'],
    ['bearer   kt_x ', 'kt_x'],
    ['Basic a2s=', undefined],
    ['Bearer', undefined],
    ['Bearer a b', undefined],
    [undefined, undefined],
  ])('%p → %p', (header, token) => {
    expect(bearerToken(header)).toBe(token);
  });
});

describe('authenticate', () => {
  const store = new MemoryTokenStore();
  const good = generateToken();
  const revoked = generateToken();
  const teamToken = generateToken();
  const expired = generateToken();

  beforeAll(async () => {
    await store.putToken(
      newTokenRecord(expired, { name: 'short', scopes: ['admin'], expiresAt: '2026-04-02T00:00:00.000Z' }),
    );
    await store.putToken(
      newTokenRecord(good, { name: 'exporter', scopes: ['exports:read', 'exports:write'] }),
    );
    await store.putToken({
      ...newTokenRecord(revoked, { name: 'old', scopes: ['admin'] }),
      revokedAt: '2026-04-02T00:00:00.000Z',
    });
    await store.putToken(
      newTokenRecord(teamToken, { name: 'support bot', scopes: ['events:write'], team: 'support' }),
    );
  });

  beforeEach(() => {
    store.lookups = 0;
  });

  it('resolves a good token to its principal, without the secret or hash', async () => {
    const principal = await authenticate(good, store);
    expect(principal).toStrictEqual({
      tokenId: tokenIdOf(hashToken(good)),
      name: 'exporter',
      scopes: ['exports:read', 'exports:write'],
    });
  });

  it('carries the team restriction', async () => {
    expect((await authenticate(teamToken, store)).team).toBe('support');
  });

  const refusal = 'The API token is missing, malformed, unknown, expired or revoked.';

  it.each([
    ['unknown', () => generateToken(), 1],
    ['revoked', () => revoked, 1],
    ['expired', () => expired, 1],
    ['missing', () => undefined, 0],
    ['empty', () => '', 0],
    ['without the prefix', () => good.slice(3), 0],
    ['too short', () => good.slice(0, -1), 0],
    ['with a bad character', () => `${good.slice(0, -1)}!`, 0],
    ['with trailing space', () => `${good} `, 0],
  ])('refuses a token that is %s, with the same message', async (_, token, lookups) => {
    const error = await authenticate(token(), store).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AuthenticationError);
    expect((error as Error).message).toBe(refusal);
    // Malformed tokens are refused before any lookup.
    expect(store.lookups).toBe(lookups);
  });

  it('accepts a token until the instant it expires, and refuses it from then on', async () => {
    const token = generateToken();
    const expiresAt = '2026-05-01T00:00:00.000Z';
    await store.putToken(newTokenRecord(token, { name: 'until-may', scopes: ['exports:read'], expiresAt }));
    await expect(authenticate(token, store, new Date(Date.parse(expiresAt) - 1))).resolves.toMatchObject({
      name: 'until-may',
    });
    await expect(authenticate(token, store, new Date(expiresAt))).rejects.toThrow(refusal);
  });

  it('refuses a record whose stored hash does not match the presented one', async () => {
    const token = generateToken();
    const forged: TokenStore = Object.assign(new MemoryTokenStore(), {
      getTokenByHash: async () => ({ ...newTokenRecord(generateToken(), { name: 'x', scopes: ['admin'] }) }),
    });
    await expect(authenticate(token, forged)).rejects.toBeInstanceOf(AuthenticationError);
  });
});

describe('requireScope', () => {
  const principal = (scopes: Principal['scopes']): Principal => ({ tokenId: 'tok_1', name: 'p', scopes });

  it('passes with the scope, or with admin', () => {
    expect(() => requireScope(principal(['exports:read']), 'exports:read')).not.toThrow();
    expect(() => requireScope(principal(['admin']), 'schedules:write')).not.toThrow();
  });

  it('refuses without it, naming the scope', () => {
    expect(() => requireScope(principal(['exports:read']), 'exports:write')).toThrow(ForbiddenError);
    expect(() => requireScope(principal([]), 'audit:read')).toThrow(
      'This action needs a token with the audit:read scope (or admin).',
    );
  });
});
