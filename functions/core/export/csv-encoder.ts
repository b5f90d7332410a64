import { CORE_FIELDS } from '../events/decision-event.ts';
import type { StoredEvent } from '../events/stored-event.ts';
import { numberCell, textCell } from './csv-cell.ts';
import type { ExportEncoder } from './encoder.ts';

/** The columns and their order, as the tutorial shows them; `team` and gateway extras are JSON-only. */
export const CSV_COLUMNS = CORE_FIELDS.filter(
  (field): field is Exclude<(typeof CORE_FIELDS)[number], 'team'> => field !== 'team',
);

/**
 * One header line, then one row per event. Lines end in LF rather than RFC 4180's CRLF: the
 * tutorial's `head` output and line-oriented tools (`wc -l`, `diff`, `grep`) expect LF, and
 * spreadsheets and CSV libraries read either. A CR or LF inside a value stays verbatim within
 * its quotes. No byte-order mark, so the first line is exactly the documented header.
 */
export const csvEncoder: ExportEncoder = {
  format: 'csv',
  contentType: 'text/csv; charset=utf-8',

  header() {
    return `${CSV_COLUMNS.join(',')}\n`;
  },

  encode(event: StoredEvent) {
    const record: unknown = JSON.parse(event.json);
    if (record === null || typeof record !== 'object' || Array.isArray(record)) {
      throw new Error(`stored event ${event.sortKey} is not a JSON object`);
    }
    const fields = record as Record<string, unknown>;
    return `${CSV_COLUMNS.map((column) => cell(fields[column], event.sortKey, column)).join(',')}\n`;
  },

  trailer() {
    return '';
  },
};

/**
 * Stored events were validated on ingest, so anything but a string or a number means the store
 * is corrupt: failing the export beats handing an auditor a silently blank cell.
 */
function cell(value: unknown, sortKey: string, column: string): string {
  if (typeof value === 'string') return textCell(value);
  if (typeof value === 'number') return numberCell(value);
  throw new Error(`stored event ${sortKey} has no usable ${column}`);
}
