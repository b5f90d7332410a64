import { ApiError } from '../errors.ts';

/** `GET /v1/exports/{id}/download`: where the artifact is, and what its bytes must be. */
export interface DownloadLink {
  /** Short-lived and presigned: it carries its own authorisation, so it is fetched without ours. */
  readonly url: string;
  readonly expires?: string;
  readonly filename: string;
  readonly bytes: number;
  /** Lowercase hex. */
  readonly sha256: string;
  readonly contentType?: string;
}

const SHA256_HEX = /^[0-9a-f]{64}$/i;

/**
 * Checks the API's answer; the byte count and digest are what the download is verified against.
 * A relative `url` (a local stack serving the bytes itself) is resolved against the API's URL.
 */
export function readDownloadLink(body: unknown, apiUrl: string, status = 200): DownloadLink {
  const fail = (what: string) =>
    new ApiError(`the API sent a download link the CLI cannot use (${what})`, status);
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw fail('not a JSON object');
  const raw = body as Record<string, unknown>;
  if (typeof raw.url !== 'string' || raw.url === '') throw fail('"url" is missing');
  const url = parseUrl(raw.url, `${apiUrl}/`);
  if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:'))
    throw fail('"url" is not an http(s) URL');
  if (typeof raw.filename !== 'string') throw fail('"filename" is missing');
  if (typeof raw.bytes !== 'number' || !Number.isSafeInteger(raw.bytes) || raw.bytes < 0)
    throw fail('"bytes" is not a byte count');
  if (typeof raw.sha256 !== 'string' || !SHA256_HEX.test(raw.sha256))
    throw fail('"sha256" is not a SHA-256 digest');
  return {
    url: url.href,
    filename: raw.filename,
    bytes: raw.bytes,
    sha256: raw.sha256.toLowerCase(),
    ...(typeof raw.expires === 'string' && { expires: raw.expires }),
    ...(typeof raw.contentType === 'string' && { contentType: raw.contentType }),
  };
}

// Not URL.parse: package.json allows Node 20, which lacks it.
function parseUrl(url: string, base: string): URL | undefined {
  try {
    return new URL(url, base);
  } catch {
    return undefined;
  }
}
