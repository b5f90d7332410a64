import { Cron } from 'croner';
import { ValidationError } from '../../../functions/core/errors.ts';
import {
  nextRuns,
  parseScheduleExpression,
  unixToAws,
} from '../../../functions/core/schedules/cron.ts';
import { describeSchedule } from '../../../functions/core/schedules/describe.ts';

/**
 * The conversion is checked against croner itself: the unix expression's next 50 fire times
 * (croner reading it as unix cron: Sunday = 0 or 7, day-of-month OR day-of-week) must equal the
 * converted AWS expression's, evaluated here independently of the code under test (croner's
 * Quartz weekday mode numbers days 1-7 from Sunday, as EventBridge does; `?` means no restriction).
 */

const START = new Date('2026-01-01T00:00:00Z');
const RUNS = 50;

function unixTimes(expression: string, timezone = 'UTC'): string[] {
  return new Cron(expression, { timezone }).nextRuns(RUNS, START).map((d) => d.toISOString());
}

/** EventBridge semantics, written out here rather than taken from cron.ts. */
function awsTimes(aws: string, timezone = 'UTC'): string[] {
  const match = /^cron\((\S+) (\S+) (\S+) (\S+) (\S+) (\S+)\)$/.exec(aws);
  if (match === null) throw new Error(`not an AWS cron expression: ${aws}`);
  const [, minute, hour, dom, month, dow, year] = match;
  const noRestriction = (field: string) => (field === '?' ? '*' : field);
  const pattern = ['0', minute, hour, noRestriction(dom!), month, noRestriction(dow!), year].join(' ');
  return new Cron(pattern, {
    timezone,
    mode: '7-part',
    alternativeWeekdays: true,
    sloppyRanges: true,
    domAndDow: true,
  })
    .nextRuns(RUNS, START)
    .map((d) => d.toISOString());
}

const CONVERSIONS: readonly [string, string][] = [
  ['0 2 * * MON', 'cron(0 2 ? * MON *)'],
  ['0 2 * * *', 'cron(0 2 * * ? *)'],
  ['0 2 1 * *', 'cron(0 2 1 * ? *)'],
  ['30 */2 * * *', 'cron(30 0/2 * * ? *)'],
  ['0 9-17 * * MON-FRI', 'cron(0 9-17 ? * MON-FRI *)'],
  ['0 9-17 * * 1-5', 'cron(0 9-17 ? * MON-FRI *)'],
  ['0 0 * * 0', 'cron(0 0 ? * SUN *)'],
  ['0 0 * * 7', 'cron(0 0 ? * SUN *)'],
  ['0 0 * * 5-7', 'cron(0 0 ? * SUN,FRI,SAT *)'],
  ['0 0 * * 1,3,5', 'cron(0 0 ? * MON,WED,FRI *)'],
  ['0 0 * * */2', 'cron(0 0 ? * SUN,TUE,THU,SAT *)'],
  ['0 12 * * sun', 'cron(0 12 ? * SUN *)'],
  ['0 12 * * 6', 'cron(0 12 ? * SAT *)'],
  ['15 3 1,15 * *', 'cron(15 3 1,15 * ? *)'],
  ['0 6 * JAN,JUL *', 'cron(0 6 * 1,7 ? *)'],
  ['0 6 1 */3 *', 'cron(0 6 1 1/3 ? *)'],
  ['0 6 1 jan-mar *', 'cron(0 6 1 JAN-MAR ? *)'],
  ['0 0 1-7/2 * *', 'cron(0 0 1,3,5,7 * ? *)'],
  ['45 23 * * 2-4', 'cron(45 23 ? * TUE-THU *)'],
  ['0 0,12 * * *', 'cron(0 0,12 * * ? *)'],
  ['0 1-23/6 * * *', 'cron(0 1,7,13,19 * * ? *)'],
  ['5 4 31 * *', 'cron(5 4 31 * ? *)'],
  ['@hourly', 'cron(0 * * * ? *)'],
  ['@daily', 'cron(0 0 * * ? *)'],
  ['@midnight', 'cron(0 0 * * ? *)'],
  ['@weekly', 'cron(0 0 ? * SUN *)'],
  ['@monthly', 'cron(0 0 1 * ? *)'],
  ['@yearly', 'cron(0 0 1 1 ? *)'],
  ['@annually', 'cron(0 0 1 1 ? *)'],
];

