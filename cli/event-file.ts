import { once } from 'node:events';
import { createReadStream, type ReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import Parser from 'stream-json/Parser.js';
import StreamArray from 'stream-json/streamers/StreamArray.js';
import { CommandFailedError, oneLine } from './errors.ts';

/**
 * Streams decision events out of a file without holding the file in memory: JSON Lines (one
 * event per line) or one JSON array (streamed item by item with stream-json's StreamArray).
 * The format is told by the first non-whitespace character: `[` means an array.
 */

export type EventFileFormat = 'jsonl' | 'array';

/** One value read from the file: `position` is its line (JSON Lines) or item number (array), from 1. */
export interface FileRecord {
  readonly position: number;
  readonly value: unknown;
}

export interface ReadEventFileOptions {
  /** Skip detection (it costs one small read). */
  readonly format?: EventFileFormat;
  /** Called with the size of every chunk read, for byte-based progress. */
  readonly onBytes?: (bytes: number) => void;
  /** Longest JSON Lines line accepted (default 1 MiB; an event is at most 16 KiB). */
  readonly maxLineBytes?: number;
  /** Read chunk size (default 64 KiB). */
  readonly highWaterMark?: number;
}

/** A problem with the input file (missing, unreadable, empty, malformed): exit 1, one line. */
export class EventFileError extends CommandFailedError {}

const NEWLINE = 0x0a;
/** `pieceNewlines` value meaning "raised at the end of the input". */
const END_OF_FILE = -1;
const DEFAULT_MAX_LINE_BYTES = 1024 * 1024;

/** `line 12` or `item 12`. */
export function describePosition(format: EventFileFormat, position: number): string {
  return `${format === 'array' ? 'item' : 'line'} ${position}`;
}

/** Reads as little as needed to find the first non-whitespace character. */
export async function detectEventFileFormat(path: string): Promise<EventFileFormat> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    throw fileError(path, error);
  }
  try {
    const buffer = Buffer.alloc(64 * 1024);
    let first = true;
    for (;;) {
      let bytesRead: number;
      try {
        ({ bytesRead } = await handle.read(buffer, 0, buffer.length, null));
      } catch (error) {
        throw fileError(path, error);
      }
      if (bytesRead === 0)
        throw new EventFileError(`${path} is empty: expected JSON Lines or a JSON array of events`);
      let start = 0;
      if (first && bytesRead >= 3 && buffer[0] === 0xef && buffer[1] === 0xbb && buffer[2] === 0xbf)
        start = 3;
      first = false;
      for (let i = start; i < bytesRead; i += 1) {
        const byte = buffer[i]!;
        if (byte === 0x20 || byte === 0x09 || byte === 0x0a || byte === 0x0d) continue;
        return byte === 0x5b /* [ */ ? 'array' : 'jsonl';
      }
    }
  } finally {
    await handle.close().catch(() => undefined);
  }
}

/** Streams the records of a JSON Lines file or JSON array file, in file order. */
export async function* readEventFile(
  path: string,
  options: ReadEventFileOptions = {},
): AsyncGenerator<FileRecord> {
  const format = options.format ?? (await detectEventFileFormat(path));
  if (format === 'array') {
    yield* readArray(path, options);
  } else {
    yield* readJsonLines(path, options);
  }
}

function openStream(path: string, options: ReadEventFileOptions): ReadStream {
  return createReadStream(path, { highWaterMark: options.highWaterMark ?? 64 * 1024 });
}

