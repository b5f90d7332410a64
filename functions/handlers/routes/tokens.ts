import type { APIGatewayProxyEventV2, APIGatewayProxyResultV2 } from 'aws-lambda';
import { createToken, listTokens, revokeToken } from '../../core/auth/token-operations.ts';
import { tokenOperationDeps } from '../../adapters/composition-root.ts';
import { jsonBodyOf, jsonResponse } from '../http/json.ts';
import { principalOf } from '../http/principal.ts';

/** POST /v1/tokens: 201 with the new token's secret (shown this once) and its id, scopes, team, expiry. */
export async function postToken(event: APIGatewayProxyEventV2): Promise<APIGatewayProxyResultV2> {
  const principal = principalOf(event);
  const response = jsonResponse(201, await createToken(tokenOperationDeps(), jsonBodyOf(event), principal));
  // The answer holds a secret: no cache along the way may keep it.
  return { ...response, headers: { ...response.headers, 'cache-control': 'no-store' } };
}

/** GET /v1/tokens?limit=&cursor= : newest first, never a secret or a hash. */
export async function getTokens(event: APIGatewayProxyEventV2): Promise<APIGatewayProxyResultV2> {
  const list = await listTokens(tokenOperationDeps(), event.queryStringParameters ?? {}, principalOf(event));
  return jsonResponse(200, list);
}

/** DELETE /v1/tokens/{id}: revokes it (again: the same answer); the next request with it is a 401. */
export async function deleteTokenById(event: APIGatewayProxyEventV2): Promise<APIGatewayProxyResultV2> {
  return jsonResponse(
    200,
    await revokeToken(tokenOperationDeps(), event.pathParameters?.id ?? '', principalOf(event)),
  );
}
