import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import type { Route } from '@middy/http-router';
import type {
  APIGatewayProxyEventV2,
  APIGatewayProxyResultV2,
  APIGatewayProxyStructuredResultV2,
  APIGatewayRequestAuthorizerEventV2,
} from 'aws-lambda';
import fc from 'fast-check';
import { handler as apiHandler, ROUTES } from '../../functions/handlers/api.ts';
import { handler as authorizerHandler } from '../../functions/handlers/authorizer.ts';
import { BODY_LIMITS } from '../../functions/handlers/http/body-limit.ts';
import { MAX_JSON_DEPTH } from '../../functions/handlers/http/json.ts';
import { MAX_BODY_BYTES } from '../../infra/local/api-gateway-event.ts';
import { MAX_HEADER_BYTES } from '../../infra/local/client-errors.ts';
import { lambdaContext } from '../../infra/local/lambda-context.ts';
import { LOCAL_DELIVERY_BUCKET } from '../../infra/local/local-config.ts';
import { type LocalStack, LOCAL_RESOURCES, startLocalStack } from '../../infra/local/local-stack.ts';
import { countItems } from '../support/count-items.ts';
import { testStackConfig } from '../support/local-stack-config.ts';
import { encodeRequest, type RawRequest, type RawResponse, SILENCE, sendRaw } from '../support/raw-http.ts';

/**
 * Issue 12: hostile input on every route. Random and hostile requests (paths, query strings,
 * headers, bodies, tokens) go over raw TCP to the in-process local stack's HTTP front, for every
 * route of the API router (ROUTES, so a new route cannot be left out), with the admin token and
 * with garbage ones. Every answer must be a 4xx RFC 9457 problem (2xx only for an admin GET, which
 * writes nothing), never a 5xx, a stack trace or a file path; afterwards no table item, no S3
 * object and no audit entry has been added. Fixed seed: the same requests on every run.
 *
 * Request bodies are invalid by construction (a field of a valid body replaced by a value its
 * rule refuses, placed last so that a repeated key cannot undo it), and the ids in paths name
 * nothing except on GET routes, so a refusal is the only right answer to a write.
 */

// CI runs the fixed seed and counts; KT_FUZZ_SEED and KT_FUZZ_SCALE (a multiplier) explore further.
const SEED = Number(process.env.KT_FUZZ_SEED ?? 20261203);
const SCALE = Number(process.env.KT_FUZZ_SCALE ?? 1);
const RUNS_PER_ROUTE = Math.round(150 * SCALE);
const RUNS_HOSTILE_PATHS = Math.round(400 * SCALE);
const RUNS_TRANSPORT = Math.round(200 * SCALE);
const RUNS_LAMBDA_EVENTS = Math.round(40 * SCALE);

type ApiRoute = Route<APIGatewayProxyEventV2, APIGatewayProxyResultV2>;

let stack: LocalStack;
let dataDir: string;
let port: number;
const fixtures = { exportId: '', schedule: 'fuzz-fixture-schedule-7f3a9c' };
let before: Record<string, unknown>;

// ---------------------------------------------------------------------------------------------
// What an answer must be

interface Sent extends RawRequest {
  /** The admin token (may see 2xx on a GET) or a garbage Authorization. */
  readonly caller: 'admin' | 'garbage';
  /** What the request was, for failure messages. */
  readonly label: string;
}

const INTERNALS: readonly RegExp[] = [
  /\n\s+at /, // a stack frame
  /\bat [\w$.<>]+ \(/, // a stack frame on one line
  /\/functions\//,
  /\/infra\//,
  /node_modules/,
  /\.ts:\d/,
  /\.[cm]?js:\d/,
  /\b[A-Z]\w*Error: /, // an error's name and message as toString writes them
  /\bfile:\/\//,
];

function short(text: string, max = 300): string {
  return text.length > max ? `${text.slice(0, max)}… (${text.length} chars)` : text;
}

function describeSent(sent: Sent): string {
  const body = sent.body === undefined ? '(no body)' : short(sent.body.toString('latin1'), 200);
  const headers = sent.headers
    .filter(([name]) => name.toLowerCase() !== 'authorization' || sent.caller === 'garbage')
    .map(([name, value]) => `${name}: ${short(value, 80)}`)
    .join(' | ');
  return `${sent.label} [${sent.caller}] ${sent.method} ${short(sent.target, 200)} {${headers}} ${body}`;
}

/** Checks one answer; the thrown message holds the request and the answer. */
function expectProblemAnswer(sent: Sent, response: RawResponse): void {
  const fail: (why: string) => never = (why) => {
    throw new Error(
      `${why}\n  request: ${describeSent(sent)}\n  answer: ${response.status} ${short(response.raw, 600)}`,
    );
  };
  const text = response.body.toString('utf8');
  if (text.includes(stack.admin.token) || response.raw.includes(stack.admin.token))
    fail('the answer holds a token secret');
  for (const pattern of INTERNALS) if (pattern.test(text)) fail(`the answer shows internals (${pattern})`);
  const { status } = response;
  if (status >= 200 && status < 300) {
    if (sent.caller === 'admin' && sent.method === 'GET') return;
    fail('a refused request was expected, got 2xx');
  }
  if (status < 400 || status >= 500) fail('the answer is not a 4xx');
  if (response.headers['content-type'] !== 'application/problem+json')
    fail('the answer is not application/problem+json');
  if (status === 405 && response.headers.allow === undefined) fail('405 without an Allow header');
  if (sent.method === 'HEAD') return; // no body on a HEAD answer
  let problem: Record<string, unknown>;
  try {
    problem = JSON.parse(text) as Record<string, unknown>;
  } catch {
    fail('the answer body is not JSON');
  }
  if (problem === null || typeof problem !== 'object' || Array.isArray(problem))
    fail('the problem is not an object');
  if (problem.status !== status) fail(`the problem's status ${String(problem.status)} is not the answer's`);
  for (const member of ['type', 'title', 'detail'] as const) {
    if (typeof problem[member] !== 'string' || (problem[member] as string).length === 0)
      fail(`the problem has no ${member}`);
  }
  if (problem.errors !== undefined) {
    const errors = problem.errors;
    if (
      !Array.isArray(errors) ||
      errors.some((issue) => typeof issue?.field !== 'string' || typeof issue?.rule !== 'string')
    ) {
      fail('the problem errors are not [{field, rule}]');
    }
  }
}

async function exchange(sent: Sent): Promise<RawResponse> {
  const response = await sendRaw(port, encodeRequest(sent));
  expectProblemAnswer(sent, response);
  return response;
}

// ---------------------------------------------------------------------------------------------
// Arbitraries

const printable = (maxLength: number) =>
  fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength });

