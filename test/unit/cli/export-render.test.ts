import { type ExportJobView, readJobList, readJobView } from '../../../cli/export/job-view.ts';
import { createdLines, listLines, statusLines, toSecond, wholePercent } from '../../../cli/export/render.ts';
import { ApiError } from '../../../cli/errors.ts';
import { ID, jobView } from './export-fixtures.ts';

const view = (overrides: Record<string, unknown> = {}): ExportJobView => readJobView(jobView(overrides));

describe('toSecond', () => {
  it.each([
    ['2026-04-23T14:30:00.123Z', '2026-04-23T14:30:00Z'],
    ['2026-04-23T14:30:12.999Z', '2026-04-23T14:30:12Z'], // truncated, never rounded up
    ['2026-04-23T14:30:00Z', '2026-04-23T14:30:00Z'],
    ['2026-04-23T16:30:00.5+02:00', '2026-04-23T14:30:00Z'],
    ['not a time', 'not a time'],
  ])('%s → %s', (instant, printed) => {
    expect(toSecond(instant)).toBe(printed);
  });
});

describe('createdLines', () => {
  it('prints the tutorial block for a new job', () => {
    const queued = view({ status: 'queued', records: 0, bytes: undefined, completed: undefined });
    expect(createdLines(queued)).toEqual([
      `Job ID: ${ID}`,
      'Format: json',
      'Status: queued',
      'Range: 2026-04-16T00:00:00Z → 2026-04-23T23:59:59Z',
    ]);
  });

  it('adds Title, Team and Policy after Range, only when set, and prints the range as given', () => {
    const filtered = view({
      status: 'queued',
      format: 'csv',
      title: 'Q2 2026 AI Compliance Report',
      range: { from: '2026-04-01T00:00:00.000Z', to: '2026-04-23T23:59:59Z' },
      filters: { team: 'engineering', policy: 'content-filter' },
    });
    expect(createdLines(filtered)).toEqual([
      `Job ID: ${ID}`,
      'Format: csv',
      'Status: queued',
      'Range: 2026-04-01T00:00:00.000Z → 2026-04-23T23:59:59Z',
      'Title: Q2 2026 AI Compliance Report',
      'Team: engineering',
      'Policy: content-filter',
    ]);
    expect(createdLines(view({ filters: { policy: 'pii-redaction' } })).slice(4)).toEqual([
      'Policy: pii-redaction',
    ]);
  });

  it('keeps hostile text on one line without control characters', () => {
    const lines = createdLines(view({ title: 'Q2\u001b[2J\nreport' }));
    expect(lines).toContain('Title: Q2[2J report');
  });
});

describe('statusLines', () => {
  it('prints the tutorial block for a completed job', () => {
    expect(statusLines(view())).toEqual([
      `Export: ${ID}`,
      'Status: completed',
      'Format: json',
      'Records: 1,247',
      'File size: 2.3 MB',
      'Created: 2026-04-23T14:30:00Z',
      'Completed: 2026-04-23T14:30:12Z',
    ]);
  });

  it("names a PDF report's companion CSV after the report's size", () => {
    const pdf = view({
      format: 'pdf',
      companion: { name: `${ID}.csv`, bytes: 184_320, sha256: 'c'.repeat(64) },
    });
    expect(statusLines(pdf).slice(4, 6)).toEqual([
      'File size: 2.3 MB',
      `Companion: ${ID}.csv (184 kB, every record; kt export download --companion)`,
    ]);
    expect(() => readJobView(jobView({ companion: { name: 'x.csv' } }))).toThrow(ApiError);
  });

  it('shows progress while running, and no size or completion yet', () => {
    const running = view({
      status: 'running',
      records: 500,
      bytes: undefined,
      completed: undefined,
      progress: { percent: 42.9, through: '2026-04-19T00:00:00Z' },
    });
    expect(statusLines(running)).toEqual([
      `Export: ${ID}`,
      'Status: running',
      'Progress: 42%',
      'Format: json',
      'Records: 500',
      'Created: 2026-04-23T14:30:00Z',
    ]);
  });

  it('labels the end of a failed job Failed and gives its reason', () => {
    const failed = view({
      status: 'failed',
      records: 0,
      bytes: undefined,
      error: { reason: 'DynamoDB throttled the export\nafter 5 retries', state: 'ExportPage' },
    });
    expect(statusLines(failed)).toEqual([
      `Export: ${ID}`,
      'Status: failed',
      'Format: json',
      'Records: 0',
      'Created: 2026-04-23T14:30:00Z',
      'Failed: 2026-04-23T14:30:12Z',
      'Error: DynamoDB throttled the export after 5 retries',
    ]);
  });

  it('adds Deleted for a deleted job', () => {
    expect(statusLines(view({ status: 'deleted', deleted: '2026-04-24T08:00:00.001Z' })).slice(1)).toEqual([
      'Status: deleted',
      'Format: json',
      'Records: 1,247',
      'File size: 2.3 MB',
      'Created: 2026-04-23T14:30:00Z',
      'Completed: 2026-04-23T14:30:12Z',
      'Deleted: 2026-04-24T08:00:00Z',
    ]);
  });
});

describe('listLines', () => {
  it('aligns the tutorial columns with counts right-aligned', () => {
    const jobs = [
      view(),
      view({ id: 'exp_def456', format: 'csv', records: 312, created: '2026-04-23T14:35:00.500Z' }),
      view({ id: 'exp_ghi789', format: 'pdf', status: 'running', records: 12_500 }),
    ];
    expect(listLines(jobs)).toEqual([
      'ID                        Format  Status     Records  Created',
      `${ID}  json    completed    1,247  2026-04-23T14:30:00Z`,
      'exp_def456                csv     completed      312  2026-04-23T14:35:00Z',
      'exp_ghi789                pdf     running     12,500  2026-04-23T14:30:00Z',
    ]);
    // The tutorial's words, in its order, once the padding is collapsed.
    expect(listLines(jobs.slice(1, 2)).map((l) => l.replace(/ +/g, ' '))).toEqual([
      'ID Format Status Records Created',
      'exp_def456 csv completed 312 2026-04-23T14:35:00Z',
    ]);
  });
});

describe('wholePercent', () => {
  it.each([
    [99.99, 99],
    [-5, 0],
    [250, 100],
    [Number.NaN, 0],
  ])('%d → %d', (input, output) => {
    expect(wholePercent(input)).toBe(output);
  });
});

describe('readJobView / readJobList', () => {
  it('rejects answers that are not job views with a one-line ApiError', () => {
    expect(() => readJobView({ id: ID, status: 'done' })).toThrow(ApiError);
    expect(() => readJobView(jobView({ records: '12' }))).toThrow('"records" is not a number');
    expect(() => readJobList({ exports: [jobView(), { id: 'x' }] })).toThrow(/exports\[1\]/);
    expect(() => readJobList({ items: [] })).toThrow('no "exports" array');
    expect(readJobList({ exports: [jobView()], cursor: 'c1' }).cursor).toBe('c1');
  });
});
