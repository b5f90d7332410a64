import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import Assembler from 'stream-json/Assembler.js';
import Parser from 'stream-json/Parser.js';
import { RECORD_FIELDS, recordLine } from '../../functions/core/evidence/records-digest.ts';
import { textOfCell } from '../../functions/core/export/csv-cell.ts';
import { CsvRowReader, CsvSyntaxError } from './csv-rows.ts';

/**
 * Reads the records back out of a downloaded JSON or CSV artifact, streaming (a file of any size
 * in constant memory), and computes what the manifest says about them: the records digest
 * (records-digest.ts), the count and, for JSON, the export id in the file. A file that does not
 * parse as the artifact format is an ArtifactFormatError naming where and why.
 */

export interface ArtifactRecords {
  readonly count: number;
  /** Lowercase hex, as the manifest's recordsDigest.sha256. */
  readonly digest: string;
  /** JSON only: `export.id` in the file. */
  readonly exportId?: string;
}

export class ArtifactFormatError extends Error {
  constructor(message: string, options?: { readonly cause?: unknown }) {
    super(message, options);
    this.name = 'ArtifactFormatError';
  }
}

/** Digest lines as the records come, in file order. */
class DigestOfRecords {
  private readonly hash = createHash('sha256');
  count = 0;

  add(record: Readonly<Record<string, unknown>>, where: () => string): void {
    let line: string;
    try {
      line = recordLine(record);
    } catch (error) {
      throw new ArtifactFormatError(`${where()}: ${(error as Error).message}`);
    }
    this.hash.update(line, 'utf8');
    this.count += 1;
  }

  hex(): string {
    return this.hash.digest('hex');
  }
}

// ---------------------------------------------------------------------------------------------
// JSON: {"export":{…},"events":[…],"summary":{"record_count":N}}

type Token = { readonly name: string; readonly value?: string };
const VALUE_STARTS = new Set([
  'startObject',
  'startArray',
  'stringValue',
  'numberValue',
  'nullValue',
  'trueValue',
  'falseValue',
]);

/**
 * Walks the parser's tokens: the small `export` and `summary` members are assembled whole, the
 * `events` array one event at a time, so memory holds one event, never the array.
 */
export async function readJsonArtifactRecords(
  path: string,
  onBytes: (count: number) => void = () => undefined,
): Promise<ArtifactRecords> {
  const digest = new DigestOfRecords();
  let exportSection: unknown;
  let summary: unknown;
  let sawEvents = false;

  const consume = async (tokens: AsyncIterable<Token>) => {
    let depth = 0; // 0 outside the document, 1 in its top object, 2 in the events array
    let key: string | undefined;
    let value: { assembler: Assembler; finish: (value: unknown) => void } | undefined;
    let closed = false;
    for await (const token of tokens) {
      if (value !== undefined) {
        value.assembler.consume(token);
        if (value.assembler.done) {
          value.finish(value.assembler.current);
          value = undefined;
        }
        continue;
      }
      if (closed) throw new ArtifactFormatError('there is more after the top-level object');
      const assemble = (finish: (value: unknown) => void) => {
        const assembler = new Assembler();
        assembler.consume(token);
        if (assembler.done) finish(assembler.current);
        else value = { assembler, finish };
      };
      if (depth === 0) {
        if (token.name !== 'startObject') throw new ArtifactFormatError('the file is not a JSON object');
        depth = 1;
      } else if (depth === 1) {
        if (token.name === 'keyValue') {
          key = token.value;
          if (key !== 'export' && key !== 'events' && key !== 'summary') {
            throw new ArtifactFormatError(`unexpected top-level member "${key}"`);
          }
        } else if (token.name === 'endObject') {
          closed = true;
        } else if (key === 'events') {
          if (token.name !== 'startArray') throw new ArtifactFormatError('"events" is not an array');
          sawEvents = true;
          depth = 2;
        } else if (key === 'export') {
          assemble((section) => {
            exportSection = section;
          });
        } else {
          assemble((section) => {
            summary = section;
          });
        }
      } else if (token.name === 'endArray') {
        depth = 1;
      } else if (VALUE_STARTS.has(token.name)) {
        const index = digest.count;
        assemble((event) => {
          if (!isObject(event)) throw new ArtifactFormatError(`events[${index}] is not an object`);
          digest.add(event, () => `events[${index}]${typeof event.id === 'string' ? ` (${event.id})` : ''}`);
        });
      }
    }
    if (!closed) throw new ArtifactFormatError('the file ends before the top-level object is closed');
  };

  try {
    await pipeline(
      createReadStream(path),
      async function* (chunks: AsyncIterable<Buffer>) {
        for await (const chunk of chunks) {
          onBytes(chunk.length);
          yield chunk;
        }
      },
      new Parser({ packValues: true, streamValues: false }),
      consume as (source: AsyncIterable<unknown>) => Promise<void>,
    );
  } catch (error) {
    if (error instanceof ArtifactFormatError) throw error;
    if (isFileError(error)) throw error;
    const reason = (error as Error).message.replace(/^Parser (cannot parse input: |has )/, '');
    throw new ArtifactFormatError(`the file is not valid JSON (${reason})`, { cause: error });
  }

  if (!sawEvents) throw new ArtifactFormatError('"events" is missing');
  if (!isObject(exportSection) || typeof exportSection.id !== 'string') {
    throw new ArtifactFormatError('"export.id" is missing');
  }
  const recordCount = isObject(summary) ? summary.record_count : undefined;
  if (recordCount !== digest.count) {
    throw new ArtifactFormatError(
      `"summary.record_count" is ${JSON.stringify(recordCount)} but the file holds ${digest.count} events`,
    );
  }
  return { count: digest.count, digest: digest.hex(), exportId: exportSection.id };
}

