import { assertDecisionEvent, canonicalEventJson } from '../../../functions/core/events/decision-event.ts';
import type { ExportMetadata } from '../../../functions/core/export/export-metadata.ts';
import type { StoredEvent } from '../../../functions/core/events/stored-event.ts';
import { validEvent } from '../../support/decision-events.ts';

export const META: ExportMetadata = {
  id: 'exp_def456',
  title: 'PII audit, April',
  range: { from: '2026-04-01T00:00:00Z', to: '2026-04-23T23:59:59Z' },
  filters: { policy: 'pii-redaction' },
  format: 'csv',
  generated_at: '2026-04-23T14:30:00Z',
};

export function event(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return validEvent({ id: 'evt_a1b2c3', timestamp: '2026-04-02T08:12:00Z', ...overrides });
}

/** A validated event as the store holds it. */
export function stored(value: Record<string, unknown>): StoredEvent {
  const valid = assertDecisionEvent(value);
  return { sortKey: `${valid.timestamp}#${valid.id}`, json: canonicalEventJson(valid) };
}

/**
 * Bypasses validation so the encoders' own guards (control characters, odd types) can be tested;
 * the store should never hold such an event.
 */
export function storedRaw(value: Record<string, unknown>): StoredEvent {
  return { sortKey: `${String(value.timestamp)}#${String(value.id)}`, json: JSON.stringify(value) };
}

/** Tutorial step 5's four events. */
export const TUTORIAL_EVENTS: readonly StoredEvent[] = [
  stored(event()),
  stored(event({ id: 'evt_d4e5f6', timestamp: '2026-04-02T09:45:00Z', tokens: 145, latency_ms: 285 })),
  stored(
    event({
      id: 'evt_g7h8i9',
      timestamp: '2026-04-03T11:20:00Z',
      model: 'gpt-4o',
      tokens: 210,
      latency_ms: 401,
    }),
  ),
  stored(event({ id: 'evt_j0k1l2', timestamp: '2026-04-03T14:05:00Z', tokens: 87, latency_ms: 290 })),
];
