import {
  canShowProgress,
  formatBytes,
  formatColumns,
  formatCount,
  formatFields,
  formatQuantity,
  isHumanOutput,
  printJson,
  printSuccess,
} from '../../../cli/output.ts';
import { memoryIo } from './helpers.ts';

describe('formatCount', () => {
  it.each([
    [0, '0'],
    [999, '999'],
    [1247, '1,247'],
    [12500, '12,500'],
    [1234567, '1,234,567'],
  ])('%d → %s', (value, text) => {
    expect(formatCount(value)).toBe(text);
  });

  it('pluralises quantities', () => {
    expect(formatQuantity(1, 'event')).toBe('1 event');
    expect(formatQuantity(0, 'event')).toBe('0 events');
    expect(formatQuantity(12500, 'event')).toBe('12,500 events');
  });
});

describe('formatBytes', () => {
  it.each([
    [0, '0 B'],
    [999, '999 B'],
    [1000, '1.0 kB'],
    [12_500, '12.5 kB'],
    [2_300_000, '2.3 MB'],
    [2_345_678, '2.3 MB'],
    [234_000_000, '234 MB'],
    [999_950, '1.0 MB'],
    [5_000_000_000, '5.0 GB'],
  ])('%d → %s (decimal units)', (value, text) => {
    expect(formatBytes(value)).toBe(text);
  });
});

describe('formatColumns', () => {
  it('pads every column to its widest cell with no trailing spaces', () => {
    const lines = formatColumns([
      ['ID', 'Format', 'Status', 'Records', 'Created'],
      ['exp_abc123', 'json', 'completed', '1,247', '2026-04-23T14:30:00Z'],
      ['exp_def456', 'csv', 'queued', '312', '2026-04-23T14:35:00Z'],
    ]);
    expect(lines).toEqual([
      'ID          Format  Status     Records  Created',
      'exp_abc123  json    completed  1,247    2026-04-23T14:30:00Z',
      'exp_def456  csv     queued     312      2026-04-23T14:35:00Z',
    ]);
  });

  it('right-aligns the columns asked for and counts code points, not UTF-16 units', () => {
    const lines = formatColumns(
      [
        ['Name', 'Records'],
        ['café→x', '5'],
        ['b', '1,247'],
      ],
      { align: ['left', 'right'] },
    );
    expect(lines).toEqual(['Name    Records', 'café→x        5', 'b         1,247']);
  });

  it('returns no lines for no rows', () => {
    expect(formatColumns([])).toEqual([]);
  });
});

describe('printing', () => {
  it('writes the tutorial success line and tutorial-style fields', () => {
    const io = memoryIo();
    printSuccess(io, 'Export job created');
    expect(io.out()).toBe('✓ Export job created\n');
    expect(
      formatFields([
        ['Job ID', 'exp_abc123'],
        ['Delivery', undefined],
        ['Status', 'queued'],
      ]),
    ).toEqual(['Job ID: exp_abc123', 'Status: queued']);
  });

  it('writes one compact JSON document per line', () => {
    const io = memoryIo();
    printJson(io, { imported: 12500, file: 'events.jsonl' });
    expect(io.out()).toBe('{"imported":12500,"file":"events.jsonl"}\n');
  });

  it('shows progress only for human output on a terminal stderr outside CI', () => {
    expect(isHumanOutput('human')).toBe(true);
    expect(isHumanOutput(undefined)).toBe(true);
    expect(isHumanOutput('json')).toBe(false);
    expect(canShowProgress(memoryIo({}, true), 'human')).toBe(true);
    expect(canShowProgress(memoryIo({}, true), 'json')).toBe(false);
    expect(canShowProgress(memoryIo({}, false), 'human')).toBe(false);
    expect(canShowProgress(memoryIo({ CI: 'true' }, true), 'human')).toBe(false);
  });
});
