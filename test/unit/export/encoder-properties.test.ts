import fc from 'fast-check';
import Papa from 'papaparse';
import { canonicalEventJson, type DecisionEvent } from '../../../functions/core/events/decision-event.ts';
import { CSV_COLUMNS, csvEncoder } from '../../../functions/core/export/csv-encoder.ts';
import { jsonEncoder } from '../../../functions/core/export/json-encoder.ts';
import type { StoredEvent } from '../../../functions/core/events/stored-event.ts';
import { decisionEvent, exportMetadata, unvalidatedEvent } from './arbitraries.ts';
import { encodeAll, encodeInRuns } from './encode-all.ts';
import { storedRaw } from './fixtures.ts';

const RUNS = { numRuns: 300 };
const events = fc.array(decisionEvent, { maxLength: 12 });

function toStored(list: readonly DecisionEvent[]): StoredEvent[] {
  return list.map((event) => ({
    sortKey: `${event.timestamp}#${event.id}`,
    json: canonicalEventJson(event),
  }));
}

/** Written independently of the encoder: the rule the spreadsheet-facing output must follow. */
const FORMULA_STARTS = ['=', '+', '-', '@', '\t', '\r'];

/** The value a reader gets back: the `'` removed exactly where the encoder must have added it. */
function restore(cell: string, original: unknown): unknown {
  if (typeof original === 'number') return Number(cell);
  // A formula, or a value that only looks neutralised already ('=1), carries one added quote.
  if (typeof original === 'string' && FORMULA_STARTS.includes(original.replace(/^'+/, '').charAt(0))) {
    expect(cell.charAt(0)).toBe("'");
    return cell.slice(1);
  }
  return cell;
}

function parseCsv(csv: string) {
  // skipEmptyLines only drops the empty line after the final LF: every real row has 8 cells.
  const parsed = Papa.parse<Record<string, string>>(csv, {
    header: true,
    delimiter: ',',
    newline: '\n',
    skipEmptyLines: true,
  });
  expect(parsed.errors).toEqual([]);
  expect(parsed.meta.fields).toEqual([...CSV_COLUMNS]);
  return parsed.data;
}

function expectCsvRoundTrip(originals: readonly Record<string, unknown>[], csv: string): void {
  const rows = parseCsv(csv);
  expect(rows).toHaveLength(originals.length);
  rows.forEach((row, index) => {
    const original = originals[index]!;
    for (const column of CSV_COLUMNS) {
      const cell = row[column]!;
      const value = original[column];
      if (typeof value === 'number') {
        expect(cell).toBe(String(value));
        expect(cell.startsWith("'")).toBe(false);
      }
      expect(restore(cell, value)).toEqual(typeof value === 'number' ? Number(String(value)) : value);
    }
  });
}

describe('csvEncoder properties', () => {
  it('papaparse gives back every valid event’s core values', () => {
    fc.assert(
      fc.property(exportMetadata, events, (meta, list) => {
        const csv = encodeAll(csvEncoder, meta, toStored(list));
        expect(csv.endsWith('\n')).toBe(true);
        expectCsvRoundTrip(list, csv);
      }),
      RUNS,
    );
  });

  it('papaparse gives back arbitrary text and numbers in every column, control characters included', () => {
    fc.assert(
      fc.property(exportMetadata, fc.array(unvalidatedEvent, { maxLength: 8 }), (meta, list) => {
        expectCsvRoundTrip(list, encodeAll(csvEncoder, meta, list.map(storedRaw)));
      }),
      RUNS,
    );
  });
});

describe('jsonEncoder properties', () => {
  it('parses as JSON holding exactly the events, their count and the metadata', () => {
    fc.assert(
      fc.property(exportMetadata, events, (meta, list) => {
        const stored = toStored(list);
        const parsed = JSON.parse(encodeAll(jsonEncoder, meta, stored));
        expect(parsed.events).toEqual(list);
        expect(parsed.events).toEqual(stored.map((event) => JSON.parse(event.json)));
        expect(parsed.summary).toEqual({ record_count: list.length });
        expect(parsed.export).toEqual({
          id: meta.id,
          title: meta.title ?? null,
          range: meta.range,
          filters: { team: meta.filters.team ?? null, policy: meta.filters.policy ?? null },
          format: meta.format,
          generated_at: meta.generated_at,
        });
      }),
      RUNS,
    );
  });

  it('contains each event’s stored bytes verbatim, in order', () => {
    fc.assert(
      fc.property(exportMetadata, events, (meta, list) => {
        const stored = toStored(list);
        const out = encodeAll(jsonEncoder, meta, stored);
        const body = out.slice(
          out.indexOf('"events":[') + '"events":['.length,
          out.lastIndexOf('],"summary"'),
        );
        expect(body).toBe(stored.length === 0 ? '' : `\n${stored.map((event) => event.json).join(',\n')}\n`);
      }),
      RUNS,
    );
  });
});

describe.each([
  ['json', jsonEncoder],
  ['csv', csvEncoder],
])('%s encoder resumption and determinism', (_, encoder) => {
  const eventsWithCut = events.chain((list) =>
    fc.tuple(fc.constant(list), fc.integer({ min: 0, max: list.length })),
  );

  it('writes the same bytes when stopped after any event and resumed', () => {
    fc.assert(
      fc.property(exportMetadata, eventsWithCut, (meta, [list, cut]) => {
        const stored = toStored(list);
        expect(encodeInRuns(encoder, meta, stored, [cut])).toBe(encodeAll(encoder, meta, stored));
      }),
      RUNS,
    );
  });

  it('writes the same bytes across many resumptions', () => {
    fc.assert(
      fc.property(
        exportMetadata,
        events,
        fc.array(fc.nat({ max: 12 }), { maxLength: 5 }),
        (meta, list, cuts) => {
          const stored = toStored(list);
          const sorted = [...cuts].sort((a, b) => a - b);
          expect(encodeInRuns(encoder, meta, stored, sorted)).toBe(encodeAll(encoder, meta, stored));
        },
      ),
      RUNS,
    );
  });

  it('writes the same bytes for the same input, however the metadata object was built', () => {
    fc.assert(
      fc.property(exportMetadata, events, (meta, list) => {
        const reordered = Object.fromEntries(Object.entries(structuredClone(meta)).reverse()) as typeof meta;
        const first = encodeAll(encoder, meta, toStored(list));
        expect(encodeAll(encoder, reordered, toStored(structuredClone(list)))).toBe(first);
        expect(encodeAll(encoder, meta, toStored(list))).toBe(first);
      }),
      RUNS,
    );
  });
});
