import { awsFields } from './cron.ts';

/**
 * A schedule in words, as the tutorial prints it: "Every Monday at 02:00 UTC". It covers every
 * expression `--interval` produces and the common shapes beside them; anything else is shown as
 * the cron expression itself, which is exact where a paraphrase might mislead.
 */

const DAY_NAMES: Readonly<Record<string, string>> = {
  SUN: 'Sunday',
  MON: 'Monday',
  TUE: 'Tuesday',
  WED: 'Wednesday',
  THU: 'Thursday',
  FRI: 'Friday',
  SAT: 'Saturday',
};
// EventBridge numbers weekdays 1-7 from Sunday.
const DAY_NUMBERS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];
const MONTH_NAMES = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
];

export function describeSchedule(aws: string, timezone: string): string {
  const [minute, hour, dom, month, dow, year] = awsFields(aws);
  const zone = timezone === 'UTC' || timezone === 'Etc/UTC' ? 'UTC' : timezone;
  const fallback = `${aws} ${zone}`;
  if (year !== '*' || !isNumber(minute, 59)) return fallback;
  if (hour === '*' && dom === '*' && month === '*' && dow === '?') return `Every hour at minute ${Number(minute)}`;
  if (!isNumber(hour, 23)) return fallback;
  const at = `at ${pad(hour)}:${pad(minute)} ${zone}`;
  if (month === '*' && dow === '?') {
    if (dom === '*') return `Every day ${at}`;
    if (isNumber(dom, 31) && Number(dom) >= 1) return `On day ${Number(dom)} of every month ${at}`;
    if (dom === 'L') return `On the last day of every month ${at}`;
    return fallback;
  }
  if (month === '*' && dom === '?') {
    if (dow === 'MON-FRI' || dow === '2-6') return `Every weekday (Monday to Friday) ${at}`;
    const days = dow.split(',').map(dayName);
    if (days.some((day) => day === undefined)) return fallback;
    return `Every ${joinWords(days as string[])} ${at}`;
  }
  if (dow === '?' && isNumber(dom, 31) && Number(dom) >= 1 && isNumber(month, 12) && Number(month) >= 1) {
    return `Every year on ${MONTH_NAMES[Number(month) - 1]} ${Number(dom)} ${at}`;
  }
  return fallback;
}

function dayName(token: string): string | undefined {
  const name = /^\d$/.test(token) ? DAY_NUMBERS[Number(token) - 1] : token;
  return name === undefined ? undefined : DAY_NAMES[name];
}

function isNumber(field: string, max: number): boolean {
  return /^\d{1,2}$/.test(field) && Number(field) <= max;
}

function pad(field: string): string {
  return field.padStart(2, '0');
}

function joinWords(words: readonly string[]): string {
  return words.length <= 1 ? words.join('') : `${words.slice(0, -1).join(', ')} and ${words.at(-1)}`;
}
