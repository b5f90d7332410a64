import type { APIGatewayProxyEventV2, APIGatewayProxyResultV2 } from 'aws-lambda';
import { jobView } from '../../core/export/export-job.ts';
import { cancelExport } from '../../core/export/operations/cancel-export.ts';
import { createExport } from '../../core/export/operations/create-export.ts';
import { deleteExport } from '../../core/export/operations/delete-export.ts';
import { downloadExport, parseDownloadQuery } from '../../core/export/operations/download-export.ts';
import { getExport, getExportManifest, listExports } from '../../core/export/operations/read-exports.ts';
import { redeliverExport } from '../../core/export/operations/redeliver-export.ts';
import { exportOperationDeps } from '../../adapters/composition-root.ts';
import { jsonBodyOf, jsonResponse, noFieldsBodyOf } from '../http/json.ts';
import { principalOf } from '../http/principal.ts';

/** POST /v1/exports: 202 with the queued job (the same job again for a repeated Idempotency-Key). */
export async function postExport(event: APIGatewayProxyEventV2): Promise<APIGatewayProxyResultV2> {
  const principal = principalOf(event);
  const key = event.headers['idempotency-key'];
  const { job } = await createExport(exportOperationDeps(), jsonBodyOf(event), principal, key);
  return jsonResponse(202, jobView(job));
}

/** GET /v1/exports?limit=&cursor= : newest first. */
export async function getExports(event: APIGatewayProxyEventV2): Promise<APIGatewayProxyResultV2> {
  const list = await listExports(exportOperationDeps(), event.queryStringParameters ?? {}, principalOf(event));
  return jsonResponse(200, list);
}

/** GET /v1/exports/{id} */
export async function getExportById(event: APIGatewayProxyEventV2): Promise<APIGatewayProxyResultV2> {
  return jsonResponse(200, await getExport(exportOperationDeps(), idOf(event), principalOf(event)));
}

/** GET /v1/exports/{id}/manifest: the signed manifest beside the artifact. */
export async function getExportManifestById(event: APIGatewayProxyEventV2): Promise<APIGatewayProxyResultV2> {
  return jsonResponse(200, await getExportManifest(exportOperationDeps(), idOf(event), principalOf(event)));
}

/** GET /v1/exports/{id}/download[?file=companion]: a short-lived URL for the artifact (or a PDF's CSV). */
export async function getExportDownload(event: APIGatewayProxyEventV2): Promise<APIGatewayProxyResultV2> {
  // Who asks comes first: a caller without a valid token learns nothing of the query's rules.
  const principal = principalOf(event);
  const file = parseDownloadQuery(event.queryStringParameters ?? {});
  return jsonResponse(200, await downloadExport(exportOperationDeps(), idOf(event), principal, file));
}

/** DELETE /v1/exports/{id}: removes the artifact; the job stays as `deleted`. */
export async function deleteExportById(event: APIGatewayProxyEventV2): Promise<APIGatewayProxyResultV2> {
  return jsonResponse(200, await deleteExport(exportOperationDeps(), idOf(event), principalOf(event)));
}

/** POST /v1/exports/{id}/redeliver: 202 with the job, its delivery pending again. */
export async function postExportRedeliver(event: APIGatewayProxyEventV2): Promise<APIGatewayProxyResultV2> {
  const principal = principalOf(event);
  noFieldsBodyOf(event);
  return jsonResponse(202, await redeliverExport(exportOperationDeps(), idOf(event), principal));
}

/** POST /v1/exports/{id}/cancel: 200 with the job, cancelled (the same again for a cancelled one). */
export async function postExportCancel(event: APIGatewayProxyEventV2): Promise<APIGatewayProxyResultV2> {
  const principal = principalOf(event);
  noFieldsBodyOf(event);
  return jsonResponse(200, await cancelExport(exportOperationDeps(), idOf(event), principal));
}

function idOf(event: APIGatewayProxyEventV2): string {
  return event.pathParameters?.id ?? '';
}
