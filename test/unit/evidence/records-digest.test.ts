import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { canonicalEventJson } from '../../../functions/core/events/decision-event.ts';
import {
  RecordsDigest,
  recordLine,
  recordLineOfCanonical,
} from '../../../functions/core/evidence/records-digest.ts';
import { validEvent } from '../../support/decision-events.ts';
import { decisionEvent } from '../export/arbitraries.ts';

describe('records digest', () => {
  it('spells a record as the JSON array of the CSV columns, one per line', () => {
    expect(recordLine(validEvent())).toBe(
      '["evt_d4e5f6","2026-04-20T09:15:32Z","gpt-4o-mini","pii-redaction","redact","modified",98,312]\n',
    );
  });

  it('cuts the same line out of canonical JSON as parsing it gives, for any event', () => {
    fc.assert(
      fc.property(decisionEvent, (event) => {
        const json = canonicalEventJson(event);
        expect(recordLineOfCanonical(json)).toBe(recordLine(JSON.parse(json) as Record<string, unknown>));
      }),
      { numRuns: 500, seed: 11 },
    );
  });

  it('is not fooled by a value that holds the next member marker', () => {
    const event = validEvent({ model: 'a,"policy":"x', team: 'b,"team":"c', note: ',"team":1' });
    expect(recordLineOfCanonical(canonicalEventJson(event))).toBe(recordLine(event));
  });

  it('parses what is not canonical, and fails loudly on a record that lacks a field', () => {
    const { id, ...rest } = validEvent();
    const reordered = JSON.stringify({ ...rest, id });
    expect(recordLineOfCanonical(reordered)).toBe(recordLine(validEvent()));
    expect(() => recordLineOfCanonical('{"id":"evt_a"}')).toThrow(/no usable timestamp/);
  });

  it('is SHA-256 over the lines, whether added record by record or in chunks, and resumable', () => {
    const events = [
      validEvent(),
      validEvent({ id: 'evt_b', tokens: 7 }),
      validEvent({ id: 'evt_c', model: 'モデル' }),
    ];
    const expected = createHash('sha256').update(events.map(recordLine).join(''), 'utf8').digest('hex');
    const oneByOne = new RecordsDigest();
    for (const event of events) oneByOne.add(event);
    expect(oneByOne.hex()).toBe(expected);
    const first = new RecordsDigest();
    first.addLines(recordLine(events[0]!));
    const resumed = new RecordsDigest(JSON.parse(JSON.stringify(first.state())));
    resumed.addLines(events.slice(1).map(recordLine).join(''));
    expect(resumed.hex()).toBe(expected);
    expect(new RecordsDigest().hex()).toBe(createHash('sha256').update('').digest('hex'));
  });
});
