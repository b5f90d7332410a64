import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { APIGatewayProxyEventV2, APIGatewayProxyResultV2 } from 'aws-lambda';
import { PayloadTooLargeError, ValidationError } from '../../functions/core/errors.ts';

/**
 * Translation between Node's HTTP objects and the API Gateway HTTP API (payload 2.0) shapes,
 * so the local stack calls exactly the handler code Lambda runs.
 */

/**
 * API Gateway's payload limit; larger bodies are refused before any handler runs. Each route's
 * own (smaller) limit is the API Lambda's: functions/handlers/http/body-limit.ts.
 */
export const MAX_BODY_BYTES = 10 * 1024 * 1024;

/**
 * How much of a too-large body is still read (and dropped) so that the caller, still sending,
 * gets the 413 rather than a reset connection; past it the connection is cut.
 */
const MAX_DRAINED_BYTES = 64 * 1024 * 1024;

/** The request body, or a PayloadTooLargeError (413) past MAX_BODY_BYTES. */
export async function readBody(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size <= MAX_BODY_BYTES) chunks.push(chunk as Buffer);
    else if (size > MAX_DRAINED_BYTES) break;
  }
  if (size > MAX_BODY_BYTES) {
    throw new PayloadTooLargeError(`The request body is larger than ${MAX_BODY_BYTES} bytes, the most the API takes.`);
  }
  return Buffer.concat(chunks);
}

const TEXT_TYPES = /^(text\/|application\/([\w.+-]*json|x-www-form-urlencoded|xml))/i;

/**
 * The request target as a URL. Only a path (origin form) is a request to the API; the host is
 * fixed, so a target such as `//other/v1/keys` stays a path and never names another host.
 */
function targetUrl(target: string | undefined): URL {
  const refused = new ValidationError('The request target must be a path such as /v1/exports.', [
    { field: 'path', rule: 'must start with /' },
  ]);
  if (target === undefined || !target.startsWith('/')) throw refused;
  try {
    return new URL(`http://localhost${target}`);
  } catch (cause) {
    throw new ValidationError(refused.message, refused.issues, { cause });
  }
}

export function toApiGatewayEvent(request: IncomingMessage, body: Buffer): APIGatewayProxyEventV2 {
  const url = targetUrl(request.url);
  // Built as own properties (like the gateway's JSON), so a header or parameter named
  // `__proto__` or `constructor` is a plain entry and never meets Object.prototype.
  const headers = new Map<string, string>();
  for (const [name, value] of Object.entries(request.headers)) {
    if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(',') : value);
  }
  const query = new Map<string, string>();
  for (const [name, value] of url.searchParams) {
    const seen = query.get(name);
    query.set(name, seen === undefined ? value : `${seen},${value}`);
  }
  const isText = TEXT_TYPES.test(headers.get('content-type') ?? '');
  const now = new Date();
  const method = request.method ?? 'GET';
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    headers: Object.fromEntries(headers),
    ...(url.search ? { queryStringParameters: Object.fromEntries(query) } : {}),
    requestContext: {
      accountId: 'local',
      apiId: 'local',
      domainName: headers.get('host') ?? 'localhost',
      domainPrefix: 'localhost',
      http: {
        method,
        path: url.pathname,
        protocol: `HTTP/${request.httpVersion}`,
        sourceIp: request.socket.remoteAddress ?? '127.0.0.1',
        userAgent: headers.get('user-agent') ?? '',
      },
      requestId: randomUUID(),
      routeKey: '$default',
      stage: '$default',
      time: now.toUTCString(),
      timeEpoch: now.getTime(),
    },
    ...(body.length > 0 ? { body: isText ? body.toString('utf8') : body.toString('base64') } : {}),
    isBase64Encoded: body.length > 0 && !isText,
  };
}

/** Writes a handler's result as API Gateway would, including its plain-string shorthand. */
export function writeResult(response: ServerResponse, result: APIGatewayProxyResultV2): void {
  if (typeof result === 'string' || result === undefined || result === null) {
    response.writeHead(200, { 'content-type': 'application/json' }).end(result ?? '');
    return;
  }
  if (!('statusCode' in result) && !('body' in result)) {
    response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(result));
    return;
  }
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(result.headers ?? {})) headers[name] = String(value);
  if (result.cookies?.length) headers['set-cookie'] = result.cookies;
  const body =
    result.body === undefined
      ? ''
      : result.isBase64Encoded
        ? Buffer.from(result.body, 'base64')
        : result.body;
  response.writeHead(result.statusCode ?? 200, headers).end(body);
}
