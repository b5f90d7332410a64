import { ValidationError } from '../../functions/core/errors.ts';
import {
  assertDecisionEvent,
  canonicalEventJson,
  MAX_EVENT_BYTES,
  parseDecisionEvent,
} from '../../functions/core/events/decision-event.ts';
import { parseEventBatch } from '../../functions/core/events/event-batch.ts';
import { validEvent } from '../support/decision-events.ts';

const GOOD = validEvent();

function issuesOf(value: unknown, path?: string) {
  const parsed = parseDecisionEvent(value, path);
  if (parsed.ok) throw new Error(`expected ${JSON.stringify(value)} to be rejected`);
  return parsed.issues;
}

function batchError(body: unknown): ValidationError {
  try {
    parseEventBatch(body);
  } catch (error) {
    if (error instanceof ValidationError) return error;
    throw error;
  }
  throw new Error('expected the batch to be rejected');
}

describe('parseDecisionEvent: good events', () => {
  it('accepts a complete event unchanged', () => {
    expect(parseDecisionEvent(GOOD)).toEqual({ ok: true, event: GOOD });
  });

  it('keeps extra fields, nested JSON included', () => {
    const event = { ...GOOD, region: 'eu-west-1', tags: ['a', 'b'], detail: { score: 0.93, hit: null } };
    expect(assertDecisionEvent(event)).toEqual(event);
  });

  it.each([
    ['fractional seconds', { timestamp: '2026-04-20T09:15:32.123456789Z' }],
    ['leap day', { timestamp: '2024-02-29T23:59:59Z' }],
    ['zero tokens and latency', { tokens: 0, latency_ms: 0 }],
    ['fractional latency', { latency_ms: 12.5 }],
    ['maximum tokens', { tokens: 2_147_483_647 }],
    ['non-ASCII, emoji, commas and quotes in labels', { team: 'R&D, "Zürich" 🚀', model: 'モデル' }],
    ['a 256-character label', { policy: 'p'.repeat(256) }],
    ['an id with _ and -', { id: 'evt_A-b_9' }],
    ['a newline inside an extra field', { note: 'line one\nline two' }],
  ])('accepts %s', (_, overrides) => {
    expect(parseDecisionEvent({ ...GOOD, ...overrides }).ok).toBe(true);
  });

  it('writes canonical JSON with core fields first, then extras in arrival order', () => {
    // Arrival order puts an extra field and team first; the canonical form reorders only the core.
    const { team, ...rest } = GOOD;
    const event = assertDecisionEvent({ zeta: 1, team, ...rest, alpha: 2 });
    expect(canonicalEventJson(event)).toBe(
      '{"id":"evt_d4e5f6","timestamp":"2026-04-20T09:15:32Z","model":"gpt-4o-mini","policy":"pii-redaction",' +
        '"action":"redact","result":"modified","tokens":98,"latency_ms":312,"team":"engineering","zeta":1,"alpha":2}',
    );
  });
});