describe('unix cron → EventBridge cron(...)', () => {
  it.each(CONVERSIONS)('%s → %s, firing at the same 50 times', (unix, aws) => {
    expect(unixToAws(unix)).toBe(aws);
    expect(awsTimes(aws)).toEqual(unixTimes(unix));
    expect(parseScheduleExpression(unix, { now: START }).aws).toBe(aws);
  });

  it.each(CONVERSIONS.filter(([unix]) => !unix.startsWith('*')))('%s fires the same in Europe/Berlin', (unix, aws) => {
    expect(awsTimes(aws, 'Europe/Berlin')).toEqual(unixTimes(unix, 'Europe/Berlin'));
  });

  it('the comparison catches a wrong weekday numbering (it can fail)', () => {
    // Unix 1 = Monday; the same number in EventBridge is Sunday.
    expect(awsTimes('cron(0 2 ? * 1 *)')).not.toEqual(unixTimes('0 2 * * 1'));
    expect(awsTimes('cron(0 2 ? * 2 *)')).toEqual(unixTimes('0 2 * * 1'));
  });

  it('nextRuns (used by the local scheduler and `nextRun`) agrees with the independent evaluation', () => {
    for (const [, aws] of CONVERSIONS) {
      expect(nextRuns(aws, 'UTC', START, RUNS).map((d) => d.toISOString())).toEqual(awsTimes(aws));
    }
  });
});

describe('EventBridge expressions are accepted as given', () => {
  it.each([
    'cron(0 2 ? * MON *)',
    'cron(0 8 ? * 6#2 *)',
    'cron(0 0 L * ? *)',
    'cron(30 6 ? * 2-6 *)',
  ])('%s', (aws) => {
    const parsed = parseScheduleExpression(aws, { now: START });
    expect(parsed.aws).toBe(aws);
    expect(nextRuns(parsed.aws, 'UTC', START, RUNS).map((d) => d.toISOString())).toEqual(awsTimes(aws));
  });
});

describe('refused, with the reason', () => {
  it.each([
    ['0 2 1 * MON', /both day-of-month \(1\) and day-of-week \(MON\)/],
    ['0 2 */2 * 1-5', /both day-of-month/],
    ['*/30 * * * *', /30 minutes apart.*at most every 60 minutes/],
    ['* * * * *', /1 minute apart/],
    ['0,30 9 * * *', /30 minutes apart/],
    ['cron(0/15 * * * ? *)', /15 minutes apart/],
    ['rate(1 hour)', /rate\(\) and at\(\)/],
    ['0 2 * *', /must have 5 fields/],
    ['0 25 * * *', /hour field "25" must be within 0-23/],
    ['0 2 * * FUNDAY', /unknown value "FUNDAY"/],
    ['0 2 5-1 * *', /runs backwards/],
    ['@reboot', /not a schedule/],
    ['cron(0 2 * * MON *)', /exactly one of day-of-month and day-of-week to \?/],
    ['cron(0 2 ? * MON)', /6 fields/],
    ['', /is required|must be a cron expression/],
  ])('%s', (expression, reason) => {
    let error: unknown;
    try {
      parseScheduleExpression(expression, { now: START });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).issues[0]?.field).toBe('cron');
    expect((error as ValidationError).issues[0]?.rule).toMatch(reason);
  });

  it('the minimum interval is configurable', () => {
    expect(parseScheduleExpression('*/30 * * * *', { now: START, minIntervalMinutes: 30 }).aws).toBe(
      'cron(0/30 * * * ? *)',
    );
    expect(() => parseScheduleExpression('0 */2 * * *', { now: START, minIntervalMinutes: 180 })).toThrow(
      /120 minutes apart/,
    );
  });
});

describe('describeSchedule', () => {
  it.each([
    ['0 2 * * MON', 'UTC', 'Every Monday at 02:00 UTC'],
    ['0 2 * * *', 'UTC', 'Every day at 02:00 UTC'],
    ['0 2 1 * *', 'UTC', 'On day 1 of every month at 02:00 UTC'],
    ['30 6 * * 1-5', 'Europe/Berlin', 'Every weekday (Monday to Friday) at 06:30 Europe/Berlin'],
    ['0 0 * * 1,3', 'UTC', 'Every Monday and Wednesday at 00:00 UTC'],
    ['@hourly', 'UTC', 'Every hour at minute 0'],
    ['@yearly', 'UTC', 'Every year on January 1 at 00:00 UTC'],
    ['0 0,12 * * *', 'UTC', 'cron(0 0,12 * * ? *) UTC'],
  ])('%s in %s → %s', (unix, timezone, words) => {
    expect(describeSchedule(unixToAws(unix), timezone)).toBe(words);
  });

  it('an AWS expression with weekday numbers reads as names', () => {
    expect(describeSchedule('cron(0 2 ? * 2 *)', 'UTC')).toBe('Every Monday at 02:00 UTC');
  });
});
