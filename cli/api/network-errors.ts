import { NetworkError, oneLine } from '../errors.ts';

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CLOSED',
]);

/** The first system error code (ECONNREFUSED, ...) in an error's cause chain. */
export function networkErrorCode(error: unknown): string | undefined {
  const seen = new Set<unknown>();
  const queue: unknown[] = [error];
  while (queue.length > 0) {
    const current = queue.shift();
    if (current === null || typeof current !== 'object' || seen.has(current)) continue;
    seen.add(current);
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && NETWORK_CODES.has(code)) return code;
    queue.push((current as { cause?: unknown }).cause);
    const nested = (current as { errors?: unknown }).errors;
    if (Array.isArray(nested)) queue.push(...nested);
  }
  return undefined;
}

/** One line for a failed connection, naming the API URL and what to do. */
export function describeNetworkError(baseUrl: string, error: unknown, timeoutMs: number): NetworkError {
  if (isTimeout(error)) {
    return new NetworkError(
      `the Keeptrusts API at ${baseUrl} did not answer within ${formatDuration(timeoutMs)}`,
      baseUrl,
      { cause: error },
    );
  }
  const code = networkErrorCode(error);
  if (code === 'ECONNREFUSED') {
    return new NetworkError(
      `cannot reach the Keeptrusts API at ${baseUrl} (connection refused). Is it running? Start the local stack with \`npm start\`, or set KEEPTRUSTS_API_URL.`,
      baseUrl,
      { cause: error },
    );
  }
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    return new NetworkError(
      `cannot reach the Keeptrusts API at ${baseUrl} (host not found). Check KEEPTRUSTS_API_URL.`,
      baseUrl,
      { cause: error },
    );
  }
  const reason = code ?? innermostMessage(error);
  return new NetworkError(`cannot reach the Keeptrusts API at ${baseUrl} (${reason})`, baseUrl, {
    cause: error,
  });
}

/** `fetch failed` says nothing; the deepest cause (e.g. `bad port`) does. */
function innermostMessage(error: unknown): string {
  let message = 'network error';
  let current: unknown = error;
  for (let depth = 0; current !== null && typeof current === 'object' && depth < 5; depth += 1) {
    const { message: text, cause } = current as { message?: unknown; cause?: unknown };
    if (typeof text === 'string' && text) message = oneLine(text);
    current = cause;
  }
  return message;
}

// By name, not instanceof: fetch's DOMExceptions may come from another realm.
function errorName(error: unknown): unknown {
  return error !== null && typeof error === 'object' ? (error as { name?: unknown }).name : undefined;
}

function isTimeout(error: unknown): boolean {
  return errorName(error) === 'TimeoutError';
}

/** A caller's cancellation: the client rethrows it as is instead of retrying or rewording it. */
export function isAbort(error: unknown): boolean {
  return errorName(error) === 'AbortError';
}

function formatDuration(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${Math.round(ms / 100) / 10} s`;
}
