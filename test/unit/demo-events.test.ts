import {
  canonicalEventJson,
  instantOf,
  parseDecisionEvent,
} from '../../functions/core/events/decision-event.ts';
import { generateDemoEvents } from '../../functions/core/events/demo-events.ts';

const OPTIONS = {
  count: 2500,
  from: new Date('2026-04-01T00:00:00Z'),
  to: new Date('2026-04-23T23:59:59Z'),
  seed: 20260401,
};
const events = [...generateDemoEvents(OPTIONS)];

describe('generateDemoEvents', () => {
  it('is deterministic: the same arguments give the same bytes', () => {
    const again = [
      ...generateDemoEvents({ ...OPTIONS, from: new Date(OPTIONS.from), to: new Date(OPTIONS.to) }),
    ];
    expect(again.map(canonicalEventJson)).toEqual(events.map(canonicalEventJson));
  });

  it('gives different events for a different seed, and accepts string seeds', () => {
    const other = [...generateDemoEvents({ ...OPTIONS, count: 50, seed: 7 })];
    expect(other.map((e) => e.id)).not.toEqual(events.slice(0, 50).map((e) => e.id));
    const text = [...generateDemoEvents({ ...OPTIONS, count: 5, seed: 'demo' })];
    expect([...generateDemoEvents({ ...OPTIONS, count: 5, seed: 'demo' })]).toEqual(text);
  });

  it('generates exactly count events, each valid against the schema', () => {
    expect(events).toHaveLength(2500);
    for (const event of events) {
      const parsed = parseDecisionEvent(event);
      if (!parsed.ok) throw new Error(`${event.id}: ${JSON.stringify(parsed.issues)}`);
      expect(parsed.event).toEqual(event);
    }
  });

  it('gives unique ids of the form evt_ + 12 lowercase hex digits', () => {
    expect(new Set(events.map((e) => e.id)).size).toBe(events.length);
    for (const event of events) expect(event.id).toMatch(/^evt_[0-9a-f]{12}$/);
    const many = [...generateDemoEvents({ ...OPTIONS, count: 50_000, seed: 1 })];
    expect(new Set(many.map((e) => e.id)).size).toBe(50_000);
  });

  it('spreads events over the whole range and stays inside it', () => {
    const instants = events.map((e) => instantOf(e.timestamp));
    expect(Math.min(...instants)).toBeGreaterThanOrEqual(OPTIONS.from.getTime());
    expect(Math.max(...instants)).toBeLessThanOrEqual(OPTIONS.to.getTime());
    const days = new Set(events.map((e) => e.timestamp.slice(0, 10)));
    expect(days.size).toBe(23);
  });

  it('stays inside a range with millisecond bounds', () => {
    const from = new Date('2026-04-01T00:00:00.900Z');
    const to = new Date('2026-04-01T00:00:01.100Z');
    for (const event of generateDemoEvents({ count: 200, from, to, seed: 3 })) {
      expect(instantOf(event.timestamp)).toBeGreaterThanOrEqual(from.getTime());
      expect(instantOf(event.timestamp)).toBeLessThanOrEqual(to.getTime());
    }
  });

  it('uses realistic values with results that match the actions', () => {
    const values = (field: 'model' | 'policy' | 'team') => new Set(events.map((e) => e[field]));
    expect(values('policy')).toEqual(
      new Set(['pii-redaction', 'content-filter', 'prompt-injection', 'data-residency', 'cost-guard']),
    );
    expect([...values('model')]).toEqual(
      expect.arrayContaining(['gpt-4o', 'gpt-4o-mini', 'claude-3-5-sonnet', 'llama-3.1-70b']),
    );
    expect([...values('team')]).toEqual(
      expect.arrayContaining(['engineering', 'support', 'sales', 'finance', 'legal']),
    );
    const resultOf: Record<string, string> = {
      allow: 'passed',
      redact: 'modified',
      mask: 'modified',
      block: 'blocked',
      flag: 'flagged',
      warn: 'flagged',
    };
    for (const event of events) expect(event.result).toBe(resultOf[event.action]);
    expect(
      events.filter((e) => e.policy === 'pii-redaction' && e.action === 'redact').length,
    ).toBeGreaterThan(100);
  });

  it('includes a few events that are hostile to CSV and JSON writers', () => {
    const json = events.map(canonicalEventJson);
    expect(json.filter((line) => line.includes('\\n')).length).toBeGreaterThan(0);
    expect(json.some((line) => /[^ -~]/.test(line))).toBe(true);
    expect(json.some((line) => line.includes('🚀'))).toBe(true);
    expect(events.some((e) => e.model.includes(',') && e.model.includes('"'))).toBe(true);
    expect(events.some((e) => typeof e.prompt_excerpt === 'string' && e.prompt_excerpt.startsWith('='))).toBe(
      true,
    );
    const hostile = events.filter(
      (e) => !['engineering', 'support', 'sales', 'finance', 'legal'].includes(e.team),
    );
    expect(hostile.length).toBeLessThanOrEqual(2);
  });

  it('returns nothing for count 0 and rejects a reversed range', () => {
    expect([...generateDemoEvents({ ...OPTIONS, count: 0 })]).toEqual([]);
    expect(() => [...generateDemoEvents({ ...OPTIONS, from: OPTIONS.to, to: OPTIONS.from })]).toThrow(
      RangeError,
    );
  });
});
