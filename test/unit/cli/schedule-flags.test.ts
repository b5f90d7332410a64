import { UsageError } from '../../../cli/errors.ts';
import { listLines } from '../../../cli/export/render.ts';
import type { ExportJobView } from '../../../cli/export/job-view.ts';
import { scheduleBody } from '../../../cli/export/schedule-actions.ts';

/** `kt export schedule` flags → the POST body, and the usage errors caught before any request. */

describe('scheduleBody', () => {
  it('the tutorial command', () => {
    expect(
      scheduleBody({
        name: 'weekly-compliance',
        cron: '0 2 * * MON',
        window: '7d',
        format: 'json',
        s3Bucket: 'compliance-artifacts',
        s3Prefix: 'keeptrusts/weekly/',
      }),
    ).toEqual({
      name: 'weekly-compliance',
      cron: '0 2 * * MON',
      window: '7d',
      format: 'json',
      delivery: { s3Bucket: 'compliance-artifacts', s3Prefix: 'keeptrusts/weekly/' },
    });
  });

  it.each([
    [{ interval: 'daily', format: 'json' }, { name: 'daily-json', cron: '0 2 * * *', window: '1d' }],
    [{ interval: 'weekly', format: 'csv' }, { name: 'weekly-csv', cron: '0 2 * * MON', window: '7d' }],
    [{ interval: 'monthly', format: 'json', window: '31d', name: 'm' }, { name: 'm', cron: '0 2 1 * *', window: '31d' }],
  ])('--interval %j', (flags, expected) => {
    expect(scheduleBody(flags)).toMatchObject(expected);
  });

  it('filters from either spelling, a time zone and a title', () => {
    expect(
      scheduleBody({ name: 'n', cron: '@daily', window: '1d', format: 'csv', team: 'eng', filterPolicy: 'pii', timezone: 'Europe/Berlin', title: 'T' }),
    ).toEqual({
      name: 'n',
      cron: '@daily',
      window: '1d',
      format: 'csv',
      timezone: 'Europe/Berlin',
      title: 'T',
      filters: { team: 'eng', policy: 'pii' },
    });
  });

  it.each([
    [{ format: 'json', window: '7d', name: 'n' }, /--cron or --interval is required/],
    [{ cron: '0 2 * * *', interval: 'daily', format: 'json' }, /either --cron or --interval, not both/],
    [{ cron: '0 2 * * *', window: '1d' }, /--format is required/],
    [{ cron: '0 2 * * *', format: 'json', name: 'n' }, /--window is required/],
    [{ interval: 'monthly', format: 'json' }, /--window is required with --interval monthly/],
    [{ cron: '0 2 * * *', format: 'json', window: '1d' }, /--name is required with --cron/],
    [{ interval: 'hourly', format: 'json' }, /--interval must be one of daily, weekly, monthly/],
    [{ interval: 'daily', format: 'json', s3Prefix: 'a/' }, /--s3-prefix and --s3-region need --s3-bucket/],
    [{ interval: 'daily', format: 'json', team: 'a', filterTeam: 'b' }, /same filter/],
    // The API's own schema, before anything is sent.
    [{ interval: 'daily', format: 'json', title: 'x'.repeat(201) }, /^--title must be at most 200 characters$/],
    [{ name: 'a b', cron: '0 2 * * *', window: '1d', format: 'json' }, /^--name must be 1 to 64 letters/],
    [{ name: 'n', cron: '0 2 1 * MON', window: '1d', format: 'json' }, /^--cron restricts both day-of-month/],
    [{ name: 'n', cron: '0 2 * * *', window: '1 day', format: 'json' }, /^--window must be a whole number of hours/],
    [{ interval: 'daily', format: 'json', timezone: 'Mars/Olympus' }, /^--timezone must be an IANA time zone/],
    [{ interval: 'daily', format: 'json', s3Bucket: 'b', s3Prefix: 'a/../b/' }, /^--s3-bucket must be a bucket name$/],
    [{ interval: 'daily', format: 'json', s3Bucket: 'bucket', s3Prefix: '/abs/' }, /^--s3-prefix "\/abs\/" must not start with \//],
  ])('%j is a usage error', (flags, message) => {
    expect(() => scheduleBody(flags)).toThrow(UsageError);
    expect(() => scheduleBody(flags)).toThrow(message);
  });
});

describe('kt export list with scheduled runs', () => {
  const job = (id: string, schedule?: string): ExportJobView => ({
    id,
    status: 'completed',
    format: 'json',
    range: { from: '2026-04-13T02:00:00Z', to: '2026-04-20T01:59:59.999999999Z' },
    records: 12,
    created: '2026-04-20T02:00:01.123Z',
    ...(schedule === undefined ? {} : { schedule }),
  });

  it('adds a Schedule column only when a listed job is a scheduled run', () => {
    expect(listLines([job('exp_a')])[0]).toBe('ID     Format  Status     Records  Created');
    const lines = listLines([job('exp_a'), job('exp_b', 'weekly')]);
    expect(lines[0]).toMatch(/Created\s+Schedule$/);
    expect(lines[1]).toMatch(/\s-$/);
    expect(lines[2]).toMatch(/\sweekly$/);
  });
});
