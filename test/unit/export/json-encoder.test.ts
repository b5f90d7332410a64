import { jsonEncoder } from '../../../functions/core/export/json-encoder.ts';
import { encodeAll } from './encode-all.ts';
import { event, META, stored, TUTORIAL_EVENTS } from './fixtures.ts';

const JSON_META = { ...META, format: 'json' as const };
const EXPORT_SECTION =
  '{"export":{"id":"exp_def456","title":"PII audit, April",' +
  '"range":{"from":"2026-04-01T00:00:00Z","to":"2026-04-23T23:59:59Z"},' +
  '"filters":{"team":null,"policy":"pii-redaction"},"format":"json","generated_at":"2026-04-23T14:30:00Z"},';

describe('jsonEncoder', () => {
  it('writes events verbatim, one per line, with the count after them', () => {
    const [first, second] = TUTORIAL_EVENTS;
    expect(encodeAll(jsonEncoder, JSON_META, [first!, second!])).toBe(
      `${EXPORT_SECTION}"events":[\n${first!.json},\n${second!.json}\n],"summary":{"record_count":2}}\n`,
    );
  });

  it('writes an empty array for no events', () => {
    const out = encodeAll(jsonEncoder, JSON_META, []);
    expect(out).toBe(`${EXPORT_SECTION}"events":[],"summary":{"record_count":0}}\n`);
    expect(JSON.parse(out)).toMatchObject({ events: [], summary: { record_count: 0 } });
  });

  it('writes absent optional metadata as null, in a fixed key order', () => {
    const { title: _title, ...untitled } = JSON_META;
    const out = jsonEncoder.header({ ...untitled, filters: {}, extra: 'ignored' } as typeof JSON_META);
    expect(out).toBe(
      '{"export":{"id":"exp_def456","title":null,' +
        '"range":{"from":"2026-04-01T00:00:00Z","to":"2026-04-23T23:59:59Z"},' +
        '"filters":{"team":null,"policy":null},"format":"json","generated_at":"2026-04-23T14:30:00Z"},"events":[',
    );
  });

  it('keeps metadata text exact: quotes, newlines, non-ASCII and emoji', () => {
    const title = 'Q2 "PII" audit\nZürich 🚀, </script>';
    const parsed = JSON.parse(encodeAll(jsonEncoder, { ...JSON_META, title }, []));
    expect(parsed.export.title).toBe(title);
  });

  it('keeps extra gateway fields and nested JSON', () => {
    const extra = stored(event({ region: 'eu-west-1', detail: { score: 0.93, hit: null, tags: ['a'] } }));
    const parsed = JSON.parse(encodeAll(jsonEncoder, JSON_META, [extra]));
    expect(parsed.events).toEqual([JSON.parse(extra.json)]);
    expect(parsed.events[0].detail.tags).toEqual(['a']);
  });

  it('answers jq .events | length with the record count', () => {
    const parsed = JSON.parse(encodeAll(jsonEncoder, JSON_META, TUTORIAL_EVENTS));
    expect(parsed.events).toHaveLength(4);
    expect(parsed.summary.record_count).toBe(4);
    expect(parsed.events[2]).toMatchObject({ id: 'evt_g7h8i9', model: 'gpt-4o', tokens: 210 });
  });
});
