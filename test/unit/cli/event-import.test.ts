import { MAX_BATCH_BYTES } from '../../../functions/core/events/decision-event.ts';
import { ApiError, AuthError } from '../../../cli/errors.ts';
import { type IngestFn, type IngestResponse, parseIngestResponse } from '../../../cli/event-import/ingest.ts';
import { eventsToUpload, type PendingEvent, uploadEvents } from '../../../cli/event-import/upload.ts';
import { formatInvalidEvent, validateEventFile } from '../../../cli/event-import/validation.ts';
import { collect, event, jsonLines, rejection, tempDir } from './helpers.ts';

const dir = tempDir();
afterAll(() => dir.cleanup());

describe('validateEventFile', () => {
  it('accepts a valid file and counts its events', async () => {
    const file = dir.write('ok.jsonl', jsonLines(Array.from({ length: 25 }, (_, i) => event(i))));
    const report = await validateEventFile(file, { format: 'jsonl' });
    expect(report).toMatchObject({ total: 25, distinct: 25, invalid: 0, duplicates: 0, problems: [] });
  });

  it('reports invalid events by line with the shared schema rules', async () => {
    const values: unknown[] = Array.from({ length: 16 }, (_, i) => event(i));
    values[11] = event(11, { timestamp: '2026-04-20 09:15:32' });
    values[13] = event(13, { tokens: undefined, team: '' });
    values[14] = ['not', 'an', 'object'];
    values[15] = { id: 'evt_15', tokens: -1 };
    const file = dir.write('bad.jsonl', jsonLines(values));
    const report = await validateEventFile(file, { format: 'jsonl' });
    expect(report.invalid).toBe(4);
    expect(report.problems.map((p) => formatInvalidEvent('jsonl', p))).toEqual([
      'line 12: timestamp must be an ISO 8601 UTC timestamp such as 2026-04-20T09:15:32Z',
      'line 14: tokens is required; team must not be empty',
      'line 15: event must be a JSON object',
      'line 16: timestamp, model, policy, action, result, latency_ms and team are required; tokens must be 0 or more',
    ]);
  });

  it('numbers array items from 1', async () => {
    const file = dir.write('bad.json', JSON.stringify([event(1), event(2, { latency_ms: -1 })], null, 2));
    const report = await validateEventFile(file, { format: 'array' });
    expect(report.problems.map((p) => formatInvalidEvent('array', p))).toEqual([
      'item 2: latency_ms must be 0 or more',
    ]);
  });

  it('keeps the first 10 problems and counts the rest', async () => {
    const values = Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? event(i, { model: '' }) : event(i)));
    const file = dir.write('many.jsonl', jsonLines(values));
    const report = await validateEventFile(file, { format: 'jsonl' });
    expect(report.invalid).toBe(20);
    expect(report.problems).toHaveLength(10);
    expect(report.problems.map((p) => p.position)).toEqual([1, 3, 5, 7, 9, 11, 13, 15, 17, 19]);
  });

  it('skips exact repeats and rejects the same id with different content', async () => {
    const file = dir.write(
      'dupes.jsonl',
      jsonLines([event(1), event(2), event(1), event(2, { tokens: 7 }), event(3)]),
    );
    const report = await validateEventFile(file, { format: 'jsonl' });
    expect(report).toMatchObject({ total: 5, duplicates: 1, invalid: 1, distinct: 3 });
    expect(formatInvalidEvent('jsonl', report.problems[0]!)).toBe(
      'line 4: id repeats the id of line 2 with different content',
    );
  });

  it('treats key order as the same content (the canonical JSON decides)', async () => {
    const { team, ...rest } = event(1);
    const file = dir.write('reordered.jsonl', jsonLines([event(1), { team, ...rest }]));
    const report = await validateEventFile(file, { format: 'jsonl' });
    expect(report).toMatchObject({ duplicates: 1, invalid: 0, distinct: 1 });
  });
});

describe('eventsToUpload', () => {
  it('yields each valid event once, at its first occurrence', async () => {
    const file = dir.write('pass2.jsonl', jsonLines([event(1), event(2), event(1), event(3)]));
    const report = await validateEventFile(file, { format: 'jsonl' });
    const pending = await collect(eventsToUpload(file, report));
    expect(pending.map((p) => [p.position, p.id])).toEqual([
      [1, 'evt_1'],
      [2, 'evt_2'],
      [4, 'evt_3'],
    ]);
    expect(pending[0]!.value).toEqual(event(1));
  });

  it('stops when the file changed since validation', async () => {
    const file = dir.write('changing.jsonl', jsonLines([event(1), event(2)]));
    const report = await validateEventFile(file, { format: 'jsonl' });
    dir.write('changing.jsonl', jsonLines([event(1), event(9)]));
    await expect(collect(eventsToUpload(file, report))).rejects.toThrow(
      /changed while it was being imported \(line 2 is new\)/,
    );
  });
});

function pending(count: number): PendingEvent[] {
  return Array.from({ length: count }, (_, i) => ({ position: i + 1, id: `evt_${i}`, value: event(i) }));
}

