import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import {
  describePosition,
  detectEventFileFormat,
  EventFileError,
  readEventFile,
} from '../../../cli/event-file.ts';
import { exitCodeFor } from '../../../cli/errors.ts';
import { collect, event, jsonLines, rejection, tempDir } from './helpers.ts';

const dir = tempDir();
afterAll(() => dir.cleanup());

describe('detectEventFileFormat', () => {
  it('tells a JSON array from JSON Lines by the first non-whitespace character', async () => {
    expect(await detectEventFileFormat(dir.write('a.json', ' \n\t[{"id":1}]'))).toBe('array');
    expect(await detectEventFileFormat(dir.write('b.jsonl', '\n{"id":1}\n'))).toBe('jsonl');
    expect(await detectEventFileFormat(dir.write('bom.json', '\ufeff[1]'))).toBe('array');
    expect(await detectEventFileFormat(dir.write('ws.json', `${' '.repeat(100_000)}[1]`))).toBe('array');
  });

  it('rejects empty and whitespace-only files with one line (exit 1)', async () => {
    const empty = await rejection(detectEventFileFormat(dir.write('empty.jsonl', '')));
    expect(empty).toBeInstanceOf(EventFileError);
    expect(empty.message).toMatch(/empty\.jsonl is empty: expected JSON Lines or a JSON array of events$/);
    expect(exitCodeFor(empty)).toBe(1);
    await expect(detectEventFileFormat(dir.write('blank.jsonl', '\n  \n\r\n'))).rejects.toThrow(/is empty/);
  });

  it('names a missing file, a directory and an unreadable file', async () => {
    const missing = await rejection(detectEventFileFormat(dir.path('nope.jsonl')));
    expect(missing).toBeInstanceOf(EventFileError);
    expect(missing.message).toBe(`cannot read ${dir.path('nope.jsonl')}: no such file`);
    const directory = await rejection(readEventFile(dir.path('.'), { format: 'jsonl' }).next());
    expect(directory.message).toMatch(/it is a directory, not a file$/);
  });
});

describe('readEventFile: JSON Lines', () => {
  it('yields one value per line with its line number, skipping blank lines, CRLF and a BOM', async () => {
    const file = dir.write('mixed.jsonl', `\ufeff{"id":"evt_1"}\r\n\r\n  \n{"id":"evt_2"}\n{"id":"evt_3"}`);
    expect(await collect(readEventFile(file))).toEqual([
      { position: 1, value: { id: 'evt_1' } },
      { position: 4, value: { id: 'evt_2' } },
      { position: 5, value: { id: 'evt_3' } },
    ]);
  });

  it('reassembles lines split across read chunks, including multi-byte characters', async () => {
    const values = Array.from({ length: 50 }, (_, i) => event(i, { team: `équipe-✓-${'x'.repeat(i * 7)}` }));
    const file = dir.write('chunks.jsonl', jsonLines(values));
    const records = await collect(readEventFile(file, { highWaterMark: 7 }));
    expect(records.map((r) => r.value)).toEqual(values);
    expect(records.map((r) => r.position)).toEqual(values.map((_, i) => i + 1));
  });

  it('reports the line number of malformed JSON', async () => {
    const lines = [event(1), event(2), event(3)].map((v) => JSON.stringify(v));
    lines.splice(2, 0, '{"id": "evt_x", "tokens": }');
    const file = dir.write('malformed.jsonl', `${lines.join('\n')}\n`);
    const error = await rejection(collect(readEventFile(file)));
    expect(error).toBeInstanceOf(EventFileError);
    expect(error.message).toMatch(
      /malformed\.jsonl: line 3 is not valid JSON \(.+\); each line must hold one complete JSON event$/,
    );
    expect(error.message).not.toContain('\n');
  });

  it('says that a pretty-printed object is not JSON Lines, at its first line', async () => {
    const file = dir.write('pretty.jsonl', JSON.stringify(event(1), null, 2));
    await expect(collect(readEventFile(file))).rejects.toThrow(/pretty\.jsonl: line 1 is not valid JSON/);
  });

  it('refuses an overlong line instead of buffering it', async () => {
    const file = dir.write('long.jsonl', `${JSON.stringify(event(1))}\n"${'x'.repeat(5000)}"\n`);
    await expect(collect(readEventFile(file, { maxLineBytes: 1000, highWaterMark: 256 }))).rejects.toThrow(
      /long\.jsonl: line 2 is longer than 1000 bytes/,
    );
  });

  it('counts bytes read for progress', async () => {
    const text = jsonLines([event(1), event(2)]);
    let bytes = 0;
    await collect(readEventFile(dir.write('bytes.jsonl', text), { onBytes: (n) => (bytes += n) }));
    expect(bytes).toBe(Buffer.byteLength(text));
  });
});

