import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { MAX_ID_CHARS } from '../../../functions/core/audit/audit-chain.ts';
import { iamPrincipal } from '../../../functions/core/auth/iam-principal.ts';
import { generateToken, newTokenRecord } from '../../../functions/core/auth/tokens.ts';
import { AuthenticationError } from '../../../functions/core/errors.ts';
import { principalOf } from '../../../functions/handlers/http/principal.ts';
import { tokenRecheck } from '../../../functions/handlers/http/token-recheck.ts';
import { MemoryTokenStore } from '../../support/memory-token-store.ts';

const ROLE = 'arn:aws:sts::123456789012:assumed-role/export-automation/nightly';
const iam = (userArn: string | null = ROLE) => ({
  accessKey: 'ASIAEXAMPLE',
  accountId: '123456789012',
  callerId: 'AROAEXAMPLE:nightly',
  userArn,
  userId: 'AROAEXAMPLE:nightly',
  principalOrgId: null,
  cognitoIdentity: null,
});

const eventWith = (authorizer: unknown, authorization?: string): APIGatewayProxyEventV2 =>
  ({
    headers: authorization === undefined ? {} : { authorization },
    requestContext: { authorizer },
  }) as unknown as APIGatewayProxyEventV2;

describe('iamPrincipal', () => {
  it('holds every scope, no team, and a readable, non-secret handle naming the caller', () => {
    expect(iamPrincipal(iam())).toEqual({ tokenId: `iam:${ROLE}`, name: ROLE, scopes: ['admin'] });
  });

  it('keeps a very long ARN within the audit trail limit, distinct from another long ARN', () => {
    const long = (n: number) => `arn:aws:iam::123456789012:user/${'path/'.repeat(60)}user-${n}`;
    const first = iamPrincipal(iam(long(1))).tokenId;
    const second = iamPrincipal(iam(long(2))).tokenId;
    expect(first.length).toBeLessThanOrEqual(MAX_ID_CHARS);
    expect(first.startsWith('iam:arn:aws:iam::123456789012:user/path/')).toBe(true);
    expect(first).not.toBe(second);
  });

  it('refuses a caller without an ARN', () => {
    expect(() => iamPrincipal(iam(null))).toThrow(AuthenticationError);
    expect(() => iamPrincipal(iam(' '))).toThrow(AuthenticationError);
    expect(() => iamPrincipal(iam('arn:aws:iam::1:user/a\nb'))).toThrow(AuthenticationError);
  });
});

describe('principalOf', () => {
  it('maps the IAM authorizer context to the IAM principal', () => {
    expect(principalOf(eventWith({ iam: iam() })).tokenId).toBe(`iam:${ROLE}`);
  });

  it("reads the token authorizer's principal, and never mistakes a token request for IAM", () => {
    const principal = { tokenId: 'tok_0123456789ab', name: 'ci', scopes: ['exports:read'] };
    expect(principalOf(eventWith({ lambda: { principal: JSON.stringify(principal) } }))).toEqual(principal);
    // A refused token stays refused whatever else the context holds.
    expect(() => principalOf(eventWith({ lambda: { refusal: 'revoked' }, iam: iam() }))).toThrow(AuthenticationError);
    expect(() => principalOf(eventWith({ lambda: { principal: JSON.stringify(principal) }, iam: iam() }))).toThrow(
      AuthenticationError,
    );
    expect(() => principalOf(eventWith(undefined))).toThrow(AuthenticationError);
  });
});

describe('tokenRecheck', () => {
  const run = async (event: APIGatewayProxyEventV2, store = new MemoryTokenStore()) => {
    const middleware = tokenRecheck(() => store);
    await middleware.before?.({ event } as never);
    return event;
  };

  it('skips an IAM-authorised request: there is no token to look up again', async () => {
    const store = new MemoryTokenStore();
    const event = await run(eventWith({ iam: iam() }, 'AWS4-HMAC-SHA256 Credential=…'), store);
    expect(store.lookups).toBe(0);
    expect(principalOf(event).tokenId).toBe(`iam:${ROLE}`);
  });

  it('still re-checks a Bearer request, whatever IAM context sits beside it', async () => {
    const store = new MemoryTokenStore();
    const token = generateToken();
    const record = newTokenRecord(token, { name: 'ci', scopes: ['exports:read'] });
    await store.putToken(record);
    await store.revokeToken(record.tokenHash, new Date().toISOString());
    const principal = { tokenId: record.tokenId, name: 'ci', scopes: ['exports:read'] };
    const event = await run(
      eventWith({ lambda: { principal: JSON.stringify(principal) }, iam: iam() }, `Bearer ${token}`),
      store,
    );
    expect(store.lookups).toBe(1);
    expect((event.requestContext as unknown as { authorizer: { lambda: object } }).authorizer.lambda).toEqual({
      refusal: 'The API token is missing, malformed, unknown, expired or revoked.',
    });
    expect(() => principalOf(event)).toThrow(AuthenticationError);
  });
});