async function* stream<T>(values: readonly T[]): AsyncGenerator<T> {
  for (const value of values) yield value;
}

const stored = (events: readonly unknown[]): IngestResponse => ({
  received: events.length,
  written: events.length,
  alreadyStored: 0,
  conflicts: [],
  failed: [],
});

const noSleep = async () => undefined;

describe('uploadEvents', () => {
  it('sends batches of at most the batch size, all events exactly once, two at a time', async () => {
    const sent: string[][] = [];
    let inFlight = 0;
    let maxInFlight = 0;
    const ingest: IngestFn = async (events) => {
      inFlight += 1;
      maxInFlight = Math.max(maxInFlight, inFlight);
      sent.push(events.map((e) => (e as { id: string }).id));
      await new Promise((resolve) => setTimeout(resolve, 5));
      inFlight -= 1;
      return stored(events);
    };
    const stored_: number[] = [];
    const result = await uploadEvents(stream(pending(1234)), ingest, {
      format: 'jsonl',
      batchSize: 500,
      onStored: (n) => stored_.push(n),
    });
    expect(result).toEqual({ imported: 1234, new: 1234, alreadyStored: 0, notStored: [], conflicts: [] });
    expect(sent.map((b) => b.length).sort((a, b) => b - a)).toEqual([500, 500, 234]);
    expect(new Set(sent.flat()).size).toBe(1234);
    expect(maxInFlight).toBe(2);
    expect(stored_.reduce((a, b) => a + b, 0)).toBe(1234);
  });

  it('cuts a batch before its body would pass the byte limit, never splitting or dropping an event', async () => {
    const big = (i: number) => ({ position: i + 1, id: `evt_${i}`, value: { id: `evt_${i}`, note: 'x'.repeat(15_000) } });
    const events = Array.from({ length: 1_000 }, (_, i) => big(i));
    const bodies: number[] = [];
    const ingest: IngestFn = async (batch) => {
      bodies.push(Buffer.byteLength(JSON.stringify({ events: batch }), 'utf8'));
      return stored(batch);
    };
    const result = await uploadEvents(stream(events), ingest, { format: 'jsonl', concurrency: 1 });
    expect(result.imported).toBe(1_000);
    // 500 events of ~15 KB would be a 7.5 MB body, over what Lambda accepts: cut by bytes instead.
    expect(Math.max(...bodies)).toBeLessThanOrEqual(MAX_BATCH_BYTES);
    expect(bodies.length).toBeGreaterThan(2);
    // A limit just above one event's body still sends every event, one per request.
    const one = Buffer.byteLength(JSON.stringify({ events: [events[0]!.value] }), 'utf8');
    const sent: number[] = [];
    const count: IngestFn = async (batch) => {
      sent.push(batch.length);
      return stored(batch);
    };
    await uploadEvents(stream(events.slice(0, 3)), count, { format: 'jsonl', maxBatchBytes: one });
    expect(sent).toEqual([1, 1, 1]);
  });

  it('never runs more than the requested concurrency', async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    const ingest: IngestFn = async (events) => {
      inFlight += 1;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await new Promise((resolve) => setTimeout(resolve, 2));
      inFlight -= 1;
      return stored(events);
    };
    await uploadEvents(stream(pending(50)), ingest, { format: 'jsonl', batchSize: 5, concurrency: 1 });
    expect(maxInFlight).toBe(1);
  });

  it('resends the events a 207 names as failed until they are stored', async () => {
    const attempts = new Map<string, number>();
    const sent: number[] = [];
    const ingest: IngestFn = async (events) => {
      sent.push(events.length);
      const failed = events
        .map((e) => (e as { id: string }).id)
        .filter((id) => {
          const n = (attempts.get(id) ?? 0) + 1;
          attempts.set(id, n);
          return (id === 'evt_3' || id === 'evt_7') && n <= 2;
        })
        .map((id) => ({ id, reason: 'throttled' }));
      return { received: events.length, written: events.length - failed.length, alreadyStored: 0, conflicts: [], failed };
    };
    const result = await uploadEvents(stream(pending(10)), ingest, { format: 'jsonl', sleep: noSleep });
    expect(result).toEqual({ imported: 10, new: 10, alreadyStored: 0, notStored: [], conflicts: [] });
    expect(sent).toEqual([10, 2, 2]);
  });

  it('gives up after 3 resends and names the events not stored', async () => {
    let calls = 0;
    const ingest: IngestFn = async (events) => {
      calls += 1;
      const failed = events
        .map((e) => (e as { id: string }).id)
        .filter((id) => id === 'evt_4')
        .map((id) => ({ id, reason: 'store unavailable' }));
      return { received: events.length, written: events.length - failed.length, alreadyStored: 0, conflicts: [], failed };
    };
    const result = await uploadEvents(stream(pending(6)), ingest, { format: 'jsonl', sleep: noSleep });
    expect(calls).toBe(4); // the batch, then 3 resends
    expect(result).toEqual({
      imported: 5,
      new: 5,
      alreadyStored: 0,
      notStored: [{ id: 'evt_4', position: 5, reason: 'store unavailable' }],
      conflicts: [],
    });
  });

  it('never resends a conflict, names its file position, and counts repeats apart from new events', async () => {
    const sent: string[][] = [];
    const ingest: IngestFn = async (events) => {
      const ids = events.map((e) => (e as { id: string }).id);
      sent.push(ids);
      const conflicts = ids
        .filter((id) => id === 'evt_2' || id === 'evt_5')
        .map((id) => ({ id, conflict: id === 'evt_2' ? 'time' : 'content', reason: `stored differently: ${id}` }));
      const repeats = ids.filter((id) => id === 'evt_0' || id === 'evt_1').length;
      return {
        received: ids.length,
        written: ids.length - conflicts.length - repeats,
        alreadyStored: repeats,
        conflicts,
        failed: [],
      };
    };
    const result = await uploadEvents(stream(pending(6)), ingest, { format: 'jsonl', batchSize: 3, sleep: noSleep });
    expect(sent.flat().sort()).toEqual(['evt_0', 'evt_1', 'evt_2', 'evt_3', 'evt_4', 'evt_5']);
    expect(result).toEqual({
      imported: 4,
      new: 2,
      alreadyStored: 2,
      notStored: [],
      conflicts: [
        { id: 'evt_2', position: 3, conflict: 'time', reason: 'stored differently: evt_2' },
        { id: 'evt_5', position: 6, conflict: 'content', reason: 'stored differently: evt_5' },
      ],
    });
  });

  it('stops on a rejected batch and names file lines instead of batch indexes', async () => {
    let calls = 0;
    const ingest: IngestFn = async (events) => {
      calls += 1;
      if (calls === 2) {
        throw new ApiError('events[3].timestamp must be ...', 400, {
          title: 'Bad Request',
          errors: [
            {
              field: 'events[3].timestamp',
              rule: 'must be an ISO 8601 UTC timestamp such as 2026-04-20T09:15:32Z',
            },
            { field: 'events[4]', rule: 'must be a JSON object' },
          ],
        });
      }
      return stored(events);
    };
    const error = await rejection(
      uploadEvents(stream(pending(30)), ingest, { format: 'jsonl', batchSize: 10, concurrency: 1 }),
    );
    expect(error).toBeInstanceOf(ApiError);
    expect(error.message).toBe(
      'the API rejected a batch: line 14: timestamp must be an ISO 8601 UTC timestamp such as 2026-04-20T09:15:32Z (and 1 more problem); 10 events were stored before it (importing again is safe)',
    );
    expect(calls).toBe(2);
  });

  it('passes authentication failures through unchanged', async () => {
    const refusal = new AuthError('the API refused the token (401): nope. Check KEEPTRUSTS_API_TOKEN.', 401);
    const ingest: IngestFn = async () => {
      throw refusal;
    };
    await expect(uploadEvents(stream(pending(3)), ingest, { format: 'jsonl' })).rejects.toBe(refusal);
  });

  it('stops reading the file once a batch failed', async () => {
    let read = 0;
    async function* counted() {
      for (const p of pending(10_000)) {
        read += 1;
        yield p;
      }
    }
    const ingest: IngestFn = async () => {
      throw new ApiError('boom', 500, {});
    };
    await expect(uploadEvents(counted(), ingest, { format: 'jsonl', batchSize: 100 })).rejects.toThrow(
      'a batch failed: boom; no events were stored',
    );
    expect(read).toBeLessThan(1000);
  });
});

