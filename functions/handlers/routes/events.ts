import type { APIGatewayProxyEventV2, APIGatewayProxyResultV2 } from 'aws-lambda';
import { requireScope } from '../../core/auth/tokens.ts';
import { ingestEvents } from '../../core/events/ingest.ts';
import { adapters } from '../../adapters/composition-root.ts';
import { jsonBodyOf, jsonResponse } from '../http/json.ts';
import { principalOf } from '../http/principal.ts';

/** POST /v1/events: 200 when every event is stored, 207 listing the events that were not. */
export async function postEvents(event: APIGatewayProxyEventV2): Promise<APIGatewayProxyResultV2> {
  const principal = principalOf(event);
  requireScope(principal, 'events:write');
  const result = await ingestEvents(adapters().eventStore, jsonBodyOf(event), principal);
  return jsonResponse(result.failed.length === 0 ? 200 : 207, result);
}