async function* readJsonLines(path: string, options: ReadEventFileOptions): AsyncGenerator<FileRecord> {
  const maxLineBytes = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
  const stream = openStream(path, options);
  let line = 1;
  let parts: Buffer[] = [];
  let partBytes = 0;
  let sawAny = false;

  const finishLine = (): FileRecord | undefined => {
    const bytes = parts.length === 1 ? parts[0]! : Buffer.concat(parts, partBytes);
    parts = [];
    partBytes = 0;
    let text = bytes.toString('utf8');
    if (line === 1 && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    if (text.trim() === '') return undefined;
    sawAny = true;
    try {
      return { position: line, value: JSON.parse(text) };
    } catch (error) {
      throw new EventFileError(
        `${path}: line ${line} is not valid JSON (${jsonErrorReason(error)}); each line must hold one complete JSON event`,
      );
    }
  };

  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      options.onBytes?.(chunk.length);
      let start = 0;
      for (;;) {
        const end = chunk.indexOf(NEWLINE, start);
        const piece = chunk.subarray(start, end === -1 ? chunk.length : end);
        if (partBytes + piece.length > maxLineBytes) {
          throw new EventFileError(
            `${path}: line ${line} is longer than ${maxLineBytes} bytes; each line must hold one JSON event`,
          );
        }
        if (piece.length > 0) {
          parts.push(piece);
          partBytes += piece.length;
        }
        if (end === -1) break;
        const record = finishLine();
        if (record !== undefined) yield record;
        line += 1;
        start = end + 1;
      }
    }
    if (partBytes > 0) {
      const record = finishLine();
      if (record !== undefined) yield record;
    }
  } catch (error) {
    if (error instanceof EventFileError) throw error;
    throw fileError(path, error);
  } finally {
    stream.destroy();
  }
  if (!sawAny) throw new EventFileError(`${path} is empty: expected JSON Lines or a JSON array of events`);
}

interface ParserInternals {
  /** stream-json 1.x keeps the input it has not consumed yet here. */
  _buffer?: unknown;
  /** ... and parses it here, once per chunk written and once at the end. */
  _processBuffer?: (this: ParserInternals, callback: (error?: Error | null) => void) => void;
}

/**
 * Streams the items of a top-level JSON array. The file is fed to the parser one line at a time
 * so that a syntax error can be given a line number: the first write whose callback fails is the
 * line being parsed, and the parser's unconsumed text at that moment starts at the culprit (it
 * can begin on an earlier line when the parser was waiting for lookahead).
 */
