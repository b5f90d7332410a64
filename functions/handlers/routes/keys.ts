import type { APIGatewayProxyEventV2, APIGatewayProxyResultV2 } from 'aws-lambda';
import { listPublicKeys } from '../../core/evidence/list-public-keys.ts';
import { keyOperationDeps } from '../../adapters/composition-root.ts';
import { jsonResponse } from '../http/json.ts';
import { principalOf } from '../http/principal.ts';

/** GET /v1/keys: the public keys that sign evidence, the current one first. */
export async function getKeys(event: APIGatewayProxyEventV2): Promise<APIGatewayProxyResultV2> {
  // Any valid token may read public keys, but like every route it takes a valid token.
  principalOf(event);
  return jsonResponse(200, await listPublicKeys(keyOperationDeps()));
}