// ---------------------------------------------------------------------------------------------
// CSV: the header, then one row per record; text cells may carry the formula-neutralising `'`.

const NUMBER_COLUMNS = new Set<string>(['tokens', 'latency_ms']);
/** A JSON number, which is how the encoder writes numbers (String(n)). */
const NUMBER = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/;

export async function readCsvArtifactRecords(
  path: string,
  onBytes: (count: number) => void = () => undefined,
): Promise<ArtifactRecords> {
  const digest = new DigestOfRecords();
  let sawHeader = false;
  const rows = new CsvRowReader((cells, line) => {
    if (!sawHeader) {
      if (cells.join(',') !== RECORD_FIELDS.join(',')) {
        throw new CsvSyntaxError(`the header is not ${RECORD_FIELDS.join(',')}`, line);
      }
      sawHeader = true;
      return;
    }
    if (cells.length !== RECORD_FIELDS.length) {
      throw new CsvSyntaxError(`${cells.length} cells instead of ${RECORD_FIELDS.length}`, line);
    }
    const record: Record<string, string | number> = {};
    RECORD_FIELDS.forEach((field, i) => {
      const cell = cells[i]!;
      if (!NUMBER_COLUMNS.has(field)) {
        record[field] = textOfCell(cell);
      } else if (NUMBER.test(cell)) {
        record[field] = Number(cell);
      } else {
        throw new CsvSyntaxError(`${field} ${JSON.stringify(cell)} is not a number`, line);
      }
    });
    digest.add(record, () => `line ${line}`);
  });

  // fatal: bytes that are not UTF-8 are a broken file, not text to repair.
  const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  try {
    for await (const chunk of createReadStream(path) as AsyncIterable<Buffer>) {
      onBytes(chunk.length);
      rows.push(decoder.decode(chunk, { stream: true }));
    }
    rows.push(decoder.decode());
    rows.end();
  } catch (error) {
    if (error instanceof CsvSyntaxError || error instanceof ArtifactFormatError) {
      throw new ArtifactFormatError(error.message, { cause: error });
    }
    if ((error as { code?: unknown }).code === 'ERR_ENCODING_INVALID_ENCODED_DATA') {
      throw new ArtifactFormatError('the file is not UTF-8 text', { cause: error });
    }
    throw error;
  }
  if (!sawHeader) throw new ArtifactFormatError('the file is empty: no header line');
  return { count: digest.count, digest: digest.hex() };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isFileError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('E') && !code.startsWith('ERR_');
}