const HOSTILE_SEGMENTS = [
  '..',
  '.',
  '%2e%2e',
  '%00',
  'a%00b',
  '%2F',
  '%252F',
  '%5C',
  '__proto__',
  'constructor',
  'prototype',
  'hasOwnProperty',
  '%E2%80%AE',
  '%ff%fe',
  '%C0%AF',
  '%',
  '%zz',
  '*',
  '%20',
  'null',
  'undefined',
  '-1',
  '0',
  'exp_0000000000000000000a',
  'exp_',
  'tok_000000000000',
  'evt_x',
  "'%20OR%201=1--",
  '$%7Bjndi:ldap:x%7D',
  '{id}',
  '%7Bname%7D',
  'CON',
  'é',
  '日本',
  '🙂',
];

/** A path segment that names nothing: hostile, random, overlong or well formed but unknown. */
const garbageSegment: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(...HOSTILE_SEGMENTS),
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }).map(encodeURIComponent),
  fc
    .string({ unit: 'binary', minLength: 1, maxLength: 20 })
    .map((s) => [...Buffer.from(s, 'utf8')].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('')),
  fc.integer({ min: 200, max: 6000 }).map((n) => 'a'.repeat(n)),
  fc.stringMatching(/^[A-Za-z0-9._-]{1,64}$/),
  fc.stringMatching(/^[0-9a-z]{20}$/).map((s) => `exp_${s}`),
  fc.stringMatching(/^[0-9a-f]{12}$/).map((s) => `tok_${s}`),
);

const QUERY_KEYS = [
  'limit',
  'cursor',
  'file',
  'fromSeq',
  'toSeq',
  'since',
  'until',
  'action',
  'subject',
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'limit[]',
  'a.b',
  '',
];

const queryValue: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    '-1',
    '0',
    '1',
    '101',
    '1001',
    '1e309',
    '-1e309',
    'NaN',
    'Infinity',
    '1.5',
    '0x10',
    '99999999999999999999999',
    '',
    '%00',
    '%ff',
    '%zz',
    '%',
    '+',
    'null',
    'true',
    '[]',
    '{}',
    'eyJwayI6IngifQ', // base64url of {"pk":"x"}
    'eyJfX3Byb3RvX18iOnsiYSI6MX19', // {"__proto__":{"a":1}}
    '2026-13-45T99:99:99Z',
    '2026-04-01T00:00:00Z',
    'export.',
    'token.',
  ),
  printable(40).map(encodeURIComponent),
  fc.string({ unit: 'grapheme', maxLength: 30 }).map(encodeURIComponent),
  fc.base64String({ maxLength: 200 }).map(encodeURIComponent),
  fc.integer({ min: 1000, max: 8000 }).map((n) => 'x'.repeat(n)),
);

const queryString: fc.Arbitrary<string> = fc.oneof(
  { weight: 1, arbitrary: fc.constant('') },
  {
    weight: 4,
    arbitrary: fc
      .array(
        fc.tuple(fc.oneof(fc.constantFrom(...QUERY_KEYS), printable(12).map(encodeURIComponent)), queryValue),
        {
          minLength: 1,
          maxLength: 6,
        },
      )
      .chain((pairs) =>
        fc
          .constantFrom('&', '&&', ';')
          .map((separator) => `?${pairs.map(([k, v]) => `${k}=${v}`).join(separator)}`),
      ),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom('?', '??', '?&', '?=', '?limit', '?limit=1&limit=2&limit=-1', '?#frag'),
  },
);

/** Stands for the admin token in a generated header (the token exists only once the stack runs). */
const ADMIN_TOKEN = '<admin token>';

/** An Authorization header that identifies no live token (or none at all). */
const garbageAuthorization: fc.Arbitrary<readonly (readonly [string, string])[]> = fc.oneof(
  { weight: 1, arbitrary: fc.constant([]) },
  {
    weight: 6,
    arbitrary: fc
      .oneof(
        fc.constantFrom(
          '',
          ' ',
          'Bearer',
          'Bearer ',
          'bearer kt_',
          'Basic YWRtaW46YWRtaW4=',
          'Bearer null',
          'Bearer undefined',
          `Bearer kt_${'A'.repeat(42)}`,
          `Bearer kt_${'A'.repeat(44)}`,
          `Bearer ${'A'.repeat(4000)}`,
          'Digest username="admin"',
          'AWS4-HMAC-SHA256',
          'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-1/execute-api/aws4_request, SignedHeaders=host;x-amz-date, Signature=deadbeef',
          'AWS4-HMAC-SHA256 Credential=/, SignedHeaders=, Signature=',
        ),
        printable(200).map((s) => `Bearer ${s}`),
        printable(100),
        fc.stringMatching(/^[A-Za-z0-9_-]{43}$/).map((s) => `Bearer kt_${s}`),
      )
      .map((value) => [['authorization', value] as const]),
  },
  // A garbage header first: the front reads the first of repeated Authorization headers.
  {
    weight: 1,
    arbitrary: fc.constant([
      ['authorization', 'Bearer kt_garbage'] as const,
      ['authorization', ADMIN_TOKEN] as const,
    ]),
  },
);

const CONTENT_TYPES = [
  'application/json',
  'application/json; charset=utf-8',
  'application/json; charset="UTF-8"',
  'application/json; charset=latin1',
  'application/json;charset=utf-16',
  'APPLICATION/JSON',
  'application/problem+json',
  'application/json-patch+json',
  'application/jsonx',
  'application/json5',
  'text/json',
  'text/plain',
  'text/html',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/octet-stream',
  'image/png',
  '*/*',
  '',
  ';;;',
  'application/',
];

const contentTypeHeaders: fc.Arbitrary<readonly (readonly [string, string])[]> = fc.oneof(
  { weight: 14, arbitrary: fc.constant([['content-type', 'application/json'] as const]) },
  {
    weight: 3,
    arbitrary: fc.constantFrom(...CONTENT_TYPES).map((type) => [['content-type', type] as const]),
  },
  { weight: 1, arbitrary: fc.constant([]) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.constantFrom(...CONTENT_TYPES), fc.constantFrom(...CONTENT_TYPES))
      .map(([a, b]) => [['content-type', a] as const, ['content-type', b] as const]),
  },
);

