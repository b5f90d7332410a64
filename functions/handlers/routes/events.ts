import type { APIGatewayProxyEventV2, APIGatewayProxyResultV2 } from 'aws-lambda';
import { ingestEvents } from '../../core/events/ingest.ts';
import { ingestDeps } from '../../adapters/composition-root.ts';
import { jsonBodyOf, jsonResponse } from '../http/json.ts';
import { principalOf } from '../http/principal.ts';

/**
 * POST /v1/events: 200 when every event is stored (new or an identical repeat); 207 Multi-Status
 * when any event conflicts with its stored id (`conflicts`, never to be resent) or could not be
 * written (`failed`, safe to resend).
 */
export async function postEvents(event: APIGatewayProxyEventV2): Promise<APIGatewayProxyResultV2> {
  const principal = principalOf(event);
  const result = await ingestEvents(ingestDeps(), jsonBodyOf(event), principal);
  return jsonResponse(result.failed.length === 0 && result.conflicts.length === 0 ? 200 : 207, result);
}
