import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type { FetchLike } from '../api/client.ts';
import { networkErrorCode } from '../api/network-errors.ts';
import { CommandFailedError, NetworkError, oneLine } from '../errors.ts';
import { formatCount } from '../output.ts';
import type { DownloadLink } from './download-link.ts';
import { placeFile, temporaryPathFor } from './place-file.ts';
import { StalledError, stallGuard } from './stall-guard.ts';

/**
 * Fetches an export artifact into a file so that the file either holds exactly the bytes the API
 * vouched for or does not change at all: the body streams into a temporary file next to the
 * target while it is hashed, the byte count and SHA-256 are checked, and only then is the file
 * moved into place (a rename within one directory is atomic). Any failure removes the temporary
 * file.
 */

export interface DownloadOptions {
  /** Replace an existing target (`--force`). */
  readonly overwrite: boolean;
  readonly fetch?: FetchLike;
  /** Bytes received, as they arrive (progress). */
  readonly onBytes?: (count: number) => void;
  /** Cancels the download (Ctrl-C); the temporary file is removed. */
  readonly signal?: AbortSignal;
  /** Give up when no bytes arrive for this long (default 60 s); a big file may take longer in all. */
  readonly stallMs?: number;
}

const DEFAULT_STALL_MS = 60_000;

export interface DownloadedFile {
  readonly path: string;
  readonly bytes: number;
  readonly sha256: string;
}

export async function downloadArtifact(
  link: DownloadLink,
  target: string,
  options: DownloadOptions,
): Promise<DownloadedFile> {
  const stallMs = options.stallMs ?? DEFAULT_STALL_MS;
  const stall = stallGuard(stallMs, options.signal);
  const temp = temporaryPathFor(target);
  try {
    const body = await fetchBody(link.url, options.fetch ?? ((url, init) => fetch(url, init)), stall.signal);
    const written = await writeHashed(body, temp, target, link.bytes, (count) => {
      stall.touch();
      options.onBytes?.(count);
    });
    stall.done();
    verify(written, link, target);
    await placeFile(temp, target, options.overwrite);
    return { path: target, bytes: written.bytes, sha256: written.sha256 };
  } catch (error) {
    stall.done();
    await rm(temp, { force: true }).catch(() => undefined);
    throw explain(error, link.url, target, stall.signal, stallMs);
  }
}

async function fetchBody(url: string, fetchFn: FetchLike, signal: AbortSignal): Promise<Readable> {
  // A plain GET: the presigned URL is its own authorisation, and an Authorization header would
  // both leak the API token to the store and make S3 reject the request.
  const response = await fetchFn(url, { method: 'GET', redirect: 'follow', signal });
  if (!response.ok) {
    await response.body?.cancel().catch(() => undefined);
    const expired = response.status === 403 ? ' (the link may have expired; run the command again)' : '';
    throw new CommandFailedError(
      `the artifact store at ${new URL(url).origin} answered ${response.status}${expired}`,
    );
  }
  if (response.body === null) return Readable.from([]);
  return Readable.fromWeb(response.body as WebReadableStream<Uint8Array>);
}

interface Written {
  readonly bytes: number;
  readonly sha256: string;
}

async function writeHashed(
  body: Readable,
  temp: string,
  target: string,
  expectedBytes: number,
  onBytes: (count: number) => void,
): Promise<Written> {
  const hash = createHash('sha256');
  let bytes = 0;
  await pipeline(
    body,
    async function* (source: AsyncIterable<Buffer>) {
      for await (const chunk of source) {
        bytes += chunk.length;
        // A body longer than announced is wrong already: stop before it fills the disk.
        if (bytes > expectedBytes) throw sizeMismatch(bytes, expectedBytes, target);
        hash.update(chunk);
        onBytes(chunk.length);
        yield chunk;
      }
    },
    // wx: never reuse a file that is already there; flush: the bytes are on disk before the rename.
    createWriteStream(temp, { flags: 'wx', flush: true }),
  );
  return { bytes, sha256: hash.digest('hex') };
}

function verify(written: Written, link: DownloadLink, target: string): void {
  if (written.bytes !== link.bytes) throw sizeMismatch(written.bytes, link.bytes, target);
  if (written.sha256 !== link.sha256) {
    throw new CommandFailedError(
      `the downloaded bytes do not match the export's SHA-256 (expected ${link.sha256}, got ${written.sha256}); ${target} was not written`,
    );
  }
}

function sizeMismatch(got: number, expected: number, target: string): CommandFailedError {
  const what =
    got > expected
      ? `more than the export's ${formatCount(expected)} bytes`
      : `${formatCount(got)} of the export's ${formatCount(expected)} bytes: the download is incomplete`;
  return new CommandFailedError(`the artifact store sent ${what}; ${target} was not written`);
}

/** One line for whatever went wrong, never showing the presigned URL's signature. */
function explain(error: unknown, url: string, target: string, signal: AbortSignal, stallMs: number): unknown {
  if (error instanceof CommandFailedError) return error;
  const origin = new URL(url).origin;
  if (signal.aborted) {
    if (signal.reason instanceof StalledError) {
      return new NetworkError(
        `the download from ${origin} stalled (no data for ${stallMs < 1000 ? `${stallMs} ms` : `${Math.round(stallMs / 1000)} s`}); ${target} was not written`,
        origin,
        { cause: error },
      );
    }
    return new CommandFailedError(`the download was cancelled; ${target} was not written`, { cause: error });
  }
  const code = (error as { code?: unknown } | null)?.code;
  switch (code) {
    case 'ENOENT':
      return new CommandFailedError(`cannot write ${target}: its directory does not exist`, { cause: error });
    case 'EACCES':
    case 'EPERM':
    case 'EROFS':
      return new CommandFailedError(`cannot write ${target}: permission denied`, { cause: error });
    case 'EISDIR':
      return new CommandFailedError(`cannot write ${target}: it is a directory`, { cause: error });
    case 'ENOSPC':
      return new CommandFailedError(`cannot write ${target}: the disk is full`, { cause: error });
  }
  const network = networkErrorCode(error);
  const reason = network ?? (error instanceof Error ? oneLine(error.message) : String(error));
  return new NetworkError(`cannot fetch the artifact from ${origin} (${reason})`, origin, { cause: error });
}
