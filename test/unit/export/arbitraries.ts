import fc from 'fast-check';
import {
  assertDecisionEvent,
  CORE_FIELDS,
  type DecisionEvent,
  parseDecisionEvent,
} from '../../../functions/core/events/decision-event.ts';
import type { ExportMetadata } from '../../../functions/core/export/export-metadata.ts';

/** Characters that exercise quoting and neutralisation, weighted up so they appear often. */
const TRICKY = ['=', '+', '-', '@', '"', ',', "'", ' ', '🚀', 'ü', 'モ', '\u2028', '＝'];
const CONTROL = ['\t', '\r', '\n', '\r\n', '\u0000', '\u007f'];

const printable = fc.oneof(
  fc.constantFrom(...TRICKY),
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 }),
);

/** Text a validated label can hold: no control characters, 1 to 256 UTF-16 units. */
export const labelText = fc.string({ unit: printable, minLength: 1, maxLength: 30 });

/** Any text at all, control characters and the empty string included. */
export const anyText = fc.string({
  unit: fc.oneof(
    fc.constantFrom(...TRICKY, ...CONTROL),
    fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
  ),
  maxLength: 30,
});

const timestamp = fc
  .date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2099-12-31T23:59:59Z'), noInvalidDate: true })
  .chain((date) => fc.constantFrom(date.toISOString(), `${date.toISOString().slice(0, 19)}Z`));

const FORBIDDEN = new Set<string>([...CORE_FIELDS, '__proto__', 'constructor', 'prototype']);
const extras = fc.dictionary(
  fc.string({ maxLength: 8 }).filter((key) => !FORBIDDEN.has(key)),
  fc.jsonValue({ maxDepth: 2 }),
  { maxKeys: 3 },
);

/** A valid event, built as untrusted input and accepted by the real schema. */
export const decisionEvent: fc.Arbitrary<DecisionEvent> = fc
  .record({
    id: fc.stringMatching(/^evt_[A-Za-z0-9][A-Za-z0-9_-]{0,20}$/),
    timestamp,
    model: labelText,
    policy: labelText,
    action: labelText,
    result: labelText,
    tokens: fc.integer({ min: 0, max: 2_147_483_647 }),
    latency_ms: fc.oneof(
      fc.integer({ min: 0, max: 86_400_000 }),
      fc.double({ min: 0, max: 86_400_000, noNaN: true }),
    ),
    team: labelText,
  })
  .chain((core) => extras.map((extra) => ({ ...extra, ...core })))
  // Through JSON first: -0 and other values JSON cannot spell would never reach the store.
  .map((value): unknown => JSON.parse(JSON.stringify(value)))
  .filter((value) => parseDecisionEvent(value).ok)
  .map((value) => assertDecisionEvent(value));

/** An event shape the schema would reject but the CSV encoder still has to write faithfully. */
export const unvalidatedEvent = fc.record({
  id: anyText,
  timestamp: anyText,
  model: anyText,
  policy: anyText,
  action: anyText,
  result: anyText,
  tokens: fc.oneof(fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true })),
  latency_ms: fc.oneof(fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true })),
  team: anyText,
});

export const exportMetadata: fc.Arbitrary<ExportMetadata> = fc.record(
  {
    id: fc.stringMatching(/^exp_[a-z0-9]{1,12}$/),
    title: anyText,
    range: fc.record({ from: timestamp, to: timestamp }),
    filters: fc.record({ team: labelText, policy: labelText }, { requiredKeys: [] }),
    format: fc.constantFrom('json' as const, 'csv' as const),
    generated_at: timestamp,
  },
  { requiredKeys: ['id', 'range', 'filters', 'format', 'generated_at'] },
);
