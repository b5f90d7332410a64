import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { type IamCaller, iamPrincipal } from '../../core/auth/iam-principal.ts';
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

/**
 * Who vouched for the caller. The token API's authorizer sets `lambda`; the IAM API (every route
 * AWS_IAM) sets `iam` after checking the SigV4 signature. Both come from the gateway (or the local
 * front standing in for it), never from a request header.
 */
export interface RequestAuthorizer {
  lambda?: AuthorizerContext;
  readonly iam?: IamCaller;
}

export function authorizerOf(event: APIGatewayProxyEventV2): RequestAuthorizer | undefined {
  return (event.requestContext as { authorizer?: RequestAuthorizer }).authorizer;
}

/** Whether the gateway authorised this request by its SigV4 signature (no token to look up). */
export function isIamAuthorized(authorizer: RequestAuthorizer | undefined): boolean {
  return authorizer?.iam != null && authorizer.lambda === undefined;
}

export function principalOf(event: APIGatewayProxyEventV2): Principal {
  const authorizer = authorizerOf(event);
  if (isIamAuthorized(authorizer)) return iamPrincipal(authorizer?.iam as IamCaller);
  // Both at once is no request a gateway makes: fail closed rather than pick one.
  if (authorizer?.iam != null) throw new AuthenticationError('The request carries two kinds of credentials.');
  const context = authorizer?.lambda;
  if (context?.principal === undefined) {
    throw new AuthenticationError(context?.refusal ?? 'The request carries no API token.');
  }
  return JSON.parse(context.principal) as Principal;
}
