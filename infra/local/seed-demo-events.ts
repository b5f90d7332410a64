import { generateDemoEvents } from '../../functions/core/events/demo-events.ts';
import type { DecisionEvent } from '../../functions/core/events/decision-event.ts';
import type { EventStore } from '../../functions/core/ports.ts';
import { storeEvents } from '../../functions/core/events/store-events.ts';
import type { DataDir } from './data-dir.ts';
import { LocalStackError } from './local-stack-error.ts';

const BATCH = 500;
const IN_FLIGHT = 4;
const DAY_MS = 86_400_000;
const DEMO_SEED = 20260423;

/**
 * Seeds a new data dir with demo events over the last 30 days. The request is saved before the
 * first write and the generator is deterministic, so a seed interrupted by Ctrl-C is finished,
 * byte for byte the same, at the next start.
 */
export async function seedDemoEvents(
  dir: DataDir,
  store: EventStore,
  count: number,
  progress: (done: number, total: number) => void,
): Promise<number> {
  let seed = dir.state.seed;
  if (seed === undefined) {
    if (!dir.isNew || count === 0) return 0;
    const now = Date.now();
    seed = {
      count,
      from: new Date(now - 30 * DAY_MS).toISOString(),
      to: new Date(now).toISOString(),
      done: false,
    };
    await dir.save({ ...dir.state, seed });
  }
  if (seed.done) return 0;

  const total = seed.count;
  const events = generateDemoEvents({
    count: total,
    from: new Date(seed.from),
    to: new Date(seed.to),
    seed: DEMO_SEED,
  });
  let done = 0;
  let batch: DecisionEvent[] = [];
  const inFlight = new Set<Promise<void>>();
  const write = async (events: DecisionEvent[]) => {
    const result = await storeEvents(store, events);
    if (result.failed.length > 0) {
      throw new LocalStackError(`seeding demo events failed: ${result.failed[0]!.reason}`);
    }
    if (result.conflicts.length > 0) {
      throw new LocalStackError(
        `seeding demo events failed: event ${result.conflicts[0]!.offered.id} is already stored with other content`,
      );
    }
    done += events.length;
    progress(done, total);
  };
  for (const event of events) {
    batch.push(event);
    if (batch.length === BATCH) {
      const pending = write(batch).finally(() => inFlight.delete(pending));
      inFlight.add(pending);
      batch = [];
      if (inFlight.size >= IN_FLIGHT) await Promise.race(inFlight);
    }
  }
  if (batch.length > 0) await write(batch);
  await Promise.all(inFlight);
  await dir.save({ ...dir.state, seed: { ...seed, done: true } });
  return total;
}
