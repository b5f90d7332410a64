import type { ExportEncoder } from '../../../functions/core/export/encoder.ts';
import type { ExportMetadata } from '../../../functions/core/export/export-metadata.ts';
import type { StoredEvent } from '../../../functions/core/events/stored-event.ts';

/** A whole artifact in one go, the way the tests' reference output is produced. */
export function encodeAll(
  encoder: ExportEncoder,
  meta: ExportMetadata,
  events: Iterable<StoredEvent>,
): string {
  let out = encoder.header(meta);
  let count = 0;
  for (const event of events) out += encoder.encode(event, count++);
  return out + encoder.trailer(meta, count);
}

/**
 * The same artifact written by several runs, each knowing only how many events the runs before
 * it wrote, as a resumed export would be. `cuts` are the counts written when each run stops.
 */
export function encodeInRuns(
  encoder: ExportEncoder,
  meta: ExportMetadata,
  events: readonly StoredEvent[],
  cuts: readonly number[],
): string {
  const runs: string[] = [];
  let written = 0;
  for (const cut of [...cuts, events.length]) {
    const stop = Math.max(written, Math.min(cut, events.length));
    let run = written === 0 && runs.length === 0 ? encoder.header(meta) : '';
    for (let index = written; index < stop; index++) run += encoder.encode(events[index]!, index);
    runs.push(run);
    written = stop;
  }
  return runs.join('') + encoder.trailer(meta, written);
}
