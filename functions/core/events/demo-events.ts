import type { DecisionEvent } from './decision-event.ts';

/**
 * Deterministic demo data: the same arguments always give the same events, byte for byte, so
 * sample files, tests and benchmarks are reproducible. Randomness comes from a seeded PRNG only.
 */

export interface DemoEventOptions {
  readonly count: number;
  /** Inclusive bounds; events are spread evenly over the range. */
  readonly from: Date;
  readonly to: Date;
  readonly seed: number | string;
}

type Weighted<T> = readonly (readonly [T, number])[];

const MODELS: Weighted<{ name: string; latency: number; tokens: number }> = [
  [{ name: 'gpt-4o', latency: 420, tokens: 900 }, 22],
  [{ name: 'gpt-4o-mini', latency: 240, tokens: 450 }, 30],
  [{ name: 'claude-3-5-sonnet', latency: 480, tokens: 1100 }, 18],
  [{ name: 'claude-3-5-haiku', latency: 210, tokens: 380 }, 10],
  [{ name: 'llama-3.1-70b', latency: 360, tokens: 700 }, 10],
  [{ name: 'mistral-large', latency: 330, tokens: 600 }, 6],
  [{ name: 'gemini-1.5-pro', latency: 450, tokens: 1000 }, 4],
];

/** What each action does to the request, as the `result` field reports it. */
const RESULT_OF_ACTION: Readonly<Record<string, string>> = {
  allow: 'passed',
  redact: 'modified',
  mask: 'modified',
  block: 'blocked',
  flag: 'flagged',
  warn: 'flagged',
};

/** Each policy with the actions it realistically takes, and its added latency. */
const POLICIES: Weighted<{ name: string; overheadMs: number; actions: Weighted<string> }> = [
  [
    {
      name: 'pii-redaction',
      overheadMs: 35,
      actions: [
        ['redact', 55],
        ['allow', 30],
        ['mask', 10],
        ['flag', 5],
      ],
    },
    30,
  ],
  [
    {
      name: 'content-filter',
      overheadMs: 20,
      actions: [
        ['allow', 70],
        ['block', 12],
        ['flag', 13],
        ['warn', 5],
      ],
    },
    25,
  ],
  [
    {
      name: 'prompt-injection',
      overheadMs: 45,
      actions: [
        ['allow', 80],
        ['block', 14],
        ['flag', 6],
      ],
    },
    20,
  ],
  [
    {
      name: 'data-residency',
      overheadMs: 10,
      actions: [
        ['allow', 88],
        ['block', 9],
        ['flag', 3],
      ],
    },
    13,
  ],
  [
    {
      name: 'cost-guard',
      overheadMs: 5,
      actions: [
        ['allow', 85],
        ['warn', 9],
        ['block', 6],
      ],
    },
    12,
  ],
];

const TEAMS: Weighted<string> = [
  ['engineering', 40],
  ['support', 25],
  ['sales', 15],
  ['finance', 12],
  ['legal', 8],
];

const REGIONS: Weighted<string> = [
  ['us-east-1', 50],
  ['eu-west-1', 35],
  ['ap-southeast-2', 15],
];

/**
 * Valid but awkward values for CSV/JSON/PDF writers: separators, quotes, a newline (allowed only
 * in extra fields), spreadsheet formula prefixes, non-ASCII and emoji. Every HOSTILE_EVERY-th
 * event (from HOSTILE_OFFSET) gets the next of these.
 */
const HOSTILE: readonly ((event: DecisionEvent) => DecisionEvent)[] = [
  (e) => ({ ...e, user: 'O\'Brien, "Jr."', note: 'first line\nsecond line, with "quotes"' }),
  (e) => ({
    ...e,
    model: 'custom/llama-3.1-70b, "ft" – Zürich',
    prompt_excerpt: '=HYPERLINK("http://x","y")',
  }),
  (e) => ({ ...e, team: 'R&D, "Labs" – Zürich 🚀', user: '山田 太郎', note: 'tab\there; CRLF\r\nend' }),
  (e) => ({
    ...e,
    reason: '+SUM(A1:A2)',
    tags: ['a,b', 'c"d', 'ünïcödé', '👍'],
    nested: { x: [1, null, true] },
  }),
  (e) => ({ ...e, user: '@admin', note: '-1 ; DROP TABLE events; --', emoji: '🔒🧾✅' }),
  (e) => ({ ...e, note: '\u2028line separator\u2029 and <script>alert(1)</script>', user: '\\back\\slash' }),
];
const HOSTILE_EVERY = 400;
const HOSTILE_OFFSET = 123;

