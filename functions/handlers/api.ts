import middy from '@middy/core';
import httpRouterHandler, { type Route } from '@middy/http-router';
import type { APIGatewayProxyEventV2, APIGatewayProxyResultV2 } from 'aws-lambda';
import { adapters } from '../adapters/composition-root.ts';
import { bodyLimit } from './http/body-limit.ts';
import { queryRule } from './http/query-rule.ts';
import { problemErrors } from './http/problem-errors.ts';
import { noRoute, routeTable } from './http/routing.ts';
import { tokenRecheck } from './http/token-recheck.ts';
import { getAudit, getAuditCheckpoint } from './routes/audit.ts';
import { postEvents } from './routes/events.ts';
import {
  deleteExportById,
  getExportById,
  getExportDownload,
  getExportManifestById,
  getExports,
  postExport,
  postExportCancel,
  postExportRedeliver,
} from './routes/exports.ts';
import { getKeys } from './routes/keys.ts';
import {
  deleteScheduleByName,
  getScheduleByName,
  getSchedules,
  pauseSchedule,
  postSchedule,
  resumeSchedule,
  runSchedule,
} from './routes/schedules.ts';
import { deleteTokenById, getTokens, postToken } from './routes/tokens.ts';

/**
 * Every route of the API, each a thin function in routes/. Exported so the scope-matrix test
 * (test/integration/scope-matrix.test.ts) runs each one: a new route cannot escape it.
 */
export const ROUTES: readonly Route<APIGatewayProxyEventV2, APIGatewayProxyResultV2>[] = [
  { method: 'POST', path: '/v1/events', handler: postEvents },
  { method: 'POST', path: '/v1/exports', handler: postExport },
  { method: 'GET', path: '/v1/exports', handler: getExports },
  { method: 'GET', path: '/v1/exports/{id}', handler: getExportById },
  { method: 'GET', path: '/v1/exports/{id}/download', handler: getExportDownload },
  { method: 'GET', path: '/v1/exports/{id}/manifest', handler: getExportManifestById },
  { method: 'DELETE', path: '/v1/exports/{id}', handler: deleteExportById },
  { method: 'POST', path: '/v1/exports/{id}/redeliver', handler: postExportRedeliver },
  { method: 'POST', path: '/v1/exports/{id}/cancel', handler: postExportCancel },
  { method: 'POST', path: '/v1/export-schedules', handler: postSchedule },
  { method: 'GET', path: '/v1/export-schedules', handler: getSchedules },
  { method: 'GET', path: '/v1/export-schedules/{name}', handler: getScheduleByName },
  { method: 'DELETE', path: '/v1/export-schedules/{name}', handler: deleteScheduleByName },
  { method: 'POST', path: '/v1/export-schedules/{name}/pause', handler: pauseSchedule },
  { method: 'POST', path: '/v1/export-schedules/{name}/resume', handler: resumeSchedule },
  { method: 'POST', path: '/v1/export-schedules/{name}/run', handler: runSchedule },
  { method: 'GET', path: '/v1/keys', handler: getKeys },
  { method: 'GET', path: '/v1/audit', handler: getAudit },
  { method: 'GET', path: '/v1/audit/checkpoint', handler: getAuditCheckpoint },
  { method: 'POST', path: '/v1/tokens', handler: postToken },
  { method: 'GET', path: '/v1/tokens', handler: getTokens },
  { method: 'DELETE', path: '/v1/tokens/{id}', handler: deleteTokenById },
];

const TABLE = routeTable(ROUTES);

/**
 * The API Lambda: the body held to its route's limit (body-limit.ts), a query string only where a
 * route reads one (query-rule.ts), the token looked up again (token-recheck.ts), then one router over ROUTES, which answers 405 (with Allow) for a route's
 * path with another method and 404 for any other path. Every refusal is problem+json.
 */
export const handler = middy<APIGatewayProxyEventV2, APIGatewayProxyResultV2>()
  .use(problemErrors())
  .use(bodyLimit(TABLE))
  .use(queryRule(TABLE))
  .use(tokenRecheck(() => adapters().tokenStore))
  .handler(
    httpRouterHandler<APIGatewayProxyEventV2, APIGatewayProxyResultV2>({
      routes: [...ROUTES],
      notFoundResponse: noRoute(TABLE),
    }),
  );
