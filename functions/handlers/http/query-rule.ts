import type { MiddlewareObj } from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyResultV2 } from 'aws-lambda';
import { ValidationError } from '../../core/errors.ts';
import type { RouteTable } from './routing.ts';

/**
 * The routes that read a query string, each checking it with its own schema in core (unknown
 * parameters refused there). Every other route takes none: a parameter sent to it would be
 * silently ignored, so a caller's typo (`?format=csv` on a job) would look like it had worked.
 */
export const QUERY_ROUTES: ReadonlySet<string> = new Set([
  'GET /v1/exports',
  'GET /v1/exports/{id}/download',
  'GET /v1/export-schedules',
  'GET /v1/audit',
  'GET /v1/tokens',
]);

/** Refuses (400, naming each parameter) a query string on a route that takes none. */
export function queryRule(table: RouteTable): MiddlewareObj<APIGatewayProxyEventV2, APIGatewayProxyResultV2> {
  return {
    before: ({ event }) => {
      const names = Object.keys(event.queryStringParameters ?? {});
      if (names.length === 0) return;
      const key = table.routeKeyOf(event.requestContext?.http?.method ?? '', event.requestContext?.http?.path ?? '');
      // No route: the router answers 404 or 405, which says more than a query rule would.
      if (key === undefined || QUERY_ROUTES.has(key)) return;
      throw new ValidationError(
        `${key} takes no query parameters.`,
        names.map((name) => ({ field: name, rule: 'is not a parameter of this route, which takes none' })),
      );
    },
  };
}
