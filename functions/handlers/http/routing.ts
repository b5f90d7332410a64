import type { RouteNotFoundResponseFn } from '@middy/http-router';
import { MethodNotAllowedError, NotFoundError } from '../../core/errors.ts';

/** What routing needs of a route: its method and its path template (`/v1/exports/{id}`). */
export interface RouteKey {
  readonly method: string;
  readonly path: string;
}

export interface RouteTable {
  /** The route `method path` takes, as `METHOD /template`, or undefined when none does. */
  routeKeyOf(method: string, path: string): string | undefined;
  /** The methods some route takes on `path`, in the order of the routes; empty for no route. */
  methodsOf(path: string): string[];
}

/**
 * Matches paths to routes exactly as @middy/http-router does (a `{name}` parameter is one
 * non-empty segment, one trailing slash is allowed), so that what runs before the router (the
 * body limit) and what answers after it (404 or 405) agree with it about which route a request is.
 */
export function routeTable(routes: readonly RouteKey[]): RouteTable {
  const compiled = routes.map((route) => ({
    method: route.method,
    key: `${route.method} ${route.path}`,
    pattern: new RegExp(
      `^${route.path.replace(/[.+?^$()|[\]\\]/g, '\\$&').replace(/\/\{[^/]+\}/g, '/[^/]+')}/?$`,
    ),
  }));
  const matching = (path: string) => compiled.filter((route) => route.pattern.test(path));
  return {
    routeKeyOf: (method, path) => matching(path).find((route) => route.method === method)?.key,
    methodsOf: (path) => [...new Set(matching(path).map((route) => route.method))],
  };
}

const SHOWN_PATH_CHARS = 120;

/**
 * The router's answer when no route takes the request: 405 with the methods the path takes when
 * it is a route's path (the Allow header), else 404. Both are problem+json (problem.ts).
 */
export function noRoute(table: RouteTable): RouteNotFoundResponseFn {
  return ({ method, path }) => {
    const allowed = table.methodsOf(path);
    if (allowed.length > 0) {
      throw new MethodNotAllowedError(
        `${method} is not allowed here; this path takes ${allowed.join(', ')}.`,
        allowed,
      );
    }
    const shown = path.length > SHOWN_PATH_CHARS ? `${path.slice(0, SHOWN_PATH_CHARS)}…` : path;
    throw new NotFoundError('route', `${method} ${shown}`);
  };
}
