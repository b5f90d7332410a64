/** Scopes a token may hold; `admin` implies all others. */
export const SCOPES = [
  'exports:read',
  'exports:write',
  'schedules:write',
  'events:write',
  'audit:read',
  'admin',
] as const;

export type Scope = (typeof SCOPES)[number];

/**
 * An API token as stored. The secret itself is never stored: only its SHA-256 hash, which is
 * also the lookup key. `team`, when set, restricts the token to that team's events and exports.
 */
export interface TokenRecord {
  readonly tokenHash: string;
  /** A short, non-secret handle for logs and audit entries (`tok_` + first 12 hex of the hash). */
  readonly tokenId: string;
  readonly name: string;
  readonly scopes: readonly Scope[];
  readonly team?: string;
  readonly createdAt: string;
  /** When the token stops working (ISO 8601 UTC); absent for a token that does not expire. */
  readonly expiresAt?: string;
  readonly revokedAt?: string;
}

/** Whether a stored token still answers for its holder at `now`: not revoked, not expired. */
export function isLive(record: TokenRecord, now: Date): boolean {
  return (
    record.revokedAt === undefined &&
    (record.expiresAt === undefined || Date.parse(record.expiresAt) > now.getTime())
  );
}

/** Who is calling, once a token has been checked. Never holds the secret. */
export interface Principal {
  readonly tokenId: string;
  readonly name: string;
  readonly scopes: readonly Scope[];
  readonly team?: string;
}

export function hasScope(principal: Principal, scope: Scope): boolean {
  return principal.scopes.includes('admin') || principal.scopes.includes(scope);
}