describe('parseIngestResponse', () => {
  it('accepts the documented shape and rejects anything else', () => {
    expect(
      parseIngestResponse(207, { received: 2, written: 1, failed: [{ id: 'evt_1', reason: 'x' }] }),
    ).toEqual({
      received: 2,
      written: 1,
      alreadyStored: 0,
      conflicts: [],
      failed: [{ id: 'evt_1', reason: 'x' }],
    });
    expect(
      parseIngestResponse(207, {
        received: 3,
        written: 1,
        alreadyStored: 1,
        conflicts: [{ id: 'evt_2', index: 2, conflict: 'time', reason: 'stored at another time' }],
        failed: [],
      }),
    ).toEqual({
      received: 3,
      written: 1,
      alreadyStored: 1,
      conflicts: [{ id: 'evt_2', conflict: 'time', reason: 'stored at another time' }],
      failed: [],
    });
    expect(() =>
      parseIngestResponse(207, { received: 1, written: 0, alreadyStored: 0, conflicts: [{ reason: 'x' }], failed: [] }),
    ).toThrow(ApiError);
    expect(() => parseIngestResponse(200, { ok: true })).toThrow(ApiError);
    expect(() => parseIngestResponse(200, undefined)).toThrow(/not with \{"received","written","failed"\}/);
    expect(() => parseIngestResponse(207, { received: 1, written: 0, failed: [{ reason: 'x' }] })).toThrow(
      ApiError,
    );
  });
});