const extraHeaders: fc.Arbitrary<readonly (readonly [string, string])[]> = fc.array(
  fc.oneof(
    fc.tuple(
      fc.constant('idempotency-key'),
      fc.oneof(printable(300), fc.constantFrom('', ' ', '../../x', 'x'.repeat(5000), '%00', 'null')),
    ),
    fc.tuple(
      fc.constantFrom('accept', 'accept-encoding', 'accept-charset'),
      fc.constantFrom('text/html', '*/*', 'gzip, br', 'x'.repeat(300), ''),
    ),
    fc.tuple(
      fc.constantFrom(
        'x-forwarded-for',
        'x-real-ip',
        'forwarded',
        'x-amz-date',
        'x-amz-security-token',
        'x-amzn-trace-id',
      ),
      printable(100),
    ),
    fc.tuple(fc.constantFrom('host'), fc.constantFrom('evil.example', '', 'localhost:0', 'a'.repeat(300))),
    fc.tuple(fc.constantFrom('expect'), fc.constantFrom('100-continue', 'bogus', '')),
    fc.tuple(fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString'), printable(30)),
    fc.tuple(fc.stringMatching(/^[a-z][a-z0-9-]{0,30}$/), printable(200)),
    fc.tuple(
      fc.constant('x-big'),
      fc.integer({ min: 1000, max: 8000 }).map((n) => 'b'.repeat(n)),
    ),
  ),
  { maxLength: 4 },
);

/** A JSON value as raw text, so a body may hold what JSON.stringify cannot (1e309, repeated keys). */
type RawJson = string;
type Entries = readonly (readonly [string, RawJson])[];

const objectText = (entries: Entries): string =>
  `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`;

function eventText(overrides: Record<string, RawJson> = {}): RawJson {
  const fields: Record<string, RawJson> = {
    id: '"evt_fuzz000001"',
    timestamp: '"2026-04-10T08:00:00Z"',
    model: '"gpt-4o-mini"',
    policy: '"pii-redaction"',
    action: '"redact"',
    result: '"modified"',
    tokens: '100',
    latency_ms: '250',
    team: '"engineering"',
    ...overrides,
  };
  return objectText(Object.entries(fields));
}

/** A valid body for each route that takes one, as ordered fields. */
const VALID_BODIES: Readonly<Record<string, Entries>> = {
  'POST /v1/events': [['events', `[${eventText()}]`]],
  'POST /v1/exports': [
    ['from', '"2026-04-01T00:00:00Z"'],
    ['to', '"2026-04-02T00:00:00Z"'],
    ['format', '"json"'],
  ],
  'POST /v1/export-schedules': [
    ['name', '"fuzz-schedule"'],
    ['cron', '"0 2 1 1 *"'],
    ['window', '"7d"'],
    ['format', '"json"'],
  ],
  'POST /v1/export-schedules/{name}/run': [['at', '"2026-01-01T02:00:00Z"']],
  'POST /v1/tokens': [
    ['name', '"fuzz-token"'],
    ['scopes', '["exports:read"]'],
  ],
};

/** Field values each refused by the route's rules; one is always placed last in a mutant body. */
const POISONS: Readonly<Record<string, Entries>> = {
  'POST /v1/events': [
    ['events', '12'],
    ['events', '[]'],
    ['events', '"evt_1"'],
    ['events', 'null'],
    ['events', '{}'],
    ['events', `[${eventText({ id: '12' })}]`],
    ['events', `[${eventText({ id: '"evt_../../x"' })}]`],
    ['events', `[${eventText({ timestamp: '"2026-04-20 09:15"' })}]`],
    ['events', `[${eventText({ timestamp: '"2026-02-30T00:00:00Z"' })}]`],
    ['events', `[${eventText({ tokens: '1e309' })}]`],
    ['events', `[${eventText({ tokens: '-1' })}]`],
    ['events', `[${eventText({ tokens: '1.5' })}]`],
    ['events', `[${eventText({ latency_ms: '-1e309' })}]`],
    ['events', `[${eventText({ team: '"a\\u0000b"' })}]`],
    ['events', `[${eventText({ model: `"${'m'.repeat(257)}"` })}]`],
    ['events', `[${eventText({ ['__proto__']: '{"polluted":true}' })}]`],
    ['events', `[${eventText({ constructor: '{"prototype":{"polluted":true}}' })}]`],
    ['events', `[${eventText({ note: `"${'n'.repeat(17 * 1024)}"` })}]`],
    ['events', `[${eventText()},${eventText({ tokens: '101' })}]`],
    ['events', `[${Array.from({ length: 501 }, () => eventText()).join(',')}]`],
  ],
  'POST /v1/exports': [
    ['from', '12'],
    ['from', '1e309'],
    ['to', '"yesterday"'],
    ['to', '"2026-04-31T00:00:00Z"'],
    ['format', '"exe"'],
    ['format', '["json"]'],
    ['filters', '"team"'],
    ['filters', '{"team":12}'],
    ['delivery', '{"s3Bucket":"not-on-the-allow-list"}'],
    ['delivery', '"s3://x"'],
    ['pageSize', '"a4"'],
    ['title', '"a\\u0000b"'],
    ['title', '"\\ud800"'],
    ['__proto__', '{"admin":true}'],
    ['constructor', '{"prototype":{"polluted":true}}'],
  ],
  'POST /v1/export-schedules': [
    ['name', '"../x"'],
    ['name', '""'],
    ['name', '12'],
    ['cron', '"* * * * * * * *"'],
    ['cron', '"not cron"'],
    ['cron', '12'],
    ['window', '"forever"'],
    ['window', '0'],
    ['format', '1'],
    ['timezone', '"Mars/Olympus_Mons"'],
    ['timezone', '12'],
  ],
  'POST /v1/export-schedules/{name}/run': [
    ['at', '"2999-01-01T00:00:00Z"'],
    ['at', '12'],
    ['at', '"now"'],
    ['at', '"2026-01-01T02:00:00.5Z"'],
  ],
  'POST /v1/tokens': [
    ['scopes', '["root"]'],
    ['scopes', '[]'],
    ['scopes', '"admin"'],
    ['scopes', '["admin","admin"]'],
    ['name', '""'],
    ['name', '"a/b"'],
    ['name', `"${'n'.repeat(65)}"`],
    ['expiresIn', '"0d"'],
    ['expiresIn', '"3651d"'],
    ['expiresIn', '-1'],
    ['team', '12'],
    ['team', '""'],
  ],
  // They take no field at all.
  'POST /v1/exports/{id}/redeliver': [['force', 'true']],
  'POST /v1/exports/{id}/cancel': [['force', 'true']],
  'POST /v1/export-schedules/{name}/pause': [['state', '"paused"']],
  'POST /v1/export-schedules/{name}/resume': [['state', '"enabled"']],
};

const anyPoison: Entries = Object.values(POISONS).flat();

const extraEntries: fc.Arbitrary<Entries> = fc.oneof(
  fc.constant([]),
  fc.constant([]),
  fc.array(
    fc.tuple(
      fc.oneof(
        fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'admin'),
        printable(10),
      ),
      fc.oneof(
        fc.constantFrom(
          '{"polluted":true}',
          '{"prototype":{"polluted":true}}',
          '{"scopes":["admin"]}',
          'null',
          '[]',
        ),
        fc.jsonValue({ maxDepth: 2 }).map((value) => JSON.stringify(value) ?? 'null'),
      ),
    ),
    { minLength: 1, maxLength: 3 },
  ),
);