describe('readEventFile: JSON array', () => {
  it('streams the items with their item numbers from 1', async () => {
    const values = [event(1), event(2), { not: 'an event' }, 42];
    for (const [name, text] of [
      ['compact.json', JSON.stringify(values)],
      ['pretty.json', JSON.stringify(values, null, 2)],
      ['crlf.json', JSON.stringify(values, null, 2).replaceAll('\n', '\r\n')],
    ] as const) {
      const records = await collect(readEventFile(dir.write(name, text), { highWaterMark: 16 }));
      expect(records).toEqual(values.map((value, i) => ({ position: i + 1, value })));
    }
  });

  it('stops cleanly when the consumer stops early', async () => {
    const file = dir.write(
      'early.json',
      JSON.stringify(
        Array.from({ length: 2000 }, (_, i) => event(i)),
        null,
        2,
      ),
    );
    const seen: number[] = [];
    for await (const record of readEventFile(file, { highWaterMark: 1024 })) {
      seen.push(record.position);
      if (seen.length === 3) break;
    }
    expect(seen).toEqual([1, 2, 3]);
  });

  it.each([
    [
      'a trailing comma in an object',
      ['[', '  {"id": "evt_1"},', '  {"id": "evt_2",}', ']'],
      3,
      /unexpected token '}'/,
    ],
    [
      'a bad value followed by more lines (parser lookahead)',
      ['[', '{"id": "evt_1", "tokens": nope}', ',', '{"id": "evt_2"}', ']'],
      2,
      /expected a value/,
    ],
    [
      'a bad value whose line is short',
      ['[', '  {"a": 1},', '  x,', '  {"b": 2}', ']'],
      3,
      /expected a value/,
    ],
    ['a missing comma between items', ['[', '{"id": "evt_1"}', '{"id": "evt_2"}', ']'], 3, /expected ','/],
    ['garbage after the array', ['[', '{"id": "evt_1"}', '] trailing'], 3, /unexpected characters/],
    ['a raw newline inside a string', ['[', '{"id": "evt', '_1"}', ']'], 2, /not valid JSON/],
  ])('reports the line of %s', async (_what, lines, line, reason) => {
    const file = dir.write('broken.json', `${lines.join('\n')}\n`);
    const error = await rejection(collect(readEventFile(file)));
    expect(error).toBeInstanceOf(EventFileError);
    expect(error.message).toMatch(new RegExp(`broken\\.json: line ${line} is not valid JSON`));
    expect(error.message).toMatch(reason);
  });

  it('reports the right line deep inside a large file', async () => {
    const lines = Array.from({ length: 30_000 }, (_, i) => JSON.stringify(event(i)));
    lines[20_000] = '{"id": "evt_bad", "tokens": nope}';
    const file = dir.write('deep.json', `[\n${lines.join(',\n')}\n]\n`);
    // item i sits on line i + 2
    await expect(collect(readEventFile(file))).rejects.toThrow(/deep\.json: line 20002 is not valid JSON/);
  });

  it('reports an array that the file ends inside of', async () => {
    const file = dir.write('cut.json', '[\n{"id": "evt_1"},\n{"id": "evt_2"}\n');
    await expect(collect(readEventFile(file))).rejects.toThrow(
      /cut\.json: line 4: the file ends before the JSON array is closed/,
    );
    const mid = dir.write('cut2.json', '[\n{"id": "evt_1"},\n{"id": "ev');
    await expect(collect(readEventFile(mid))).rejects.toThrow(/cut2\.json: line 3/);
  });

  it('rejects an empty array', async () => {
    await expect(collect(readEventFile(dir.write('none.json', ' [ ] ')))).rejects.toThrow(
      /none\.json holds an empty JSON array/,
    );
  });

  it('labels positions as lines or items', () => {
    expect(describePosition('jsonl', 12)).toBe('line 12');
    expect(describePosition('array', 12)).toBe('item 12');
  });
});

describe('readEventFile: large files are streamed', () => {
  const EVENTS = 200_000;
  // Lets the test collect garbage so it measures what the reader retains, not what it churns.
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;

  async function writeLargeFile(
    name: string,
    format: 'jsonl' | 'array',
  ): Promise<{ file: string; bytes: number }> {
    const file = dir.path(name);
    const out = createWriteStream(file);
    let bytes = 0;
    const write = async (text: string) => {
      bytes += Buffer.byteLength(text);
      if (!out.write(text)) await once(out, 'drain');
    };
    if (format === 'array') await write('[\n');
    for (let i = 0; i < EVENTS; i += 1) {
      const line = JSON.stringify(event(i, { note: `padding so the file is large ${'·'.repeat(80)}` }));
      await write(format === 'array' ? `${i > 0 ? ',\n' : ''}${line}` : `${line}\n`);
    }
    if (format === 'array') await write('\n]\n');
    out.end();
    await once(out, 'finish');
    return { file, bytes };
  }

  const retained = () => {
    gc();
    const usage = process.memoryUsage();
    return usage.heapUsed + usage.arrayBuffers;
  };

  it.each(['jsonl', 'array'] as const)(
    'reads 200k events (%s) with memory growth far below the file size',
    async (format) => {
      const { file, bytes } = await writeLargeFile(`large.${format}`, format);
      expect(bytes).toBeGreaterThan(60_000_000);
      const before = retained();
      let peak = 0;
      let count = 0;
      let lastPosition = 0;
      for await (const record of readEventFile(file)) {
        count += 1;
        lastPosition = record.position;
        if (count % 25_000 === 0) peak = Math.max(peak, retained() - before);
      }
      expect(count).toBe(EVENTS);
      expect(lastPosition).toBe(EVENTS);
      // Holding the file (or its parsed events) would retain well over 60 MB.
      expect(peak).toBeLessThan(16 * 1024 * 1024);
    },
    120_000,
  );
});
