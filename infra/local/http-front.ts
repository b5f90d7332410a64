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
import { AuthenticationError, ForbiddenError } from '../../functions/core/errors.ts';
import { readBody, toApiGatewayEvent, writeResult } from './api-gateway-event.ts';
import { answerClientErrors, MAX_HEADER_BYTES } from './client-errors.ts';
import { lambdaContext } from './lambda-context.ts';
import { isSigV4, type SigV4Verifier } from './sigv4-verifier.ts';

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
  /** Checks SigV4-signed requests, as the IAM API's AWS_IAM routes do on AWS. */
  readonly sigv4?: SigV4Verifier;
}

/**
 * The local stand-in for the HTTP API: it authorizes each request with the authorizer Lambda's
 * handler, as the gateway does (identity source: the Authorization header), then invokes the
 * API Lambda's handler with the authorizer's context.
 */
export function createHttpFront(props: HttpFrontProps): Server {
  const onRequest = (request: IncomingMessage, response: ServerResponse) => {
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
  };
  // A missing Host is the API's to judge, not a bare 400 from Node.
  const server = createServer({ maxHeaderSize: MAX_HEADER_BYTES, requireHostHeader: false }, onRequest);
  // An Expect header other than 100-continue is served like any request, not a bare 417.
  server.on('checkExpectation', onRequest);
  // Oversized headers, malformed requests and stalled ones: problem+json from the socket.
  answerClientErrors(server);
  return server;
}

async function handle(
  props: HttpFrontProps,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<void> {
  // Past the gateway's limit: a problem+json 413 (the caller's catch writes it).
  const body = await readBody(request);
  const event = toApiGatewayEvent(request, body);
  const authorization = event.headers.authorization;
  if (props.sigv4 !== undefined && isSigV4(authorization)) {
    // The IAM API's way in: the signature is the authorisation (a refusal throws a 403 problem),
    // the API gets the caller as `authorizer.iam`, and no token authorizer runs.
    const iam = await props.sigv4.verify({
      method: event.requestContext.http.method,
      target: request.url ?? '/',
      headers: event.headers,
      body,
    });
    const signed = {
      ...event,
      requestContext: { ...event.requestContext, authorizer: { iam } },
    } as APIGatewayProxyEventV2;
    const context = lambdaContext('api', API_TIMEOUT_MS, { requestId: event.requestContext.requestId });
    writeResult(response, await props.api(signed, context));
    return;
  }
  if (authorization === undefined || authorization === '') {
    // The gateway answers a missing identity source itself, before any authorizer runs (on AWS
    // with its own `{"message":"Unauthorized"}` body; here as problem+json like every refusal).
    throw new AuthenticationError('The request carries no API token: send Authorization: Bearer <token>.');
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
  if (!decision.isAuthorized) throw new ForbiddenError('The authorizer refused the request.');
  const authorized = {
    ...event,
    requestContext: { ...event.requestContext, authorizer: { lambda: decision.context } },
  } as APIGatewayProxyEventV2;
  const result = await props.api(authorized, lambdaContext('api', API_TIMEOUT_MS, { requestId: event.requestContext.requestId }));
  writeResult(response, result);
}