/** A valid body broken on purpose: its fields, random extra ones, then a refused value last. */
function mutantBody(key: string): fc.Arbitrary<string> {
  const valid = VALID_BODIES[key] ?? [];
  const poisons = POISONS[key] ?? anyPoison;
  return fc
    .tuple(fc.subarray([...valid]), extraEntries, fc.constantFrom(...poisons))
    .map(([fields, extras, poison]) => objectText([...fields, ...extras, poison]));
}

const depthBody: fc.Arbitrary<string> = fc
  .tuple(
    fc.integer({ min: MAX_JSON_DEPTH + 1, max: 20_000 }),
    fc.constantFrom('array', 'object', 'open', 'string-then-deep'),
  )
  .map(([n, shape]) => {
    switch (shape) {
      case 'array':
        return `${'['.repeat(n)}${']'.repeat(n)}`;
      case 'object':
        return `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`;
      case 'open':
        return '['.repeat(n);
      default:
        return `{"s":"[[[[\\"","events":${'['.repeat(n)}${']'.repeat(n)}}`;
    }
  });

/** Bodies, as bytes: none, hostile JSON, JSON refused by the route, or not JSON at all. */
function bodyFor(key: string): fc.Arbitrary<Buffer | undefined> {
  const text = (arbitrary: fc.Arbitrary<string>) => arbitrary.map((s) => Buffer.from(s, 'utf8'));
  // Mostly no body where the route takes none (any body is refused there before anything else).
  const none = key in BODY_LIMITS ? 2 : 90;
  return fc.oneof(
    { weight: none, arbitrary: fc.constant(undefined) },
    { weight: 6, arbitrary: text(mutantBody(key)) },
    {
      weight: 2,
      arbitrary: text(fc.jsonValue({ maxDepth: 4 }).map((value) => JSON.stringify(value) ?? 'null')),
    },
    { weight: 1, arbitrary: text(depthBody) },
    {
      weight: 1,
      arbitrary: text(
        fc
          .integer({ min: 64 * 1024, max: 200 * 1024 })
          .map((n) => `{"name":"${'x'.repeat(n)}","events":[],"from":12}`),
      ),
    },
    {
      weight: 2,
      arbitrary: text(
        fc.oneof(
          fc.constantFrom(
            '',
            ' ',
            'undefined',
            'NaN',
            '1e309',
            '-0',
            'null',
            'true',
            '""',
            '[]',
            "{'name':1}",
            '{"a":1,}',
            '{"a":1}{"b":2}',
            '\ufeff{}',
            '{"a":"\\x41"}',
            '{"a":"\\u00"}',
            '{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}}}',
            'events=1&name=x',
            '<xml/>',
          ),
          fc.string({ maxLength: 200 }),
        ),
      ),
    },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 512 }).map((bytes) => Buffer.from(bytes)) },
    {
      weight: 1,
      arbitrary: fc
        .constantFrom(
          [0xff],
          [0xfe, 0xff],
          [0xc0, 0x80],
          [0xed, 0xa0, 0x80],
          [0xf4, 0x90, 0x80, 0x80],
          [0x80],
        )
        .map((bad) =>
          Buffer.concat([Buffer.from('{"name":"'), Buffer.from(bad), Buffer.from('","events":12}')]),
        ),
    },
  );
}

const OTHER_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD', 'PROPFIND', 'QUERY'];

function routeKey(route: ApiRoute): string {
  return `${route.method} ${route.path}`;
}

/** The route's path with its parameters filled, and a path mutation now and then. */
function targetFor(route: ApiRoute, useFixture: boolean): fc.Arbitrary<string> {
  const fixture = route.path.includes('{id}') ? fixtures.exportId : fixtures.schedule;
  const parameter = useFixture ? fc.constant(fixture) : garbageSegment;
  const filled = parameter.map((value) => route.path.replace(/\{[^}]+\}/g, value));
  const how = fc.oneof(
    { weight: 12, arbitrary: fc.constant('none') },
    { weight: 4, arbitrary: fc.constantFrom('trailing', 'double', 'dot', 'dotdot', 'upper', 'extra') },
  );
  const mutated = fc.tuple(filled, how).chain(([p, how]) => {
    switch (how) {
      case 'trailing':
        return fc.constant(`${p}/`);
      case 'double':
        return fc.constant(p.replace('/v1/', '/v1//'));
      case 'dot':
        return fc.constant(p.replace('/v1/', '/v1/./'));
      case 'dotdot':
        return fc.constant(p.replace('/v1/', '/v1/x/../'));
      case 'upper':
        return fc.constant(p.toUpperCase());
      case 'extra':
        return garbageSegment.map((segment) => `${p}/${segment}`);
      default:
        return fc.constant(p);
    }
  });
  return useFixture ? filled : mutated;
}

