import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type {
  APIGatewayProxyEventV2,
  APIGatewayProxyResultV2,
  APIGatewayRequestAuthorizerEventV2,
  APIGatewaySimpleAuthorizerWithContextResult,
  Context,
} from 'aws-lambda';
import type { AuthorizerContext } from '../../functions/handlers/http/principal.ts';
import { problemFor, problemResponse } from '../../functions/handlers/http/problem.ts';
import {
  PayloadTooLargeError,
  readBody,
  toApiGatewayEvent,
  writeResult,
} from './api-gateway-event.ts';
import { lambdaContext } from './lambda-context.ts';

/** API Gateway HTTP APIs give an integration at most 30 seconds. */
const API_TIMEOUT_MS = 29_000;

type ApiHandler = (event: APIGatewayProxyEventV2, context: Context) => Promise<APIGatewayProxyResultV2>;
type AuthorizerHandler = (
  event: APIGatewayRequestAuthorizerEventV2,
) => Promise<APIGatewaySimpleAuthorizerWithContextResult<AuthorizerContext>>;

export interface HttpFrontProps {
  readonly api: ApiHandler;
  readonly authorizer: AuthorizerHandler;
  /** Called after every request with a one-line summary. */
  readonly onRequest?: (line: string) => void;
}

/**
 * The local stand-in for the HTTP API: it authorizes each request with the authorizer Lambda's
 * handler, as the gateway does (identity source: the Authorization header), then invokes the
 * API Lambda's handler with the authorizer's context.
 */
export function createHttpFront(props: HttpFrontProps): Server {
  return createServer((request, response) => {
    const started = performance.now();
    handle(props, request, response)
      .catch((error: unknown) => {
        if (!response.headersSent) writeResult(response, problemResponse(problemFor(error)));
        else response.destroy();
      })
      .finally(() => {
        const ms = Math.round(performance.now() - started);
        props.onRequest?.(`${request.method} ${request.url} ${response.statusCode} ${ms}ms`);
      });
  });
}

async function handle(
  props: HttpFrontProps,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<void> {
  let body: Buffer;
  try {
    body = await readBody(request);
  } catch (error) {
    if (!(error instanceof PayloadTooLargeError)) throw error;
    response
      .writeHead(413, { 'content-type': 'application/json' })
      .end('{"message":"Request Entity Too Large"}');
    return;
  }
  const event = toApiGatewayEvent(request, body);
  const authorization = event.headers.authorization;
  if (authorization === undefined || authorization === '') {
    // The gateway answers a missing identity source itself, before any authorizer runs.
    response.writeHead(401, { 'content-type': 'application/json' }).end('{"message":"Unauthorized"}');
    return;
  }
  const decision = await props.authorizer({
    version: '2.0',
    type: 'REQUEST',
    routeArn: `arn:aws:execute-api:local:000000000000:local/$default/${event.requestContext.http.method}${event.rawPath}`,
    identitySource: [authorization],
    routeKey: event.routeKey,
    rawPath: event.rawPath,
    rawQueryString: event.rawQueryString,
    headers: event.headers,
    requestContext: event.requestContext,
  } as APIGatewayRequestAuthorizerEventV2);
  if (!decision.isAuthorized) {
    response.writeHead(403, { 'content-type': 'application/json' }).end('{"message":"Forbidden"}');
    return;
  }
  const authorized = {
    ...event,
    requestContext: { ...event.requestContext, authorizer: { lambda: decision.context } },
  } as APIGatewayProxyEventV2;
  const result = await props.api(authorized, lambdaContext('api', API_TIMEOUT_MS, { requestId: event.requestContext.requestId }));
  writeResult(response, result);
}
