import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import type { Principal } from '../../core/auth/token-record.ts';
import { AuthenticationError } from '../../core/errors.ts';

/**
 * What the token authorizer hands the API in `requestContext.authorizer.lambda`. The authorizer
 * lets refused requests through with `refusal` set, because an HTTP API cannot shape an
 * authorizer's denial: this way every refusal reaches the caller as RFC 9457 problem+json.
 * The API fails closed: no principal, no access.
 */
export interface AuthorizerContext {
  readonly principal?: string;
  readonly refusal?: string;
}

export function principalOf(event: APIGatewayProxyEventV2): Principal {
  const context = (event.requestContext as { authorizer?: { lambda?: AuthorizerContext } }).authorizer?.lambda;
  if (context?.principal === undefined) {
    throw new AuthenticationError(context?.refusal ?? 'The request carries no API token.');
  }
  return JSON.parse(context.principal) as Principal;
}
