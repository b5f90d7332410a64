import type { MiddlewareObj } from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyResultV2 } from 'aws-lambda';
import { authenticate, bearerToken } from '../../core/auth/tokens.ts';
import { AuthenticationError } from '../../core/errors.ts';
import type { TokenStore } from '../../core/ports.ts';
import { type AuthorizerContext, authorizerOf, isIamAuthorized } from './principal.ts';

/**
 * Looks the caller's token up again in the API Lambda, on every request. On AWS the HTTP API
 * caches the authorizer's answer per Authorization header (infra/constructs/api.ts,
 * authorizerCacheTtl), so without this a revoked or expired token would keep working until the
 * cached answer ran out; with it, "revoked" and "expired" hold from the next request. It costs one
 * consistent GetItem. The fresh principal replaces the authorizer's, and a token that no longer
 * answers becomes a refusal that principalOf turns into a 401, so routes stay as they are.
 * An IAM-authorised request (the IAM API, SigV4) has no token: the gateway checked its signature
 * on this very request, so there is nothing to look up again.
 */
export function tokenRecheck(
  tokenStore: () => TokenStore,
): MiddlewareObj<APIGatewayProxyEventV2, APIGatewayProxyResultV2> {
  return {
    before: async (request) => {
      const authorizer = authorizerOf(request.event);
      if (isIamAuthorized(authorizer)) return;
      const context = authorizer?.lambda;
      if (authorizer === undefined || context?.principal === undefined) return;
      const claimed = JSON.parse(context.principal) as { tokenId?: unknown };
      let fresh: AuthorizerContext;
      try {
        const principal = await authenticate(bearerToken(request.event.headers?.authorization), tokenStore());
        // The header must still be the token the authorizer vouched for.
        fresh =
          principal.tokenId === claimed.tokenId
            ? { principal: JSON.stringify(principal) }
            : { refusal: 'The API token is missing, malformed, unknown, expired or revoked.' };
      } catch (error) {
        if (!(error instanceof AuthenticationError)) throw error;
        fresh = { refusal: error.message };
      }
      authorizer.lambda = fresh;
    },
  };
}