/** One request to `route`: its own method mostly, any caller, hostile everything else. */
function requestFor(route: ApiRoute): fc.Arbitrary<Sent> {
  const key = routeKey(route);
  const hasParameter = route.path.includes('{');
  // A real id or name only where the request cannot write: its own GET (download needs a `file`
  // it refuses, since a download is audited).
  const fixtureAllowed = hasParameter && route.method === 'GET';
  return fc
    .record({
      admin: fc.boolean(),
      sameMethod: fc.nat(9).map((n) => n < 8),
      otherMethod: fc.constantFrom(...OTHER_METHODS),
      fixture: fc.boolean(),
      garbage: garbageAuthorization,
      contentType: contentTypeHeaders,
      extras: extraHeaders,
      body: bodyFor(key),
      chunked: fc.nat(9).map((n) => n === 0),
    })
    .map((choice) => ({ ...choice, useFixture: choice.fixture && choice.sameMethod && fixtureAllowed }))
    .chain((choice) =>
      fc
        .record({
          target: targetFor(route, choice.useFixture),
          query:
            choice.useFixture && route.path.endsWith('/download')
              ? queryString.map((q) => `?file=${encodeURIComponent('artifact ')}${q ? `&${q.slice(1)}` : ''}`)
              : queryString,
        })
        .map(({ target, query }): Sent => {
          const method = choice.sameMethod ? route.method : choice.otherMethod;
          const authorization = choice.admin
            ? [['authorization', `Bearer ${stack.admin.token}`] as const]
            : choice.garbage.map(
                ([name, value]) =>
                  [name, value === ADMIN_TOKEN ? `Bearer ${stack.admin.token}` : value] as const,
              );
          const headers = [
            ['host', 'localhost'] as const,
            ...authorization,
            ...(choice.body ? choice.contentType : []),
            ...choice.extras,
          ];
          const base = {
            method,
            target: `${target}${query}`,
            caller: choice.admin ? 'admin' : 'garbage',
            label: key,
          } as const;
          if (choice.body === undefined) return withToString({ ...base, headers });
          if (!choice.chunked) return withToString({ ...base, headers, body: choice.body });
          return withToString({
            ...base,
            headers: [...headers, ['transfer-encoding', 'chunked'] as const],
            body: chunkedBody(choice.body),
            contentLength: false,
          });
        }),
    );
}

function chunkedBody(body: Buffer): Buffer {
  const parts: Buffer[] = [];
  for (let at = 0; at < body.length; at += 100) {
    const chunk = body.subarray(at, at + 100);
    parts.push(Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n'));
  }
  parts.push(Buffer.from('0\r\n\r\n'));
  return Buffer.concat(parts);
}

/** fast-check prints a counterexample with this, not the whole (possibly 200 KB) body. */
function withToString(sent: Sent): Sent {
  return Object.assign(sent, { [fc.toStringMethod]: () => describeSent(sent) });
}

/** Targets that are no route at all, and every method. */
const hostilePathRequest: fc.Arbitrary<Sent> = fc
  .record({
    method: fc.constantFrom(...OTHER_METHODS),
    admin: fc.boolean(),
    target: fc.oneof(
      fc
        .array(
          fc.oneof(garbageSegment, fc.constantFrom('v1', 'v2', 'exports', 'tokens', 'audit', 'keys', '')),
          {
            minLength: 0,
            maxLength: 6,
          },
        )
        .chain((segments) =>
          fc
            .constantFrom('/', '//', '/./', '/../', '/%2F')
            .map((separator) => `/${segments.join(separator)}`),
        ),
      fc.constantFrom(
        '/',
        '//',
        '/v1',
        '/v1/',
        '/V1/exports',
        '/v1/exports/',
        '/v1/../v1/keys/../../..',
        '/..%2f..%2f..%2fetc%2fpasswd',
        '/v1/exports/%2e%2e/%2e%2e/tokens',
        '/v1/%00',
        '/%00',
        '/v1/keys%00.json',
        '/v1/keys;jsessionid=1',
        '/\\v1\\keys',
        '/v1/keys\\..\\tokens',
        '//localhost/v1/keys',
        '//evil.example/v1/keys',
        '/v1/export-schedules/a/b/c/d/e/f',
        `/v1/${'x/'.repeat(1000)}`,
        `/${'%41'.repeat(2000)}`,
        '/v1/keys?x=1#frag',
        '/v1/🙂',
        '/v1/exports/é',
      ),
    ),
    query: queryString,
  })
  .map(({ method, admin, target, query }) =>
    withToString({
      method,
      target: `${target}${query}`,
      headers: [
        ['host', 'localhost'],
        ['authorization', admin ? `Bearer ${stack.admin.token}` : 'Bearer kt_nope'],
      ],
      caller: admin ? 'admin' : 'garbage',
      label: 'hostile path',
    }),
  );

/** Requests Node's HTTP parser refuses or that stretch it: answered by the front itself. */
const transportRequest: fc.Arbitrary<{ readonly label: string; readonly bytes: Buffer }> = fc.oneof(
  fc.integer({ min: MAX_HEADER_BYTES + 1, max: 4 * MAX_HEADER_BYTES }).map((n) => ({
    label: `one ${n}-byte header`,
    bytes: Buffer.from(
      `GET /v1/keys HTTP/1.1\r\nhost: localhost\r\nx-big: ${'h'.repeat(n)}\r\nconnection: close\r\n\r\n`,
    ),
  })),
  fc.integer({ min: 200, max: 600 }).map((n) => ({
    label: `${n} headers of 100 bytes`,
    bytes: Buffer.from(
      `POST /v1/events HTTP/1.1\r\nhost: localhost\r\n${Array.from({ length: n }, (_, i) => `x-h${i}: ${'v'.repeat(100)}\r\n`).join('')}connection: close\r\n\r\n`,
    ),
  })),
  fc.integer({ min: MAX_HEADER_BYTES, max: 3 * MAX_HEADER_BYTES }).map((n) => ({
    label: `a ${n}-byte request target`,
    bytes: Buffer.from(
      `GET /v1/exports?cursor=${'c'.repeat(n)} HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n`,
    ),
  })),
  fc
    .constantFrom(
      'G=T /v1/keys HTTP/1.1\r\nhost: x\r\n\r\n',
      'FOO /v1/keys HTTP/1.1\r\nhost: x\r\n\r\n',
      'get /v1/keys HTTP/1.1\r\nhost: x\r\n\r\n',
      'GET\r\n\r\n',
      'GET /v1/keys\r\n\r\n',
      'GET /v1/keys HTTP/9.9\r\nhost: x\r\n\r\n',
      'GET /v1/ke ys HTTP/1.1\r\nhost: x\r\n\r\n',
      'GET /v1/keys HTTP/1.1\r\nno colon here\r\n\r\n',
      'GET /v1/keys HTTP/1.1\r\nbad name: x\r\n\r\n',
      'GET /v1/keys HTTP/1.1\r\nx: a\u0000b\r\n\r\n',
      'GET /v1/keys HTTP/1.1\r\nx: a\u007fb\r\n\r\n',
      'GET /v1/keys HTTP/1.1\r\n : x\r\n\r\n',
      'GET /v1/keys HTTP/1.1\r\n folded: x\r\n\r\n',
      'POST /v1/events HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n',
      'POST /v1/events HTTP/1.1\r\nhost: x\r\ncontent-length: -1\r\n\r\n',
      'POST /v1/events HTTP/1.1\r\nhost: x\r\ncontent-length: abc\r\n\r\n',
      'POST /v1/events HTTP/1.1\r\nhost: x\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\nab',
      'POST /v1/events HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n',
      'POST /v1/events HTTP/1.1\r\nhost: x\r\ntransfer-encoding: gzip\r\n\r\n',
      'POST /v1/events HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\nffffffffffffffff\r\n',
      'GET http://localhost/v1/keys HTTP/1.1\r\nhost: x\r\n\r\n',
      'GET * HTTP/1.1\r\nhost: x\r\n\r\n',
      'OPTIONS * HTTP/1.1\r\nhost: x\r\n\r\n',
      'CONNECT localhost:80 HTTP/1.1\r\nhost: x\r\n\r\n',
      'GET /v1/keys HTTP/1.0\r\n\r\n',
      'GET /v1/keys HTTP/1.1\r\n\r\n',
      'GET /v1/keys HTTP/1.1\nhost: x\n\n',
      'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n',
      '\u0016\u0003\u0001\u0000\u00a5\u0001\u0000\u0000\u00a1\u0003\u0003',
      '\r\n\r\n',
      ' GET /v1/keys HTTP/1.1\r\n\r\n',
      'GET /v1/keys HTTP/1.1\r\nhost: x\r\nexpect: 100-continue\r\ncontent-length: 0\r\n\r\n',
      'GET /v1/keys HTTP/1.1\r\nhost: x\r\nupgrade: websocket\r\nconnection: upgrade\r\n\r\n',
    )
    .map((text) => ({ label: JSON.stringify(text.slice(0, 80)), bytes: Buffer.from(text, 'latin1') })),
  fc
    .uint8Array({ minLength: 1, maxLength: 300 })
    .map((bytes) => ({ label: 'random bytes', bytes: Buffer.from(bytes) })),
);

/**
 * The API Lambda's event as API Gateway may shape it, which the local front never sends: path
 * parameters and query values already decoded (any UTF-16 code unit, NUL and lone surrogates
 * included), a body marked base64 that is not, header values the front's parser would refuse.
 * The authorizer context is what the real authorizer answers for the Authorization header.
 */
interface LambdaCase {
  readonly label: string;
  readonly caller: 'admin' | 'garbage';
  readonly method: string;
  readonly path: string;
  readonly authorization: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly query?: Readonly<Record<string, string>>;
  readonly body?: string;
  readonly isBase64Encoded: boolean;
}

const anyCodeUnits = (minLength: number, maxLength: number) =>
  fc.string({
    unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)),
    minLength,
    maxLength,
  });