describe('parseDecisionEvent: hostile events', () => {
  it.each([
    ['null', null],
    ['an array', [GOOD]],
    ['a string', 'evt_d4e5f6'],
  ])('rejects %s as not an object', (_, value) => {
    expect(issuesOf(value)).toEqual([{ field: '(event)', rule: 'must be a JSON object' }]);
  });

  it('names every missing field', () => {
    expect(issuesOf({})).toEqual(
      ['id', 'timestamp', 'model', 'policy', 'action', 'result', 'tokens', 'latency_ms', 'team'].map(
        (field) => ({
          field,
          rule: 'is required',
        }),
      ),
    );
  });

  it('prefixes field paths', () => {
    const { model: _, ...noModel } = GOOD;
    expect(issuesOf(noModel, 'events[3]')).toEqual([{ field: 'events[3].model', rule: 'is required' }]);
  });

  it.each([
    ['tokens', -1, 'must be 0 or more'],
    ['tokens', 2_147_483_648, 'must be at most 2147483647'],
    ['latency_ms', -0.5, 'must be 0 or more'],
    ['latency_ms', 86_400_001, 'must be at most 86400000 (one day)'],
    ['team', '', 'must not be empty'],
    ['team', 'x'.repeat(257), 'must be at most 256 characters'],
    ['team', 'line\nbreak', 'must not contain control characters'],
    ['model', 'nul\u0000byte', 'must not contain control characters'],
    ['policy', 'del\u007f', 'must not contain control characters'],
    ['action', 'tab\there', 'must not contain control characters'],
    ['id', 'abc', 'must look like evt_<letters, digits, _ or ->, at most 132 characters'],
    ['id', 'evt_', 'must look like evt_<letters, digits, _ or ->, at most 132 characters'],
    ['id', 'evt_a/b', 'must look like evt_<letters, digits, _ or ->, at most 132 characters'],
    ['id', `evt_${'a'.repeat(129)}`, 'must look like evt_<letters, digits, _ or ->, at most 132 characters'],
  ])('rejects %s = %j: %s', (field, value, rule) => {
    expect(issuesOf({ ...GOOD, [field]: value })).toEqual([{ field, rule }]);
  });

  it.each([
    ['2026-02-30T00:00:00Z'],
    ['2026-04-31T12:00:00Z'],
    ['2025-02-29T12:00:00Z'],
    ['2026-04-20T24:00:00Z'],
    ['2026-04-20T09:60:00Z'],
    ['2026-13-01T00:00:00Z'],
  ])('rejects the impossible instant %s', (timestamp) => {
    expect(issuesOf({ ...GOOD, timestamp })).toEqual([
      { field: 'timestamp', rule: 'must be a real calendar date and time' },
    ]);
  });

  // The same instant must have one spelling, so offsets and local times are refused outright.
  it.each([
    ['2026-04-20T09:15:32+02:00'],
    ['2026-04-20T09:15:32'],
    ['2026-04-20 09:15:32Z'],
    ['2026-04-20'],
    ['1745140532'],
    ['2026-04-20T09:15:32.Z'],
  ])('rejects the non-UTC or malformed timestamp %s with one issue', (timestamp) => {
    expect(issuesOf({ ...GOOD, timestamp })).toEqual([
      { field: 'timestamp', rule: 'must be an ISO 8601 UTC timestamp such as 2026-04-20T09:15:32Z' },
    ]);
  });

  describe('type errors name the expected type (not "is required")', () => {
    it.each([
      ['tokens', '98', 'must be a number'],
      ['tokens', null, 'must be a number'],
      ['tokens', Number.NaN, 'must be a number'],
      ['latency_ms', Number.POSITIVE_INFINITY, 'must be a number'],
      ['tokens', 1.5, 'must be a whole number'],
      ['team', 5, 'must be a string'],
      ['model', ['gpt-4o'], 'must be a string'],
      ['id', 42, 'must be a string'],
    ])('%s = %p: %s', (field, value, rule) => {
      expect(issuesOf({ ...GOOD, [field]: value })).toEqual([{ field, rule }]);
    });
  });

  it.each(['__proto__', 'constructor', 'prototype'])('rejects the reserved key %s', (key) => {
    const value = JSON.parse(`{"${key}": {"polluted": true}, "id": "evt_x"}`);
    expect(issuesOf(value)).toEqual([{ field: key, rule: 'is a reserved name and not allowed' }]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it.each([
    ['NaN', Number.NaN],
    ['Infinity', Number.POSITIVE_INFINITY],
    ['a function', () => 1],
    ['undefined inside an array', [undefined]],
  ])('rejects an extra field that is not JSON: %s', (_, value) => {
    expect(issuesOf({ ...GOOD, extra: value }).map((i) => i.field)).toEqual(['extra']);
  });

  it('rejects an event larger than the limit, and accepts one just under it', () => {
    const emptyNote = Buffer.byteLength(canonicalEventJson({ ...GOOD, note: '' }));
    const fits = { ...GOOD, note: 'x'.repeat(MAX_EVENT_BYTES - emptyNote) };
    expect(parseDecisionEvent(fits).ok).toBe(true);
    const over = { ...GOOD, note: 'x'.repeat(MAX_EVENT_BYTES - emptyNote + 1) };
    expect(issuesOf(over)).toEqual([
      {
        field: '(event)',
        rule: `must be at most ${MAX_EVENT_BYTES} bytes as JSON (is ${MAX_EVENT_BYTES + 1})`,
      },
    ]);
  });

  it('counts bytes, not characters, toward the size limit', () => {
    // 6,000 three-byte characters: 18,000 bytes although only 6,000 characters.
    const issues = issuesOf({ ...GOOD, note: '€'.repeat(6000) });
    expect(issues[0]!.rule).toMatch(/^must be at most 16384 bytes as JSON \(is \d+\)$/);
  });

  it('throws a ValidationError from assertDecisionEvent', () => {
    expect(() => assertDecisionEvent({ ...GOOD, tokens: -1 })).toThrow(ValidationError);
  });
});

describe('parseEventBatch', () => {
  const event = (n: number, overrides: Record<string, unknown> = {}) => ({
    ...GOOD,
    id: `evt_${n}`,
    ...overrides,
  });

  it('returns the events of a good batch in order', () => {
    const events = [event(1), event(2, { extra: 'kept' }), event(3)];
    expect(parseEventBatch({ events })).toEqual(events);
  });

  it('rejects the whole batch for one bad event, naming the event and field', () => {
    const error = batchError({ events: [event(1), event(2, { tokens: -3 }), event(3)] });
    expect(error.message).toBe('1 of 3 events are invalid; nothing was stored.');
    expect(error.issues).toEqual([{ field: 'events[1].tokens', rule: 'must be 0 or more' }]);
  });

  it('reports every bad event and every bad field', () => {
    const { team: _, ...noTeam } = event(3);
    const error = batchError({
      events: [event(0), event(1, { timestamp: '2026-02-30T00:00:00Z' }), event(2), noTeam, 'junk'],
    });
    expect(error.message).toBe('3 of 5 events are invalid; nothing was stored.');
    expect(error.issues).toEqual([
      { field: 'events[1].timestamp', rule: 'must be a real calendar date and time' },
      { field: 'events[3].team', rule: 'is required' },
      { field: 'events[4]', rule: 'must be a JSON object' },
    ]);
  });

  it('collapses an identical repeat into one event', () => {
    // Key order differs but the canonical form is the same.
    const { id, ...rest } = event(1);
    expect(parseEventBatch({ events: [event(1), { ...rest, id }, event(2)] })).toEqual([event(1), event(2)]);
  });

  it('rejects the same id with different content', () => {
    const error = batchError({ events: [event(1), event(2), event(1, { tokens: 99 })] });
    expect(error.issues).toEqual([
      { field: 'events[2].id', rule: 'repeats the id of events[0] with different content' },
    ]);
  });

  it.each([
    [0, 'must hold 1 to 500 events (has 0)'],
    [501, 'must hold 1 to 500 events (has 501)'],
  ])('rejects %i events', (count, rule) => {
    const events = Array.from({ length: count }, (_, n) => event(n));
    expect(batchError({ events }).issues).toEqual([{ field: 'events', rule }]);
  });

  it('accepts exactly 500 events', () => {
    expect(parseEventBatch({ events: Array.from({ length: 500 }, (_, n) => event(n)) })).toHaveLength(500);
  });

  it.each([
    ['no events key', {}, 'is required'],
    ['an array body', [GOOD], 'is required'],
    ['null', null, 'is required'],
    ['events not an array', { events: GOOD }, 'must be an array'],
  ])('rejects a body with %s', (_, body, rule) => {
    expect(batchError(body).issues).toEqual([{ field: 'events', rule }]);
  });
});

describe('canonicalEventJson key order', () => {
  it('writes the core fields first even when an extra field name looks like an integer', () => {
    const event = assertDecisionEvent({
      id: 'evt_order1',
      timestamp: '2026-04-20T09:15:32Z',
      model: 'gpt-4o',
      policy: 'pii-redaction',
      action: 'redact',
      result: 'modified',
      tokens: 1,
      latency_ms: 2,
      team: 'engineering',
      '7': 'x',
      region: 'eu',
    });
    const json = canonicalEventJson(event);
    expect(json.startsWith('{"id":"evt_order1","timestamp":')).toBe(true);
    expect(json.endsWith(',"team":"engineering","7":"x","region":"eu"}')).toBe(true);
    expect(JSON.parse(json)).toEqual(event);
  });
});
