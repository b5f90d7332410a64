import type { Server } from 'node:http';
import type { Duplex } from 'node:stream';
import {
  type AppError,
  HeadersTooLargeError,
  MethodNotAllowedError,
  RequestTimeoutError,
  ValidationError,
} from '../../functions/core/errors.ts';
import { problemFor, problemResponse } from '../../functions/handlers/http/problem.ts';

/**
 * The most header bytes (request line and headers together) the local front reads; more is a
 * 431. Set explicitly rather than left to Node's default, which a flag can change.
 */
export const MAX_HEADER_BYTES = 16 * 1024;

/** The HTTP parser's error, as Node hands it to `clientError`. */
type ParserError = Error & { readonly code?: string };

/** What Node's parser refused, as the API's own error (so problem.ts gives its status and words). */
function refusalFor(error: ParserError): AppError {
  switch (error.code) {
    case 'HPE_HEADER_OVERFLOW':
      return new HeadersTooLargeError(
        `The request line and headers are larger than ${MAX_HEADER_BYTES} bytes, the most the API reads.`,
      );
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return new RequestTimeoutError('The request did not arrive whole in time.');
    case 'HPE_INVALID_METHOD':
      return new ValidationError('The request is not a valid HTTP/1.1 request.', [
        { field: 'method', rule: 'must be an HTTP method' },
      ]);
    default:
      return new ValidationError('The request is not a valid HTTP/1.1 request.');
  }
}

/**
 * Node's HTTP server answers what its parser refuses (headers past maxHeaderSize, a malformed
 * request line, header or chunk, a stalled request) itself, with an empty body and no request
 * event, and drops a CONNECT. This writes those answers as problem+json on the socket instead,
 * then closes it. A socket with a response under way (a pipelined request behind it) is closed
 * without a word: writing there would corrupt that response.
 */
export function answerClientErrors(server: Server): void {
  server.on('clientError', (error: ParserError, socket: Duplex) => {
    const busy = (socket as Duplex & { _httpMessage?: unknown })._httpMessage;
    if (error.code === 'ECONNRESET' || !socket.writable || busy) {
      socket.destroy();
      return;
    }
    endWithProblem(socket, refusalFor(error));
  });
  // CONNECT asks for a tunnel, which no route is; without a listener Node drops the connection.
  server.on('connect', (_request, socket: Duplex) => {
    endWithProblem(socket, new MethodNotAllowedError('CONNECT is not a method of the API.', []));
  });
}

function endWithProblem(socket: Duplex, error: AppError): void {
  const { statusCode, headers = {}, body = '' } = problemResponse(problemFor(error));
  const status = statusCode ?? 400;
  const lines = [
    `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Error'}`,
    ...Object.entries(headers).map(([name, value]) => `${name}: ${String(value)}`),
    `content-length: ${Buffer.byteLength(body)}`,
    'connection: close',
  ];
  socket.end(`${lines.join('\r\n')}\r\n\r\n${body}`);
}

const STATUS_TEXT: Readonly<Record<number, string>> = {
  400: 'Bad Request',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  431: 'Request Header Fields Too Large',
};