function lambdaCaseFor(route: ApiRoute): fc.Arbitrary<LambdaCase> {
  const key = routeKey(route);
  return fc
    .record({
      admin: fc.boolean(),
      garbage: fc.oneof(printable(120), fc.constant(`Bearer kt_${'x'.repeat(43)}`), anyCodeUnits(0, 60)),
      sameMethod: fc.nat(9).map((n) => n < 8),
      otherMethod: fc.constantFrom(...OTHER_METHODS, 'get', 'ANY', '__proto__'),
      parameter: fc.oneof(
        anyCodeUnits(1, 40).filter((text) => !text.includes('/')),
        fc.constantFrom(
          '\u0000',
          '..',
          ' ',
          '\ud800',
          'a\u0000b',
          '__proto__',
          'constructor',
          '\u202e',
          'x'.repeat(3000),
        ),
      ),
      query: fc.option(
        fc.dictionary(fc.oneof(fc.constantFrom(...QUERY_KEYS), anyCodeUnits(0, 10)), anyCodeUnits(0, 60), {
          maxKeys: 5,
        }),
        {
          nil: undefined,
        },
      ),
      headers: fc.dictionary(
        fc.constantFrom('content-type', 'idempotency-key', 'accept', 'x-forwarded-for', 'host', 'x-amz-date'),
        fc.oneof(fc.constantFrom(...CONTENT_TYPES), anyCodeUnits(0, 80)),
        { maxKeys: 3 },
      ),
      json: fc.nat(3).map((n) => n > 0),
      body: bodyFor(key),
      encoding: fc.constantFrom('text', 'base64', 'not base64'),
    })
    .map((choice): LambdaCase => {
      const path = route.path.replace(/\{[^}]+\}/g, choice.parameter);
      const authorization = choice.admin ? ADMIN_TOKEN : choice.garbage;
      const headers = {
        ...choice.headers,
        ...(choice.json && choice.body ? { 'content-type': 'application/json' } : {}),
      };
      const body =
        choice.body === undefined
          ? undefined
          : choice.encoding === 'text'
            ? choice.body.toString('utf8')
            : choice.encoding === 'base64'
              ? choice.body.toString('base64')
              : `${choice.body.toString('latin1')}!*`;
      return {
        label: key,
        caller: choice.admin ? 'admin' : 'garbage',
        method: choice.sameMethod ? route.method : choice.otherMethod,
        path,
        authorization,
        headers,
        ...(choice.query === undefined ? {} : { query: choice.query }),
        ...(body === undefined ? {} : { body }),
        isBase64Encoded: body !== undefined && choice.encoding !== 'text',
      };
    })
    .map((lambdaCase) =>
      Object.assign(lambdaCase, {
        [fc.toStringMethod]: () =>
          `${lambdaCase.label} [${lambdaCase.caller}] ${JSON.stringify(lambdaCase.method)} ${JSON.stringify(short(lambdaCase.path, 120))} ` +
          `query ${short(JSON.stringify(lambdaCase.query ?? null), 200)} headers ${short(JSON.stringify(lambdaCase.headers), 200)} ` +
          `body(${lambdaCase.isBase64Encoded ? 'base64' : 'text'}) ${short(JSON.stringify(lambdaCase.body ?? null), 200)}`,
      }),
    );
}

