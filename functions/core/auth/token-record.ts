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
  readonly revokedAt?: string;
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
