import { writeFileSync } from 'node:fs';
import { assertDecisionEvent, canonicalEventJson } from '../functions/core/events/decision-event.ts';
import { generateDemoEvents } from '../functions/core/events/demo-events.ts';

/**
 * Writes sample-decision-events.jsonl: 2,500 demo events over 2026-04-01..2026-04-23, the dates
 * the export tutorial's commands select. Deterministic, so re-running it changes nothing.
 * Run: npx tsx events/generate-sample.ts
 */
const events = generateDemoEvents({
  count: 2500,
  from: new Date('2026-04-01T00:00:00Z'),
  to: new Date('2026-04-23T23:59:59Z'),
  seed: 20260401,
});

const lines: string[] = [];
for (const event of events) lines.push(canonicalEventJson(assertDecisionEvent(event)));

const target = new URL('./sample-decision-events.jsonl', import.meta.url);
writeFileSync(target, `${lines.join('\n')}\n`);
console.log(`wrote ${lines.length} events to events/sample-decision-events.jsonl`);