async function invokeApi(lambdaCase: LambdaCase): Promise<RawResponse> {
  const authorization =
    lambdaCase.authorization === ADMIN_TOKEN ? `Bearer ${stack.admin.token}` : lambdaCase.authorization;
  const headers = { ...lambdaCase.headers, authorization };
  const decision = await authorizerHandler({
    type: 'REQUEST',
    headers,
    identitySource: [authorization],
  } as unknown as APIGatewayRequestAuthorizerEventV2);
  const now = new Date();
  const event = {
    version: '2.0',
    routeKey: '$default',
    rawPath: lambdaCase.path,
    rawQueryString: '',
    headers,
    ...(lambdaCase.query === undefined ? {} : { queryStringParameters: lambdaCase.query }),
    requestContext: {
      accountId: 'local',
      apiId: 'local',
      domainName: 'localhost',
      domainPrefix: 'localhost',
      http: {
        method: lambdaCase.method,
        path: lambdaCase.path,
        protocol: 'HTTP/1.1',
        sourceIp: '127.0.0.1',
        userAgent: '',
      },
      requestId: 'fuzz',
      routeKey: '$default',
      stage: '$default',
      time: now.toUTCString(),
      timeEpoch: now.getTime(),
      authorizer: { lambda: decision.context },
    },
    ...(lambdaCase.body === undefined ? {} : { body: lambdaCase.body }),
    isBase64Encoded: lambdaCase.isBase64Encoded,
  } as unknown as APIGatewayProxyEventV2;
  const result = (await apiHandler(event, lambdaContext('api', 29_000))) as APIGatewayProxyStructuredResultV2;
  const body = Buffer.from(result.body ?? '', result.isBase64Encoded ? 'base64' : 'utf8');
  const responseHeaders = Object.fromEntries(
    Object.entries(result.headers ?? {}).map(([name, value]) => [name.toLowerCase(), String(value)]),
  );
  return { status: result.statusCode ?? 200, headers: responseHeaders, body, raw: JSON.stringify(result) };
}

// ---------------------------------------------------------------------------------------------
// The stack and what a refused request must leave as it was

async function footprint(): Promise<Record<string, unknown>> {
  const { dynamodb, s3 } = stack.adapters.clients;
  const objects = async (bucket: string) =>
    (await s3.send(new ListObjectsV2Command({ Bucket: bucket }))).KeyCount ?? 0;
  const audit = await fetch(`${stack.apiUrl}/v1/audit?limit=1`, {
    headers: { authorization: `Bearer ${stack.admin.token}` },
  });
  return {
    events: await countItems(dynamodb, LOCAL_RESOURCES.eventsTable),
    control: await countItems(dynamodb, LOCAL_RESOURCES.controlTable),
    artifacts: await objects(LOCAL_RESOURCES.artifactBucket),
    delivered: await objects(LOCAL_DELIVERY_BUCKET),
    auditHead: ((await audit.json()) as { head: unknown }).head,
  };
}

