import type { DecisionEvent, DecisionEventCore } from '../../functions/core/events/decision-event.ts';

/** The tutorial's example event record, complete: valid as it stands; override fields to vary it. */
export function validEvent(overrides: Partial<DecisionEvent> = {}): DecisionEvent & DecisionEventCore {
  return {
    id: 'evt_d4e5f6',
    timestamp: '2026-04-20T09:15:32Z',
    model: 'gpt-4o-mini',
    policy: 'pii-redaction',
    action: 'redact',
    result: 'modified',
    tokens: 98,
    latency_ms: 312,
    team: 'engineering',
    ...overrides,
  };
}
