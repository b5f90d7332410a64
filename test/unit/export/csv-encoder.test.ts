import Papa from 'papaparse';
import { textCell, textOfCell } from '../../../functions/core/export/csv-cell.ts';
import { csvEncoder } from '../../../functions/core/export/csv-encoder.ts';
import { encodeAll } from './encode-all.ts';
import { event, META, stored, storedRaw, TUTORIAL_EVENTS } from './fixtures.ts';

const HEADER = 'id,timestamp,model,policy,action,result,tokens,latency_ms\n';

/** The CSV row for an event that differs from the fixture only in `model`. */
function modelCell(model: string, raw = false): string {
  const value = event({ model });
  const row = csvEncoder.encode(raw ? storedRaw(value) : stored(value), 0);
  const prefix = 'evt_a1b2c3,2026-04-02T08:12:00Z,';
  const suffix = ',pii-redaction,redact,modified,98,312\n';
  expect(row.startsWith(prefix) && row.endsWith(suffix)).toBe(true);
  return row.slice(prefix.length, row.length - suffix.length);
}

describe('csvEncoder: layout', () => {
  it('writes the tutorial output byte for byte', () => {
    expect(encodeAll(csvEncoder, META, TUTORIAL_EVENTS)).toBe(
      [
        'id,timestamp,model,policy,action,result,tokens,latency_ms',
        'evt_a1b2c3,2026-04-02T08:12:00Z,gpt-4o-mini,pii-redaction,redact,modified,98,312',
        'evt_d4e5f6,2026-04-02T09:45:00Z,gpt-4o-mini,pii-redaction,redact,modified,145,285',
        'evt_g7h8i9,2026-04-03T11:20:00Z,gpt-4o,pii-redaction,redact,modified,210,401',
        'evt_j0k1l2,2026-04-03T14:05:00Z,gpt-4o-mini,pii-redaction,redact,modified,87,290',
        '',
      ].join('\n'),
    );
  });

  it('writes only the header line for no events', () => {
    expect(encodeAll(csvEncoder, META, [])).toBe(HEADER);
  });

  it('leaves out team and gateway extras', () => {
    const row = csvEncoder.encode(stored(event({ team: 'secret-team', region: 'eu-west-1' })), 0);
    expect(row).toBe('evt_a1b2c3,2026-04-02T08:12:00Z,gpt-4o-mini,pii-redaction,redact,modified,98,312\n');
  });

  it('writes fractional latency as JavaScript prints it', () => {
    expect(csvEncoder.encode(stored(event({ tokens: 0, latency_ms: 12.5 })), 0)).toMatch(/,0,12\.5\n$/);
  });

  it('has no byte-order mark and no trailer', () => {
    expect(csvEncoder.header(META).charCodeAt(0)).toBe(0x69);
    expect(csvEncoder.trailer(META, 4)).toBe('');
  });
});

describe('csvEncoder: RFC 4180 quoting', () => {
  it.each([
    ['a comma', 'gpt, large', '"gpt, large"'],
    ['a quote', 'the "big" one', '"the ""big"" one"'],
    ['only quotes', '""', '""""""'],
    ['non-ASCII', 'Zürich モデル', 'Zürich モデル'],
    ['an emoji', 'rocket 🚀', 'rocket 🚀'],
    ['a single quote', "o'brien", "o'brien"],
    ['surrounding spaces', ' padded ', ' padded '],
  ])('%s', (_, model, expected) => {
    expect(modelCell(model)).toBe(expected);
  });

  // Validation forbids control characters in labels; the encoder must still keep rows intact.
  it.each([
    ['LF', 'line one\nline two', '"line one\nline two"'],
    ['CRLF', 'line one\r\nline two', '"line one\r\nline two"'],
    ['an inner CR', 'a\rb', '"a\rb"'],
    ['an inner tab', 'a\tb', 'a\tb'],
    ['a leading LF', '\nx', '"\nx"'],
  ])('%s inside a value', (_, model, expected) => {
    expect(modelCell(model, true)).toBe(expected);
  });
});

describe('csvEncoder: formula neutralisation', () => {
  it.each([
    [
      '=HYPERLINK(...)',
      '=HYPERLINK("http://evil.example","click")',
      `"'=HYPERLINK(""http://evil.example"",""click"")"`,
    ],
    ['=SUM', '=1+2', "'=1+2"],
    ['+', '+1', "'+1"],
    ['-', '-cmd', "'-cmd"],
    ['@', '@x', "'@x"],
    ['a comma after =', '=a,b', `"'=a,b"`],
  ])('prefixes %s with a quote', (_, model, expected) => {
    expect(modelCell(model)).toBe(expected);
  });

  it.each([
    ['tab', '\tx', "'\tx"],
    ['CR', '\rx', `"'\rx"`],
  ])('prefixes a leading %s with a quote', (_, model, expected) => {
    expect(modelCell(model, true)).toBe(expected);
  });

  it.each([
    ['in the middle', 'a=b', 'a=b'],
    ['after a space', ' =1', ' =1'],
    ['a full-width equals sign', '＝1', '＝1'],
    ['after a quote that is not a formula', "'a=1", "'a=1"],
  ])('leaves a formula character %s alone', (_, model, expected) => {
    expect(modelCell(model)).toBe(expected);
  });

  it.each([
    ["'=1", "''=1"],
    ["''+1", "'''+1"],
  ])('adds a quote to %s, which only looks neutralised, so one quote always comes off exactly', (model, expected) => {
    expect(modelCell(model)).toBe(expected);
    expect(textOfCell(expected)).toBe(model);
  });

  it.each(['=1', '+1', '-1', '@x', '\tx', "'=1", "'a", 'plain', "''"])('undoes the neutralisation of %p exactly', (value) => {
    expect(textOfCell(Papa.parse<string[]>(textCell(value), { delimiter: ',' }).data[0]![0]!)).toBe(value);
  });

  it('neutralises every text column, not just model', () => {
    const row = csvEncoder.encode(
      storedRaw(event({ id: '=id', timestamp: '+ts', policy: '-p', action: '@a', result: '=r' })),
      0,
    );
    expect(row).toBe("'=id,'+ts,gpt-4o-mini,'-p,'@a,'=r,98,312\n");
  });

  it('keeps negative numbers plain', () => {
    expect(csvEncoder.encode(storedRaw(event({ tokens: -5, latency_ms: -0.5 })), 0)).toMatch(/,-5,-0\.5\n$/);
  });

  it('treats a number written as a string as text', () => {
    expect(csvEncoder.encode(storedRaw(event({ tokens: '-5' })), 0)).toMatch(/,'-5,312\n$/);
  });
});

describe('csvEncoder: corrupt stored events', () => {
  it.each([
    ['a missing column', { model: undefined }, /evt_a1b2c3 has no usable model/],
    ['a null column', { tokens: null }, /has no usable tokens/],
    ['an object in a column', { policy: { name: 'p' } }, /has no usable policy/],
  ])('rejects %s', (_, overrides, message) => {
    expect(() => csvEncoder.encode(storedRaw(event(overrides)), 0)).toThrow(message);
  });

  it('rejects JSON that is not an object', () => {
    expect(() => csvEncoder.encode({ sortKey: 'k', json: '[1]' }, 0)).toThrow(/k is not a JSON object/);
  });
});
