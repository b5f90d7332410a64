import type { StoredEvent } from '../events/stored-event.ts';
import type { ExportEncoder } from './encoder.ts';
import type { ExportMetadata } from './export-metadata.ts';

/**
 * `{"export":{…},"events":[…],"summary":{"record_count":N}}`, one event per line.
 *
 * The record count goes after the events because it is known only once the stream ends. Events
 * are copied verbatim from the store's canonical JSON: re-parsing would cost time and could only
 * change bytes that the manifest's digest is meant to pin down.
 */
export const jsonEncoder: ExportEncoder = {
  format: 'json',
  contentType: 'application/json',

  header(meta) {
    return `{"export":${JSON.stringify(exportSection(meta))},"events":[`;
  },

  encode(event: StoredEvent, index: number) {
    return `${index === 0 ? '\n' : ',\n'}${event.json}`;
  },

  trailer(_meta, recordCount) {
    // With no events the array stays `[]` rather than holding a blank line.
    return `${recordCount === 0 ? '' : '\n'}],"summary":${JSON.stringify({ record_count: recordCount })}}\n`;
  },
};

/**
 * Built key by key so the section always has the same keys in the same order, whatever object
 * the caller passed; absent optional values are `null` so `jq '.export.title'` never needs `//`.
 */
function exportSection(meta: ExportMetadata) {
  return {
    id: meta.id,
    title: meta.title ?? null,
    range: { from: meta.range.from, to: meta.range.to },
    filters: { team: meta.filters.team ?? null, policy: meta.filters.policy ?? null },
    format: meta.format,
    generated_at: meta.generated_at,
  };
}
