import { connect } from 'node:net';

/**
 * One HTTP/1.1 exchange over a fresh TCP connection, byte for byte as given: no client library
 * checks or fixes the method, target, headers or body, so a test can send what a hostile caller
 * would (raw `..` and `%00` in paths, invalid UTF-8, oversized or malformed headers).
 */

export interface RawRequest {
  readonly method: string;
  /** The request target exactly as sent (`/v1/exports?limit=-1`). */
  readonly target: string;
  /** Sent in order; duplicates are sent as duplicates. Latin-1 strings, one byte a character. */
  readonly headers: readonly (readonly [string, string])[];
  readonly body?: Buffer;
  /** Adds `content-length` for the body (default true). */
  readonly contentLength?: boolean;
}

export interface RawResponse {
  readonly status: number;
  /** Lower-case names; a repeated header's values joined with `, `. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
  /** Everything the server sent, for messages. */
  readonly raw: string;
}

export function encodeRequest(request: RawRequest): Buffer {
  const body = request.body ?? Buffer.alloc(0);
  const lines = [`${request.method} ${request.target} HTTP/1.1`];
  for (const [name, value] of request.headers) lines.push(`${name}: ${value}`);
  if (request.contentLength !== false && request.body !== undefined)
    lines.push(`content-length: ${body.length}`);
  lines.push('connection: close');
  return Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), body]);
}

export interface SendOptions {
  /** Give up after this long. @default 30_000 */
  readonly timeoutMs?: number;
  /**
   * Half-close the connection when nothing has arrived this long after the request was written,
   * so that a server waiting for the rest of an incomplete request sees its end. Off by default:
   * Node's HTTP server drops a request whose client half-closes before the answer.
   */
  readonly endWhenIdleMs?: number;
  /** Resolve with `undefined` when the server closes without a byte (no request arrived). */
  readonly allowSilence?: boolean;
}

/** Sends `bytes` and reads until the server closes the connection; the first response is parsed. */
export function sendRaw(port: number, bytes: Buffer, options: SendOptions = {}): Promise<RawResponse> {
  const { timeoutMs = 30_000, endWhenIdleMs } = options;
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let idle: NodeJS.Timeout | undefined;
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on('data', (chunk: Buffer) => {
      clearTimeout(idle);
      chunks.push(chunk);
      // A kept-alive connection stays open after the answer: stop once it is whole.
      if (isComplete(Buffer.concat(chunks))) socket.destroy();
    });
    // A server that answers before reading the whole body may reset the rest; what it sent counts.
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      clearTimeout(idle);
      const all = Buffer.concat(chunks);
      if (all.length === 0 && options.allowSilence) {
        resolve(SILENCE);
        return;
      }
      try {
        resolve(parseResponse(all));
      } catch (error) {
        reject(error);
      }
    });
    socket.write(bytes, () => {
      if (endWhenIdleMs !== undefined && chunks.length === 0) {
        idle = setTimeout(() => socket.end(), endWhenIdleMs);
      }
    });
  });
}

/** What sendRaw resolves to when the server closed without a byte (only with allowSilence). */
export const SILENCE: RawResponse = { status: 0, headers: {}, body: Buffer.alloc(0), raw: '' };

/** Whether `received` holds a whole final response (by its length or its last chunk). */
function isComplete(received: Buffer): boolean {
  try {
    const response = parseResponse(received);
    const length = response.headers['content-length'];
    if (/chunked/i.test(response.headers['transfer-encoding'] ?? ''))
      return response.raw.endsWith('0\r\n\r\n');
    return length !== undefined && response.body.length >= Number(length);
  } catch {
    return false;
  }
}

function parseResponse(received: Buffer): RawResponse {
  // Interim answers (100 Continue) come first; the response is the first final one.
  let all = received;
  while (/^HTTP\/1\.[01] 1\d\d /.test(all.subarray(0, 13).toString('latin1')) && all.includes('\r\n\r\n')) {
    all = all.subarray(all.indexOf('\r\n\r\n') + 4);
  }
  const raw = all.toString('latin1');
  const end = all.indexOf('\r\n\r\n');
  if (end < 0)
    throw new Error(`not an HTTP response (${all.length} bytes): ${JSON.stringify(raw.slice(0, 200))}`);
  const [statusLine = '', ...headerLines] = all.subarray(0, end).toString('latin1').split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1]);
  if (!Number.isInteger(status)) throw new Error(`not an HTTP status line: ${JSON.stringify(statusLine)}`);
  const headers: Record<string, string> = {};
  for (const line of headerLines) {
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
  }
  let body = all.subarray(end + 4);
  if (/chunked/i.test(headers['transfer-encoding'] ?? '')) body = dechunk(body);
  else if (headers['content-length'] !== undefined)
    body = body.subarray(0, Number(headers['content-length']));
  return { status, headers, body, raw };
}

function dechunk(data: Buffer): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const lineEnd = data.indexOf('\r\n', at);
    if (lineEnd < 0) break;
    const size = Number.parseInt(data.subarray(at, lineEnd).toString('latin1'), 16);
    if (!(size > 0)) break;
    parts.push(data.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
  return Buffer.concat(parts);
}
