import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { AuthenticationError, ForbiddenError } from '../errors.ts';
import type { TokenStore } from '../ports.ts';
import { hasScope, isLive, type Principal, type Scope, type TokenRecord } from './token-record.ts';

export const TOKEN_PREFIX = 'kt_';
const TOKEN_SHAPE = /^kt_[A-Za-z0-9_-]{43}$/;

/** A new random token (256 bits). Show it once; keep only hashToken(token). */
export function generateToken(): string {
  return TOKEN_PREFIX + randomBytes(32).toString('base64url');
}

/** Whether a string has the shape of a token this service issues (it may still be unknown). */
export function isWellFormedToken(token: string): boolean {
  return TOKEN_SHAPE.test(token);
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export function tokenIdOf(tokenHash: string): string {
  return `tok_${tokenHash.slice(0, 12)}`;
}

export function newTokenRecord(
  token: string,
  props: {
    readonly name: string;
    readonly scopes: readonly Scope[];
    readonly team?: string;
    readonly now?: Date;
    readonly expiresAt?: string;
  },
): TokenRecord {
  const tokenHash = hashToken(token);
  return {
    tokenHash,
    tokenId: tokenIdOf(tokenHash),
    name: props.name,
    scopes: [...props.scopes],
    ...(props.team === undefined ? {} : { team: props.team }),
    createdAt: (props.now ?? new Date()).toISOString(),
    ...(props.expiresAt === undefined ? {} : { expiresAt: props.expiresAt }),
  };
}

/** `Authorization: Bearer kt_...` → the token, or undefined when the header is absent or malformed. */
export function bearerToken(authorization: string | undefined): string | undefined {
  const match = authorization?.match(/^Bearer[ \t]+(\S+)[ \t]*$/i);
  return match?.[1];
}

/**
 * Resolves a presented token to its principal. The store is looked up by hash, and the stored
 * hash is compared in constant time as a second guard. Every failure reads the same to the
 * caller, so a probe learns nothing about which tokens exist. An expired or revoked token is
 * refused from the first lookup after it ends (the read is consistent).
 */
export async function authenticate(
  token: string | undefined,
  store: TokenStore,
  now: Date = new Date(),
): Promise<Principal> {
  const refused = new AuthenticationError(
    'The API token is missing, malformed, unknown, expired or revoked.',
  );
  if (token === undefined || !isWellFormedToken(token)) throw refused;
  const presented = Buffer.from(hashToken(token), 'hex');
  const record = await store.getTokenByHash(presented.toString('hex'));
  if (record === undefined || !isLive(record, now)) throw refused;
  const stored = Buffer.from(record.tokenHash, 'hex');
  if (stored.length !== presented.length || !timingSafeEqual(stored, presented)) throw refused;
  return {
    tokenId: record.tokenId,
    name: record.name,
    scopes: record.scopes,
    ...(record.team === undefined ? {} : { team: record.team }),
  };
}

/**
 * The one scope guard: every core operation behind an API route calls it once, first, before it
 * reads or writes anything. Its message names the missing scope (the CLI prints it as is).
 */
export function requireScope(principal: Principal, scope: Scope): void {
  if (!hasScope(principal, scope)) {
    throw new ForbiddenError(`This action needs a token with the ${scope} scope (or admin).`);
  }
}
