import { ValidationError } from '../../functions/core/errors.ts';
import {
  dayOf,
  daysInRange,
  eventSortKey,
  parseTimeRange,
  sortableInstant,
} from '../../functions/core/events/time-range.ts';

describe('parseTimeRange', () => {
  it('accepts an ordered range, and a range of one instant', () => {
    expect(parseTimeRange('2026-04-01T00:00:00Z', '2026-04-23T23:59:59Z')).toEqual({
      from: '2026-04-01T00:00:00Z',
      to: '2026-04-23T23:59:59Z',
    });
    expect(parseTimeRange('2026-04-01T00:00:00Z', '2026-04-01T00:00:00Z').from).toBe('2026-04-01T00:00:00Z');
  });

  function issues(from: unknown, to: unknown) {
    try {
      parseTimeRange(from, to);
    } catch (error) {
      if (error instanceof ValidationError) return error.issues;
      throw error;
    }
    throw new Error('expected the range to be rejected');
  }

  it('names missing bounds', () => {
    expect(issues(undefined, undefined)).toEqual([
      { field: 'from', rule: 'is required' },
      { field: 'to', rule: 'is required' },
    ]);
  });

  it('rejects a reversed range, comparing instants rather than text', () => {
    expect(issues('2026-04-02T00:00:00Z', '2026-04-01T23:59:59.999Z')).toEqual([
      { field: 'from', rule: 'must not be later than to' },
    ]);
    // Textually '...00.5Z' > '...00Z' as well, but here the instants are ordered correctly.
    expect(() => parseTimeRange('2026-04-01T00:00:00Z', '2026-04-01T00:00:00.5Z')).not.toThrow();
  });

  it('rejects offsets and impossible dates', () => {
    expect(issues('2026-04-01T00:00:00+01:00', '2026-02-30T00:00:00Z')).toEqual([
      { field: 'from', rule: 'must be an ISO 8601 UTC timestamp such as 2026-04-20T09:15:32Z' },
      { field: 'to', rule: 'must be a real calendar date and time' },
    ]);
  });
});

describe('dayOf', () => {
  it.each([
    ['2026-04-20T00:00:00Z', '2026-04-20'],
    ['2026-04-20T23:59:59.999Z', '2026-04-20'],
    ['2026-12-31T23:59:59.999999Z', '2026-12-31'],
    ['2024-02-29T12:00:00Z', '2024-02-29'],
  ])('%s is on %s', (timestamp, day) => {
    expect(dayOf(timestamp)).toBe(day);
  });
});

describe('daysInRange', () => {
  it('lists every UTC day the range touches, oldest first', () => {
    expect(daysInRange({ from: '2026-02-27T23:00:00Z', to: '2026-03-02T00:00:00Z' })).toEqual([
      '2026-02-27',
      '2026-02-28',
      '2026-03-01',
      '2026-03-02',
    ]);
  });

  it('gives one day for a range inside a day, and across a leap day', () => {
    expect(daysInRange({ from: '2026-04-20T01:00:00Z', to: '2026-04-20T02:00:00Z' })).toEqual(['2026-04-20']);
    expect(daysInRange({ from: '2024-02-28T00:00:00Z', to: '2024-03-01T00:00:00Z' })).toHaveLength(3);
  });

  it('crosses a year boundary', () => {
    expect(daysInRange({ from: '2025-12-31T12:00:00Z', to: '2026-01-01T12:00:00Z' })).toEqual([
      '2025-12-31',
      '2026-01-01',
    ]);
  });

  it('covers the tutorial range of 23 days', () => {
    expect(daysInRange({ from: '2026-04-01T00:00:00Z', to: '2026-04-23T23:59:59Z' })).toHaveLength(23);
  });
});

describe('sortableInstant and eventSortKey', () => {
  it('spells every instant with exactly nine fractional digits, keeping every digit given', () => {
    expect(sortableInstant('2026-04-20T09:15:32Z')).toBe('2026-04-20T09:15:32.000000000Z');
    expect(sortableInstant('2026-04-20T09:15:32.5Z')).toBe('2026-04-20T09:15:32.500000000Z');
    expect(sortableInstant('2026-04-20T09:15:32.123456Z')).toBe('2026-04-20T09:15:32.123456000Z');
    expect(sortableInstant('2026-04-20T09:15:32.000000001Z')).toBe('2026-04-20T09:15:32.000000001Z');
  });

  it('makes text order equal time order where the raw spellings would not', () => {
    const raw = ['2026-04-20T09:15:32.5Z', '2026-04-20T09:15:32Z', '2026-04-20T09:15:32.05Z', '2026-04-20T09:15:32.0005Z'];
    expect([...raw].sort()).toEqual([
      '2026-04-20T09:15:32.0005Z',
      '2026-04-20T09:15:32.05Z',
      '2026-04-20T09:15:32.5Z',
      '2026-04-20T09:15:32Z',
    ]);
    expect(raw.map(sortableInstant).sort()).toEqual([
      '2026-04-20T09:15:32.000000000Z',
      '2026-04-20T09:15:32.000500000Z',
      '2026-04-20T09:15:32.050000000Z',
      '2026-04-20T09:15:32.500000000Z',
    ]);
  });

  it('orders by timestamp at full precision, then id', () => {
    const keys = [
      { id: 'evt_b', timestamp: '2026-04-20T09:15:32Z' },
      { id: 'evt_a', timestamp: '2026-04-20T09:15:32.000Z' },
      { id: 'evt_0', timestamp: '2026-04-20T09:15:32.001Z' },
      // Within one millisecond, time decides before the id does.
      { id: 'evt_0', timestamp: '2026-04-20T09:15:32.000000002Z' },
      { id: 'evt_z', timestamp: '2026-04-20T09:15:32.000000001Z' },
    ].map(eventSortKey);
    expect(keys).toEqual([
      '2026-04-20T09:15:32.000000000Z#evt_b',
      '2026-04-20T09:15:32.000000000Z#evt_a',
      '2026-04-20T09:15:32.001000000Z#evt_0',
      '2026-04-20T09:15:32.000000002Z#evt_0',
      '2026-04-20T09:15:32.000000001Z#evt_z',
    ]);
    expect([...keys].sort()).toEqual([keys[1], keys[0], keys[4], keys[3], keys[2]]);
  });

  it('refuses a range whose from is later than its to by a single nanosecond', () => {
    expect(() => parseTimeRange('2026-04-20T09:15:32.000000002Z', '2026-04-20T09:15:32.000000001Z')).toThrow(
      ValidationError,
    );
    expect(parseTimeRange('2026-04-20T09:15:32.000000001Z', '2026-04-20T09:15:32.000000001Z')).toEqual({
      from: '2026-04-20T09:15:32.000000001Z',
      to: '2026-04-20T09:15:32.000000001Z',
    });
  });
});
