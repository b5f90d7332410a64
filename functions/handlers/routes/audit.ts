import type { APIGatewayProxyEventV2, APIGatewayProxyResultV2 } from 'aws-lambda';
import { auditReadDeps } from '../../adapters/composition-root.ts';
import { latestAuditCheckpoint, listAuditEntries } from '../../core/audit/read-audit.ts';
import { jsonResponse } from '../http/json.ts';
import { principalOf } from '../http/principal.ts';

/** GET /v1/audit?fromSeq=&toSeq=&since=&until=&action=&subject=&limit=&cursor= : entries in chain order. */
export async function getAudit(event: APIGatewayProxyEventV2): Promise<APIGatewayProxyResultV2> {
  const page = await listAuditEntries(auditReadDeps(), event.queryStringParameters ?? {}, principalOf(event));
  return jsonResponse(200, page);
}

/** GET /v1/audit/checkpoint: the latest signed checkpoint of the chain head. */
export async function getAuditCheckpoint(event: APIGatewayProxyEventV2): Promise<APIGatewayProxyResultV2> {
  return jsonResponse(200, await latestAuditCheckpoint(auditReadDeps(), principalOf(event)));
}