async function asAdmin<T>(method: string, route: string, body?: unknown): Promise<T> {
  const response = await fetch(`${stack.apiUrl}${route}`, {
    method,
    headers: {
      authorization: `Bearer ${stack.admin.token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  if (!response.ok) throw new Error(`${method} ${route}: ${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(tmpdir(), 'kt-fuzz-'));
  stack = await startLocalStack(testStackConfig(dataDir));
  port = Number(new URL(stack.apiUrl).port);
  await asAdmin('POST', '/v1/events', {
    events: Array.from({ length: 3 }, (_, n) => ({
      id: `evt_fuzzfixture${n}`,
      timestamp: `2026-04-10T08:00:0${n}Z`,
      model: 'gpt-4o-mini',
      policy: 'pii-redaction',
      action: 'redact',
      result: 'modified',
      tokens: 100,
      latency_ms: 250,
      team: 'engineering',
    })),
  });
  const job = await asAdmin<{ id: string }>('POST', '/v1/exports', {
    from: '2026-04-01T00:00:00Z',
    to: '2026-04-30T00:00:00Z',
    format: 'json',
  });
  fixtures.exportId = job.id;
  // Once a year, so the local scheduler does not fire it during the run.
  await asAdmin('POST', '/v1/export-schedules', {
    name: fixtures.schedule,
    cron: '0 2 1 1 *',
    window: '7d',
    format: 'json',
  });
  await stack.workflow.idle();
  before = await footprint();
}, 120_000);

afterAll(async () => {
  await stack?.workflow.idle();
  await stack?.stop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------

describe('hostile requests to the local stack', () => {
  it('has a body limit only for routes that exist', () => {
    const keys = new Set(ROUTES.map(routeKey));
    expect(Object.keys(BODY_LIMITS).filter((key) => !keys.has(key))).toEqual([]);
    expect(Object.keys(POISONS).filter((key) => !keys.has(key))).toEqual([]);
  });

  it.each(ROUTES.map((route, index) => [routeKey(route), route, index] as const))(
    '%s answers every hostile request with a 4xx problem',
    async (_key, route, index) => {
      await fc.assert(
        fc.asyncProperty(requestFor(route), async (sent) => {
          await exchange(sent);
        }),
        { seed: SEED + index, numRuns: RUNS_PER_ROUTE, endOnFailure: true },
      );
    },
    120_000,
  );

  it('answers paths that are no route, with any method, with a 4xx problem', async () => {
    await fc.assert(
      fc.asyncProperty(hostilePathRequest, async (sent) => {
        await exchange(sent);
      }),
      { seed: SEED, numRuns: RUNS_HOSTILE_PATHS, endOnFailure: true },
    );
  }, 120_000);

  it.each(ROUTES.map((route, index) => [routeKey(route), route, index] as const))(
    '%s: the API Lambda answers decoded, hostile API Gateway events with a 4xx problem',
    async (_key, route, index) => {
      await fc.assert(
        fc.asyncProperty(lambdaCaseFor(route), async (lambdaCase) => {
          const response = await invokeApi(lambdaCase);
          expectProblemAnswer(
            {
              method: lambdaCase.method,
              target: lambdaCase.path,
              headers: Object.entries(lambdaCase.headers),
              caller: lambdaCase.caller,
              label: `${lambdaCase.label} (Lambda event)`,
            },
            response,
          );
        }),
        { seed: SEED + 1000 + index, numRuns: RUNS_LAMBDA_EVENTS, endOnFailure: true },
      );
    },
    120_000,
  );

  it('answers what the HTTP parser refuses with a 4xx problem too', async () => {
    await fc.assert(
      fc.asyncProperty(transportRequest, async ({ label, bytes }) => {
        const response = await sendRaw(port, bytes, { endWhenIdleMs: 1000, allowSilence: true });
        // Bytes that hold no request (only blank lines) get no answer: there is nothing to refuse.
        if (response === SILENCE) return;
        expectProblemAnswer(
          {
            method: bytes.toString('latin1').split(' ')[0] ?? '',
            target: '',
            headers: [],
            caller: 'garbage',
            label,
          },
          response,
        );
      }),
      { seed: SEED, numRuns: RUNS_TRANSPORT, endOnFailure: true },
    );
  }, 120_000);

  describe('the limits and refusals the issue names', () => {
    const admin = () => ['authorization', `Bearer ${stack.admin.token}`] as const;
    const send = (request: Omit<Sent, 'caller' | 'label'> & { caller?: Sent['caller'] }) =>
      exchange({
        caller: 'admin',
        label: 'example',
        ...request,
        headers: [['host', 'localhost'], ...request.headers],
      });
    const problemOf = (response: RawResponse) =>
      JSON.parse(response.body.toString('utf8')) as Record<string, unknown>;

    it('answers a 20 MB body with a 413 problem from the front', async () => {
      const response = await send({
        method: 'POST',
        target: '/v1/events',
        headers: [admin(), ['content-type', 'application/json']],
        body: Buffer.alloc(20 * 1024 * 1024, 0x20),
      });
      expect(response.status).toBe(413);
      expect(problemOf(response)).toMatchObject({
        type: 'urn:keeptrusts:problem:too_large',
        status: 413,
        detail: `The request body is larger than ${MAX_BODY_BYTES} bytes, the most the API takes.`,
      });
    });

    it("answers a body over the route's own limit with a 413 problem from the API", async () => {
      const response = await send({
        method: 'POST',
        target: '/v1/tokens',
        headers: [admin(), ['content-type', 'application/json']],
        body: Buffer.from(JSON.stringify({ name: 'x'.repeat(70 * 1024), scopes: ['admin'] })),
      });
      expect(response.status).toBe(413);
      expect(problemOf(response).detail).toMatch(
        /^The request body is \d+ bytes; POST \/v1\/tokens takes at most 65536 bytes\.$/,
      );
      const events = await send({
        method: 'POST',
        target: '/v1/events',
        headers: [admin(), ['content-type', 'application/json']],
        body: Buffer.alloc((BODY_LIMITS['POST /v1/events'] ?? 0) + 1, 0x20),
      });
      expect(events.status).toBe(413);
    });

    it('answers headers over 16 KiB with a 431 problem', async () => {
      const response = await send({
        method: 'GET',
        target: '/v1/keys',
        headers: [admin(), ['x-padding', 'p'.repeat(17 * 1024)]],
      });
      expect(response.status).toBe(431);
      expect(problemOf(response)).toMatchObject({
        type: 'urn:keeptrusts:problem:headers_too_large',
        status: 431,
      });
    });

    it('answers a request without Authorization with a 401 problem', async () => {
      const response = await send({ method: 'GET', target: '/v1/keys', headers: [], caller: 'garbage' });
      expect(response.status).toBe(401);
      expect(problemOf(response)).toMatchObject({
        type: 'urn:keeptrusts:problem:unauthenticated',
        status: 401,
      });
    });

    it("answers another method on a route's path with 405 and Allow, and no route with 404", async () => {
      const wrong = await send({ method: 'PUT', target: '/v1/exports', headers: [admin()] });
      expect(wrong.status).toBe(405);
      expect(wrong.headers.allow).toBe('POST, GET');
      expect(problemOf(wrong)).toMatchObject({ status: 405, allow: ['POST', 'GET'] });
      const missing = await send({ method: 'GET', target: '/v1/nothing-here', headers: [admin()] });
      expect(missing.status).toBe(404);
      expect(problemOf(missing).detail).toBe('route GET /v1/nothing-here was not found');
    });

    it('names the field and the rule for a wrong content type, malformed JSON, deep nesting and a body on a GET', async () => {
      const post = (type: string, body: string) =>
        send({
          method: 'POST',
          target: '/v1/tokens',
          headers: [admin(), ['content-type', type]],
          body: Buffer.from(body),
        });
      expect(problemOf(await post('text/plain', '{}')).errors).toEqual([
        { field: 'content-type', rule: 'must be application/json' },
      ]);
      expect(problemOf(await post('application/json', '{"name":')).errors).toEqual([
        { field: 'body', rule: 'must be valid JSON' },
      ]);
      expect(
        problemOf(await post('application/json', `${'['.repeat(100)}${']'.repeat(100)}`)).errors,
      ).toEqual([
        { field: 'body', rule: `must nest arrays and objects at most ${MAX_JSON_DEPTH} levels deep` },
      ]);
      const onGet = await send({
        method: 'GET',
        target: '/v1/keys',
        headers: [admin(), ['content-type', 'application/json']],
        body: Buffer.from('{}'),
      });
      expect(onGet.status).toBe(400);
      expect(problemOf(onGet).errors).toEqual([{ field: 'body', rule: 'must be empty for GET' }]);
    });
  });

  it('left no item, object or audit entry behind, and Object.prototype as it was', async () => {
    await stack.workflow.idle();
    expect(await footprint()).toEqual(before);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(
      Object.getOwnPropertyNames(Object.prototype).filter((name) => /polluted|admin|scopes/.test(name)),
    ).toEqual([]);
  });
});
