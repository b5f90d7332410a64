import type { Principal } from '../../../functions/core/auth/token-record.ts';
import { ForbiddenError, ValidationError } from '../../../functions/core/errors.ts';
import {
  parseRunRequest,
  parseScheduleListQuery,
  parseScheduleRequest,
  scheduleRequestIssues,
} from '../../../functions/core/schedules/schedule.ts';

/** The `POST /v1/export-schedules` body, the run body and the list query, as the API checks them. */

const ADMIN: Principal = { tokenId: 'tok_admin', name: 'admin', scopes: ['admin'] };
const NOW = new Date('2026-04-21T10:00:00Z');
const weekly = { name: 'weekly', cron: '0 2 * * MON', window: '7d', format: 'json' };

function issues(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    if (error instanceof ValidationError) return error.issues;
    throw error;
  }
  throw new Error('expected a ValidationError');
}

describe('parseScheduleRequest', () => {
  it('takes the tutorial schedule, its window normalised', () => {
    expect(parseScheduleRequest({ ...weekly, window: ' 7d ' }, ADMIN, NOW)).toMatchObject({
      name: 'weekly',
      cron: '0 2 * * MON',
      expression: 'cron(0 2 ? * MON *)',
      timezone: 'UTC',
      window: '7d',
      format: 'json',
      filters: {},
      state: 'enabled',
    });
  });

  it("bounds the window by the deployment's longest range", () => {
    expect(issues(() => parseScheduleRequest({ ...weekly, window: '367d' }, ADMIN, NOW))).toEqual([
      { field: 'window', rule: 'must be at most 366 days' },
    ]);
    expect(parseScheduleRequest({ ...weekly, window: '366d' }, ADMIN, NOW).window).toBe('366d');
    expect(
      parseScheduleRequest({ ...weekly, window: '400d' }, ADMIN, NOW, { maxRangeDays: 731 }).window,
    ).toBe('400d');
    expect(
      issues(() => parseScheduleRequest({ ...weekly, window: '31d' }, ADMIN, NOW, { maxRangeDays: 30 })),
    ).toEqual([{ field: 'window', rule: 'must be at most 30 days' }]);
  });

  it('reports every problem at once, each with its field, unknown fields last', () => {
    expect(
      issues(() =>
        parseScheduleRequest(
          {
            extra: 1,
            name: 'no spaces',
            cron: '*/5 * * * *',
            timezone: 'Mars/Olympus',
            window: '8x',
            format: 'xml',
          },
          ADMIN,
          NOW,
        ),
      ),
    ).toEqual([
      { field: 'name', rule: 'must be 1 to 64 letters, digits, _ . or -' },
      { field: 'cron', rule: expect.stringMatching(/5 minutes apart/) },
      { field: 'timezone', rule: 'must be an IANA time zone such as UTC or Europe/Berlin' },
      { field: 'window', rule: 'must be a whole number of hours, days or weeks, such as 24h, 7d or 2w' },
      { field: 'format', rule: 'must be one of json, csv, pdf' },
      {
        field: 'extra',
        rule: 'is not a known field; allowed fields are name, cron, timezone, window, format, title, filters, delivery',
      },
    ]);
  });

  it('refuses another team only for an otherwise valid body', () => {
    const team: Principal = { ...ADMIN, team: 'engineering' };
    expect(() => parseScheduleRequest({ ...weekly, filters: { team: 'finance' } }, team, NOW)).toThrow(
      ForbiddenError,
    );
    expect(
      issues(() => parseScheduleRequest({ ...weekly, window: '', filters: { team: 'finance' } }, team, NOW)),
    ).toEqual([
      { field: 'window', rule: 'must be a whole number of hours, days or weeks, such as 24h, 7d or 2w' },
    ]);
    expect(parseScheduleRequest(weekly, team, NOW).filters).toEqual({ team: 'engineering' });
  });

  it('without the deployment (the CLI) leaves the interval, the window and the buckets to the API', () => {
    expect(
      scheduleRequestIssues(
        { ...weekly, cron: '*/5 * * * *', window: '999d', delivery: { s3Bucket: 'any-bucket' } },
        NOW,
      ),
    ).toEqual([]);
    expect(scheduleRequestIssues({ ...weekly, title: 'x'.repeat(201) }, NOW)).toEqual([
      { field: 'title', rule: 'must be at most 200 characters' },
    ]);
  });
});

describe('parseRunRequest', () => {
  it('defaults to now, to the second; takes a past whole second', () => {
    expect(parseRunRequest({}, new Date('2026-04-21T10:00:00.750Z')).toISOString()).toBe(
      '2026-04-21T10:00:00.000Z',
    );
    expect(parseRunRequest(undefined, NOW)).toEqual(NOW);
    expect(parseRunRequest({ at: '2026-04-20T02:00:00.000Z' }, NOW).toISOString()).toBe(
      '2026-04-20T02:00:00.000Z',
    );
  });

  it.each([
    [{ at: '2026-04-20T02:00:00.5Z' }, 'at', 'must be a whole second, as scheduled times are'],
    [{ at: '2026-04-22T02:00:00Z' }, 'at', 'must not be in the future: that window is not over yet'],
    [{ at: 'monday' }, 'at', 'must be an ISO 8601 UTC timestamp such as 2026-04-20T09:15:32Z'],
    [{ at: '2026-04-20T02:00:00Z', force: true }, 'force', 'is not a known field; allowed fields are at'],
    [[], '(body)', 'must be a JSON object'],
  ])('refuses %j', (body, field, rule) => {
    expect(issues(() => parseRunRequest(body, NOW))).toEqual([{ field, rule }]);
  });
});

describe('parseScheduleListQuery', () => {
  it('takes no parameters, and refuses each one given', () => {
    expect(() => parseScheduleListQuery({})).not.toThrow();
    expect(issues(() => parseScheduleListQuery({ limit: '10', foo: '' }))).toEqual([
      { field: 'limit', rule: 'is not a parameter of the schedule listing (it takes none)' },
      { field: 'foo', rule: 'is not a parameter of the schedule listing (it takes none)' },
    ]);
  });
});