export function* generateDemoEvents(options: DemoEventOptions): Generator<DecisionEvent> {
  const { count } = options;
  const from = options.from.getTime();
  const span = options.to.getTime() - from + 1;
  if (!Number.isInteger(count) || count < 0)
    throw new RangeError('count must be a whole number of 0 or more');
  if (!(span > 0)) throw new RangeError('from must not be later than to');
  const seed = seedOf(options.seed);
  const random = mulberry32(seed);
  for (let index = 0; index < count; index++) {
    // One slot of the range per event keeps them spread evenly and in time order.
    const slotStart = from + Math.floor((span * index) / count);
    const slotEnd = from + Math.floor((span * (index + 1)) / count);
    const instant = slotStart + Math.floor(random() * (slotEnd - slotStart));
    const event = demoEvent(random, demoId(seed, index), instant, from);
    const hostile = HOSTILE[Math.floor((index - HOSTILE_OFFSET) / HOSTILE_EVERY) % HOSTILE.length];
    yield index % HOSTILE_EVERY === HOSTILE_OFFSET && hostile !== undefined ? hostile(event) : event;
  }
}

function demoEvent(random: () => number, id: string, instant: number, earliest: number): DecisionEvent {
  const model = pick(random, MODELS);
  const policy = pick(random, POLICIES);
  const action = pick(random, policy.actions);
  const blocked = RESULT_OF_ACTION[action] === 'blocked';
  // A blocked request never reaches the model, so it uses few tokens and little time.
  const tokens = blocked ? Math.floor(5 + random() * 60) : Math.floor(model.tokens * (0.1 + 1.8 * random()));
  const latency = policy.overheadMs + (blocked ? 0 : Math.floor(model.latency * (0.4 + 1.6 * random() ** 2)));
  const iso = new Date(instant).toISOString();
  const wholeSeconds = random() < 0.7 && Math.floor(instant / 1000) * 1000 >= earliest;
  const event: DecisionEvent = {
    id,
    // Most gateways write whole seconds; some write milliseconds. Both spellings are valid.
    timestamp: wholeSeconds ? `${iso.slice(0, 19)}Z` : iso,
    model: model.name,
    policy: policy.name,
    action,
    result: RESULT_OF_ACTION[action] ?? 'passed',
    tokens,
    latency_ms: latency,
    team: pick(random, TEAMS),
  };
  if (random() < 0.35) {
    return { ...event, region: pick(random, REGIONS), request_id: `req_${hex(random() * 2 ** 32, 8)}` };
  }
  return event;
}

const ID_SPACE = 2n ** 48n;
const ID_MASK = ID_SPACE - 1n;

/**
 * `evt_` + 12 hex digits. The index is offset by the seed and then scrambled by a bijection on
 * 48-bit numbers (odd multiplications and xor-shifts are invertible), so ids under one seed are
 * unique for every index below 2^48 and look random rather than sequential.
 */
function demoId(seed: number, index: number): string {
  let x = (BigInt(index) + BigInt(seed) * 0x9e3779b1n) & ID_MASK;
  x = (x * 0xd6e8feb86659fdn) & ID_MASK;
  x ^= x >> 24n;
  x = (x * 0xff51afd7ed558dn) & ID_MASK;
  x ^= x >> 21n;
  return `evt_${x.toString(16).padStart(12, '0')}`;
}

function seedOf(seed: number | string): number {
  if (typeof seed === 'number') return seed >>> 0;
  // FNV-1a so that string seeds (e.g. a date) are as convenient as numbers.
  let hash = 0x811c9dc5;
  for (const char of seed) {
    hash ^= char.codePointAt(0)!;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}

/** mulberry32: tiny, fast and good enough for demo data; not for anything secret. */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function pick<T>(random: () => number, choices: Weighted<T>): T {
  const total = choices.reduce((sum, [, weight]) => sum + weight, 0);
  let roll = random() * total;
  for (const [value, weight] of choices) {
    roll -= weight;
    if (roll < 0) return value;
  }
  return choices[choices.length - 1]![0];
}

function hex(value: number, digits: number): string {
  return Math.floor(value).toString(16).padStart(digits, '0');
}
