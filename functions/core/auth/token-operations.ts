import type { AuditRecord } from '../audit/audit-chain.ts';
import { ForbiddenError, NotFoundError } from '../errors.ts';
import type { AuditLog, TokenStore } from '../ports.ts';
import { cursorParameter, limitParameter, parseQuery, queryObject } from '../request-schema.ts';
import { isLive, type Principal, type Scope, type TokenRecord } from './token-record.ts';
import { expiresInMs, parseTokenRequest } from './token-request.ts';
import { newTokenRecord, requireScope } from './tokens.ts';

/** What the token operations need; the composition root provides it. */
export interface TokenOperationDeps {
  readonly tokens: TokenStore;
  readonly audit: AuditLog;
  readonly now: () => Date;
  /** A new random secret (generateToken). */
  readonly newSecret: () => string;
}

/** A token as the API shows it: never its secret, never its hash. */
export interface TokenView {
  readonly id: string;
  readonly name: string;
  readonly scopes: readonly Scope[];
  readonly team?: string;
  readonly created: string;
  readonly expires?: string;
  readonly revoked?: string;
  /** `active`, `expired` or `revoked`, at the time of the answer. */
  readonly status: 'active' | 'expired' | 'revoked';
}

/** The answer to `POST /v1/tokens`: the one time the secret is ever shown. */
export interface CreatedToken extends TokenView {
  readonly token: string;
}

export const DEFAULT_TOKEN_LIST_LIMIT = 100;
export const MAX_TOKEN_LIST_LIMIT = 100;
/** A token id, as in `DELETE /v1/tokens/{id}`: anything else names no token. */
export const TOKEN_ID = /^tok_[0-9a-f]{12}$/;

/** `GET /v1/tokens?limit=&cursor=`. */
export const tokenListQuerySchema = queryObject(
  { limit: limitParameter(MAX_TOKEN_LIST_LIMIT).optional(), cursor: cursorParameter.optional() },
  'the token listing',
);

/**
 * POST /v1/tokens: a new token with the asked scopes, team and expiry. Only its hash is stored;
 * the secret is in this answer and nowhere else (not in the audit entry, which names the id).
 * A token restricted to a team may only make tokens restricted to the same team: it could
 * otherwise hand out wider access than it has.
 */
export async function createToken(
  deps: TokenOperationDeps,
  body: unknown,
  principal: Principal,
): Promise<CreatedToken> {
  requireScope(principal, 'admin');
  const request = parseTokenRequest(body);
  if (principal.team !== undefined && request.team !== principal.team) {
    throw new ForbiddenError(
      `This token is restricted to team ${principal.team}, so it may only create tokens restricted to team ${principal.team} (set team).`,
    );
  }
  const now = deps.now();
  const lifetime = request.expiresIn === undefined ? undefined : expiresInMs(request.expiresIn);
  const secret = deps.newSecret();
  const record = newTokenRecord(secret, {
    name: request.name,
    scopes: request.scopes,
    ...(request.team === undefined ? {} : { team: request.team }),
    now,
    ...(lifetime === undefined ? {} : { expiresAt: new Date(now.getTime() + lifetime).toISOString() }),
  });
  await deps.tokens.putToken(record);
  await deps.audit.append(auditRecord('token.created', record, principal, now));
  return { token: secret, ...tokenView(record, now) };
}

/**
 * GET /v1/tokens?limit=&cursor= : newest first, with their status. A team-restricted token sees
 * only its team's tokens, so a page may hold fewer than `limit`; the cursor still continues.
 */
export async function listTokens(
  deps: Pick<TokenOperationDeps, 'tokens' | 'now'>,
  parameters: Readonly<Record<string, string | undefined>>,
  principal: Principal,
): Promise<{ readonly tokens: readonly TokenView[]; readonly cursor?: string }> {
  requireScope(principal, 'admin');
  const query = parseQuery(tokenListQuerySchema, parameters, 'The token listing query is invalid.');
  const page = await deps.tokens.listTokens({
    limit: query.limit === undefined ? DEFAULT_TOKEN_LIST_LIMIT : Number(query.limit),
    ...(query.cursor === undefined ? {} : { cursor: query.cursor }),
  });
  const now = deps.now();
  return {
    tokens: page.tokens
      .filter((record) => canManage(principal, record))
      .map((record) => tokenView(record, now)),
    ...(page.cursor === undefined ? {} : { cursor: page.cursor }),
  };
}

/**
 * DELETE /v1/tokens/{id}: revokes the token; the next request with it is refused (401). Revoking
 * a revoked token answers it again and appends nothing. Another team's token is not found.
 */
export async function revokeToken(
  deps: TokenOperationDeps,
  tokenId: string,
  principal: Principal,
): Promise<TokenView> {
  requireScope(principal, 'admin');
  if (!TOKEN_ID.test(tokenId)) throw new NotFoundError('Token', tokenId);
  const found = await deps.tokens.getTokenById(tokenId);
  if (found === undefined || !canManage(principal, found)) throw new NotFoundError('Token', tokenId);
  const now = deps.now();
  if (found.revokedAt !== undefined) return tokenView(found, now);
  const revoked = await deps.tokens.revokeToken(found.tokenHash, now.toISOString());
  // Only the request that revoked it records it; a concurrent repeat found it revoked already.
  if (revoked.revokedAt === now.toISOString()) {
    await deps.audit.append(auditRecord('token.revoked', revoked, principal, now));
  }
  return tokenView(revoked, now);
}

export function tokenView(record: TokenRecord, now: Date): TokenView {
  return {
    id: record.tokenId,
    name: record.name,
    scopes: record.scopes,
    ...(record.team === undefined ? {} : { team: record.team }),
    created: record.createdAt,
    ...(record.expiresAt === undefined ? {} : { expires: record.expiresAt }),
    ...(record.revokedAt === undefined ? {} : { revoked: record.revokedAt }),
    status: record.revokedAt !== undefined ? 'revoked' : isLive(record, now) ? 'active' : 'expired',
  };
}

function canManage(principal: Principal, record: TokenRecord): boolean {
  return principal.team === undefined || record.team === principal.team;
}

function auditRecord(
  action: 'token.created' | 'token.revoked',
  record: TokenRecord,
  principal: Principal,
  now: Date,
): AuditRecord {
  return {
    action,
    subject: record.tokenId,
    actor: principal.tokenId,
    at: now.toISOString(),
    details: {
      name: record.name,
      scopes: record.scopes.join(','),
      ...(record.team === undefined ? {} : { team: record.team }),
      ...(record.expiresAt === undefined ? {} : { expires: record.expiresAt }),
    },
  };
}