async function* readArray(path: string, options: ReadEventFileOptions): AsyncGenerator<FileRecord> {
  const parser = new Parser();
  const items = new StreamArray();
  parser.pipe(items);
  let syntaxError: EventFileError | undefined;
  let readError: unknown;
  let lastLine = 1;

  // Snapshot the unconsumed text when parsing first fails: later writes may already be queued and
  // would be appended to it before the failing write's callback runs.
  let pendingAtError: string | undefined;
  const internals = parser as unknown as ParserInternals;
  const processBuffer = internals._processBuffer;
  if (typeof processBuffer === 'function') {
    internals._processBuffer = function (callback) {
      processBuffer.call(this, (error) => {
        if (error && pendingAtError === undefined) {
          pendingAtError = typeof this._buffer === 'string' ? this._buffer : '';
        }
        callback(error);
      });
    };
  }

  /**
   * `line` is where the failing piece starts (or the end of the file) and `pieceNewlines` how
   * many newlines that piece holds (0 or 1).
   */
  const locate = (line: number, pieceNewlines: number, error: Error): EventFileError => {
    const pendingText = pendingAtError ?? '';
    const atEnd = pieceNewlines === END_OF_FILE;
    const waitingNewlines = countNewlines(pendingText) - (atEnd ? 0 : pieceNewlines);
    const errorLine = Math.max(1, line - Math.max(0, waitingNewlines));
    const reason = error.message.replace(/^Parser (cannot parse input: |has )/, '');
    if (atEnd && pendingText.trim() === '') {
      return new EventFileError(`${path}: line ${errorLine}: the file ends before the JSON array is closed`);
    }
    return new EventFileError(`${path}: line ${errorLine} is not valid JSON (${reason})`);
  };

  parser.on('error', (error: Error) => {
    // A write's own callback has already located errors raised by a write; this one came from end().
    syntaxError ??= locate(lastLine, END_OF_FILE, error);
    items.destroy(syntaxError);
  });
  items.on('error', () => undefined);

  const stream = openStream(path, options);
  const pump = (async () => {
    let line = 1;
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      options.onBytes?.(chunk.length);
      let start = 0;
      while (start < chunk.length) {
        if (syntaxError !== undefined || pendingAtError !== undefined || parser.destroyed) return;
        const end = chunk.indexOf(NEWLINE, start);
        const stop = end === -1 ? chunk.length : end + 1;
        const pieceLine = line;
        const pieceNewlines = end === -1 ? 0 : 1;
        const ok = parser.write(chunk.subarray(start, stop), (error) => {
          if (error && syntaxError === undefined) syntaxError = locate(pieceLine, pieceNewlines, error);
        });
        if (end !== -1) line += 1;
        lastLine = line;
        start = stop;
        if (!ok) await drained(parser);
      }
    }
    if (!parser.destroyed) parser.end();
  })().catch((error: unknown) => {
    if (syntaxError === undefined) readError = error;
    items.destroy(error instanceof Error ? error : new Error(String(error)));
  });

  let count = 0;
  try {
    for await (const item of items as AsyncIterable<{ key: number; value: unknown }>) {
      count += 1;
      yield { position: item.key + 1, value: item.value };
    }
  } catch (error) {
    if (syntaxError !== undefined) throw syntaxError;
    if (readError !== undefined) throw fileError(path, readError);
    throw fileError(path, error);
  } finally {
    stream.destroy();
    parser.destroy();
    items.destroy();
    await pump;
  }
  if (syntaxError !== undefined) throw syntaxError;
  if (readError !== undefined) throw fileError(path, readError);
  if (count === 0)
    throw new EventFileError(`${path} holds an empty JSON array: there are no events to import`);
}

/** Resolves on 'drain', or when the stream is closed or failed (the caller then checks why). */
async function drained(stream: NodeJS.WritableStream & { destroyed: boolean }): Promise<void> {
  if (stream.destroyed) return;
  const ac = new AbortController();
  try {
    await Promise.race([
      once(stream, 'drain', { signal: ac.signal }),
      once(stream, 'close', { signal: ac.signal }),
    ]);
  } catch {
    // 'error' rejects once(); the error itself is reported through the parser's error handler.
  } finally {
    ac.abort();
  }
}

function countNewlines(text: string): number {
  let count = 0;
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) count += 1;
  return count;
}

function jsonErrorReason(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  // V8 appends the offending text (`..., "{"id": x" is not valid JSON`) and counts positions
  // within the line from 0 (`at position 1 (line 1 column 2)`): keep the reason and the column.
  const reason = oneLine(message)
    .replace(/, ".*" is not valid JSON$/, '')
    .replace(
      / in JSON at position (\d+)(?: \(line \d+ column \d+\))?/,
      (_, at: string) => ` at column ${Number(at) + 1}`,
    );
  return reason.length > 120 ? `${reason.slice(0, 119)}…` : reason;
}

/** One line for a filesystem failure, naming the file as the user wrote it. */
export function fileError(path: string, error: unknown): EventFileError {
  if (error instanceof EventFileError) return error;
  const code = (error as { code?: unknown } | null)?.code;
  switch (code) {
    case 'ENOENT':
      return new EventFileError(`cannot read ${path}: no such file`, { cause: error });
    case 'EACCES':
    case 'EPERM':
      return new EventFileError(`cannot read ${path}: permission denied`, { cause: error });
    case 'EISDIR':
      return new EventFileError(`cannot read ${path}: it is a directory, not a file`, { cause: error });
    default: {
      const message = error instanceof Error ? oneLine(error.message) : String(error);
      return new EventFileError(`cannot read ${path}: ${message}`, { cause: error });
    }
  }
}
