import type { MiddlewareObj } from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyResultV2 } from 'aws-lambda';
import { PayloadTooLargeError, ValidationError } from '../../core/errors.ts';
import { MAX_BATCH_BYTES } from '../../core/events/decision-event.ts';
import type { RouteTable } from './routing.ts';

/**
 * The largest request body each route takes, in bytes: the one place the API's body limits are
 * set. The API Lambda enforces them itself (bodyLimit below), so the limit is the product's and
 * not only API Gateway's (10 MB, answered with the gateway's own body). A route takes a body only
 * when it is listed; any body sent to another route is refused.
 */
export const BODY_LIMITS: Readonly<Record<string, number>> = {
  // Under Lambda's 6 MB invocation limit (see MAX_BATCH_BYTES); kt cuts its batches to fit.
  'POST /v1/events': MAX_BATCH_BYTES,
  'POST /v1/exports': 64 * 1024,
  'POST /v1/export-schedules': 64 * 1024,
  'POST /v1/export-schedules/{name}/run': 64 * 1024,
  'POST /v1/tokens': 64 * 1024,
  // They take no fields, but kt sends `{}` (checked by noFieldsBodyOf in json.ts).
  'POST /v1/exports/{id}/redeliver': 64 * 1024,
  'POST /v1/exports/{id}/cancel': 64 * 1024,
  'POST /v1/export-schedules/{name}/pause': 64 * 1024,
  'POST /v1/export-schedules/{name}/resume': 64 * 1024,
};

/** What a request to no route may carry before the router answers 404 or 405. */
export const UNROUTED_BODY_LIMIT = 64 * 1024;

/** Bytes of the body as the caller sent it (API Gateway base64-encodes non-text bodies). */
export function bodyBytes(event: APIGatewayProxyEventV2): number {
  const body = event.body ?? '';
  if (body === '') return 0;
  return event.isBase64Encoded ? Buffer.byteLength(body, 'base64') : Buffer.byteLength(body, 'utf8');
}

/**
 * Refuses a body larger than its route takes (413), and any body on a route that takes none
 * (400), before the token is looked up or the body parsed.
 */
export function bodyLimit(table: RouteTable): MiddlewareObj<APIGatewayProxyEventV2, APIGatewayProxyResultV2> {
  return {
    before: (request) => {
      const { event } = request;
      const bytes = bodyBytes(event);
      if (bytes === 0) return;
      const method = event.requestContext?.http?.method ?? '';
      const key = table.routeKeyOf(method, event.requestContext?.http?.path ?? '');
      const limit = key === undefined ? UNROUTED_BODY_LIMIT : (BODY_LIMITS[key] ?? 0);
      if (limit === 0) {
        throw new ValidationError(`${key} takes no request body.`, [
          { field: 'body', rule: `must be empty for ${method}` },
        ]);
      }
      if (bytes > limit) {
        throw new PayloadTooLargeError(
          `The request body is ${bytes} bytes; ${key ?? 'this route'} takes at most ${limit} bytes.`,
        );
      }
    },
  };
}
