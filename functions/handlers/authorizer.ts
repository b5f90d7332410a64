import type { APIGatewayRequestAuthorizerEventV2, APIGatewaySimpleAuthorizerWithContextResult } from 'aws-lambda';
import { authenticate, bearerToken } from '../core/auth/tokens.ts';
import { AuthenticationError } from '../core/errors.ts';
import { adapters } from '../adapters/composition-root.ts';
import type { AuthorizerContext } from './http/principal.ts';

/**
 * The HTTP API's token authorizer. A refused token still passes with `refusal` in the context so
 * that the API answers it with a problem+json 401 (see http/principal.ts); the API serves nothing
 * without a principal. A storage fault is thrown, and the gateway answers 500.
 */
export async function handler(
  event: APIGatewayRequestAuthorizerEventV2,
): Promise<APIGatewaySimpleAuthorizerWithContextResult<AuthorizerContext>> {
  try {
    const principal = await authenticate(bearerToken(event.headers?.authorization), adapters().tokenStore);
    return { isAuthorized: true, context: { principal: JSON.stringify(principal) } };
  } catch (error) {
    if (error instanceof AuthenticationError) return { isAuthorized: true, context: { refusal: error.message } };
    throw error;
  }
}
