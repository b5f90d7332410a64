import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DeleteBucketCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { SigV4Signer } from '../../cli/api/sigv4-signer.ts';
import { SCOPES, type Scope } from '../../functions/core/auth/token-record.ts';
import { generateToken, newTokenRecord } from '../../functions/core/auth/tokens.ts';
import { newExportId } from '../../functions/core/export/export-id.ts';
import { newExportJob } from '../../functions/core/export/export-job.ts';
import { ROUTES } from '../../functions/handlers/api.ts';
import { LOCAL_DELIVERY_BUCKET } from '../../infra/local/local-config.ts';
import { type LocalStack, LOCAL_RESOURCES, startLocalStack } from '../../infra/local/local-stack.ts';
import { countItems } from '../support/count-items.ts';
import { NO_RETRY_WAIT, testStackConfig } from '../support/local-stack-config.ts';

/**
 * Issue 12's scope matrix: every route of the API router (ROUTES, so a new route cannot be left
 * out) called by a token of every scope, with no token, an expired, a revoked and another team's
 * token, and SigV4-signed as the local IAM caller (with the right secret and a wrong one), against
 * the in-process local stack (the authorizer and API handlers Lambda runs). A
 * request answers 2xx exactly where its scope allows it, 401/403/404 otherwise, and a refused
 * request writes nothing: no item in either table, no object in the artifact or delivery bucket.
 */

const FROM = '2026-04-01T00:00:00Z';
const TO = '2026-04-23T23:59:59Z';
const TEAM = 'engineering';
const OTHER_TEAM = 'support';
/** On the allow-list but not in S3: deliveries to it fail, so the export may be redelivered. */
const MISSING_BUCKET = 'matrix-missing';

type Need = Scope | 'any';

interface Request {
  readonly path: string;
  readonly body?: unknown;
}

interface RouteCase {
  /** The scope the route needs (admin implies it); `any` for a route any valid token may call. */
  readonly need: Need;
  /** The answer to a token of another team that holds every scope but admin. */
  readonly otherTeam: number;
  /** The request; `allowed` says whether it will succeed (so it may need a fixture of its own). */
  readonly request: (allowed: boolean) => Promise<Request>;
}

type Caller =
  | { readonly kind: 'none' }
  // SigV4-signed with the local credential pair (an IAM caller: every scope, as the IAM policy
  // is what scopes it on AWS), or with a wrong secret.
  | { readonly kind: 'iam' | 'iam, wrong secret'; readonly secret: string }
  | { readonly kind: 'expired' | 'revoked' | 'other team'; readonly token: string }
  | { readonly kind: 'scope'; readonly scope: Scope; readonly token: string };

let stack: LocalStack;
let dataDir: string;
let sequence = 0;
const fixtures = {
  exportId: '',
  deletableExportId: '',
  undeliveredExportId: '',
  cancellableExportId: '',
  schedule: 'matrix-fixture',
  tokenId: '',
};
const callers: Caller[] = [];

/** The request as the caller sends it: a Bearer token, a SigV4 signature, or neither. */
async function sendAs(caller: Caller, method: string, route: string, body?: unknown): Promise<Response> {
  if (caller.kind !== 'iam' && caller.kind !== 'iam, wrong secret') {
    return send(method, route, 'token' in caller ? caller.token : undefined, body);
  }
  const text = body === undefined ? undefined : JSON.stringify(body);
  const headers = await new SigV4Signer({
    credentials: async () => ({ accessKeyId: stack.aws.accessKeyId, secretAccessKey: caller.secret }),
    region: stack.aws.region,
  }).sign({
    method,
    url: new URL(`${stack.apiUrl}${route}`),
    headers: text === undefined ? {} : { 'content-type': 'application/json' },
    body: text,
  });
  return fetch(`${stack.apiUrl}${route}`, { method, headers, ...(text === undefined ? {} : { body: text }) });
}

function send(method: string, route: string, token: string | undefined, body?: unknown): Promise<Response> {
  return fetch(`${stack.apiUrl}${route}`, {
    method,
    headers: {
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

async function asAdmin<T>(method: string, route: string, body?: unknown): Promise<T> {
  const response = await send(method, route, stack.admin.token, body);
  if (!response.ok) throw new Error(`${method} ${route}: ${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}

async function completedExport(bucket = LOCAL_DELIVERY_BUCKET): Promise<string> {
  const job = await asAdmin<{ id: string }>('POST', '/v1/exports', {
    from: FROM,
    to: TO,
    format: 'json',
    filters: { team: TEAM },
    delivery: { s3Bucket: bucket, s3Prefix: 'matrix/' },
  });
  await stack.workflow.idle();
  return job.id;
}

/** A queued export of the team whose workflow never starts (a start still to come), to cancel. */
async function queuedExport(): Promise<string> {
  const job = newExportJob(
    { range: { from: FROM, to: TO }, format: 'json', filters: { team: TEAM } },
    { tokenId: 'tok_matrixfixture', name: 'matrix', scopes: ['admin'] },
    new Date(),
    newExportId(),
  );
  await stack.adapters.jobStore.createJob(job);
  return job.id;
}

async function newSchedule(): Promise<string> {
  sequence += 1;
  const name = `matrix-${sequence}`;
  await asAdmin('POST', '/v1/export-schedules', scheduleBody(name));
  return name;
}

function scheduleBody(name: string): unknown {
  // Once a year, so the local scheduler does not fire it while the matrix counts writes.
  return { name, cron: '0 2 1 1 *', window: '7d', format: 'json', filters: { team: TEAM } };
}

function decisionEvent(): unknown {
  sequence += 1;
  return {
    id: `evt_matrix${String(sequence).padStart(6, '0')}`,
    timestamp: `2026-04-10T08:00:${String(sequence % 60).padStart(2, '0')}Z`,
    model: 'gpt-4o-mini',
    policy: 'pii-redaction',
    action: 'redact',
    result: 'modified',
    tokens: 100,
    latency_ms: 250,
    team: TEAM,
  };
}

const CASES: Readonly<Record<string, RouteCase>> = {
  'POST /v1/events': {
    need: 'events:write',
    otherTeam: 403,
    request: async () => ({ path: '/v1/events', body: { events: [decisionEvent()] } }),
  },
  'POST /v1/exports': {
    need: 'exports:write',
    otherTeam: 403,
    request: async () => ({
      path: '/v1/exports',
      body: { from: FROM, to: TO, format: 'json', filters: { team: TEAM } },
    }),
  },
  'GET /v1/exports': { need: 'exports:read', otherTeam: 200, request: async () => ({ path: '/v1/exports' }) },
  'GET /v1/exports/{id}': {
    need: 'exports:read',
    otherTeam: 404,
    request: async () => ({ path: `/v1/exports/${fixtures.exportId}` }),
  },
  'GET /v1/exports/{id}/download': {
    need: 'exports:read',
    otherTeam: 404,
    request: async () => ({ path: `/v1/exports/${fixtures.exportId}/download` }),
  },
  'GET /v1/exports/{id}/manifest': {
    need: 'exports:read',
    otherTeam: 404,
    request: async () => ({ path: `/v1/exports/${fixtures.exportId}/manifest` }),
  },
  'DELETE /v1/exports/{id}': {
    need: 'exports:write',
    otherTeam: 404,
    // Deleting a deleted export answers it again, so one fixture serves every caller.
    request: async () => ({ path: `/v1/exports/${fixtures.deletableExportId}` }),
  },
  'POST /v1/exports/{id}/cancel': {
    need: 'exports:write',
    otherTeam: 404,
    // Cancelling a cancelled export answers it again, so one queued fixture serves every caller.
    request: async () => ({ path: `/v1/exports/${fixtures.cancellableExportId}/cancel`, body: {} }),
  },
  'POST /v1/exports/{id}/redeliver': {
    need: 'exports:write',
    otherTeam: 404,
    // Its delivery fails every time, so it may always be redelivered (a delivered one is a 409).
    request: async () => ({ path: `/v1/exports/${fixtures.undeliveredExportId}/redeliver` }),
  },
  'POST /v1/export-schedules': {
    need: 'schedules:write',
    otherTeam: 403,
    request: async () => {
      sequence += 1;
      return { path: '/v1/export-schedules', body: scheduleBody(`matrix-new-${sequence}`) };
    },
  },
  'GET /v1/export-schedules': {
    need: 'exports:read',
    otherTeam: 200,
    request: async () => ({ path: '/v1/export-schedules' }),
  },
  'GET /v1/export-schedules/{name}': {
    need: 'exports:read',
    otherTeam: 404,
    request: async () => ({ path: `/v1/export-schedules/${fixtures.schedule}` }),
  },
  'DELETE /v1/export-schedules/{name}': {
    need: 'schedules:write',
    otherTeam: 404,
    request: async (allowed) => ({
      path: `/v1/export-schedules/${allowed ? await newSchedule() : fixtures.schedule}`,
    }),
  },
  'POST /v1/export-schedules/{name}/pause': {
    need: 'schedules:write',
    otherTeam: 404,
    request: async () => ({ path: `/v1/export-schedules/${fixtures.schedule}/pause` }),
  },
  'POST /v1/export-schedules/{name}/resume': {
    need: 'schedules:write',
    otherTeam: 404,
    request: async () => ({ path: `/v1/export-schedules/${fixtures.schedule}/resume` }),
  },
  'POST /v1/export-schedules/{name}/run': {
    need: 'schedules:write',
    otherTeam: 404,
    request: async () => ({
      path: `/v1/export-schedules/${fixtures.schedule}/run`,
      body: { at: '2026-01-01T02:00:00Z' },
    }),
  },
  'GET /v1/keys': { need: 'any', otherTeam: 200, request: async () => ({ path: '/v1/keys' }) },
  // The audit trail covers every team: a team token is refused it (read-audit.ts).
  'GET /v1/audit': { need: 'audit:read', otherTeam: 403, request: async () => ({ path: '/v1/audit' }) },
  'GET /v1/audit/checkpoint': {
    need: 'audit:read',
    otherTeam: 403,
    request: async () => ({ path: '/v1/audit/checkpoint' }),
  },
  'POST /v1/tokens': {
    need: 'admin',
    otherTeam: 403,
    request: async () => {
      sequence += 1;
      return { path: '/v1/tokens', body: { name: `matrix-${sequence}`, scopes: ['exports:read'] } };
    },
  },
  'GET /v1/tokens': { need: 'admin', otherTeam: 403, request: async () => ({ path: '/v1/tokens' }) },
  'DELETE /v1/tokens/{id}': {
    need: 'admin',
    otherTeam: 403,
    // Revoking a revoked token answers it again, so one fixture serves every caller.
    request: async () => ({ path: `/v1/tokens/${fixtures.tokenId}` }),
  },
};

/** Items in both tables and objects in both buckets: what a refused request must leave as it was. */
async function footprint(): Promise<Record<string, number>> {
  const { dynamodb, s3 } = stack.adapters.clients;
  // Fewer than 1,000 objects each: one page (s3rver cannot continue a truncated listing).
  const objects = async (bucket: string) =>
    (await s3.send(new ListObjectsV2Command({ Bucket: bucket }))).KeyCount ?? 0;
  return {
    events: await countItems(dynamodb, LOCAL_RESOURCES.eventsTable),
    control: await countItems(dynamodb, LOCAL_RESOURCES.controlTable),
    artifacts: await objects(LOCAL_RESOURCES.artifactBucket),
    delivered: await objects(LOCAL_DELIVERY_BUCKET),
  };
}

function expectedStatus(routeCase: RouteCase, caller: Caller): number | '2xx' {
  switch (caller.kind) {
    case 'none':
    case 'expired':
    case 'revoked':
      return 401;
    case 'other team':
      return routeCase.otherTeam;
    case 'iam':
      return '2xx';
    case 'iam, wrong secret':
      return 403;
    case 'scope':
      return routeCase.need === 'any' || caller.scope === 'admin' || caller.scope === routeCase.need
        ? '2xx'
        : 403;
  }
}

function callerName(caller: Caller): string {
  return caller.kind === 'scope' ? caller.scope : caller.kind;
}

const written: string[] = [];
let restoreWrites: (() => void) | undefined;

beforeAll(async () => {
  // Every line the stack's code writes (Lambda logger output included) is kept, to be searched
  // for secrets at the end.
  const stdout = process.stdout.write.bind(process.stdout);
  const stderr = process.stderr.write.bind(process.stderr);
  const keep =
    (target: typeof stdout) =>
    (chunk: unknown, ...rest: unknown[]): boolean => {
      written.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8'));
      return (target as (...args: unknown[]) => boolean)(chunk, ...rest);
    };
  process.stdout.write = keep(stdout) as typeof process.stdout.write;
  process.stderr.write = keep(stderr) as typeof process.stderr.write;
  restoreWrites = () => {
    process.stdout.write = stdout;
    process.stderr.write = stderr;
  };

  dataDir = mkdtempSync(path.join(tmpdir(), 'kt-matrix-'));
  stack = await startLocalStack(
    testStackConfig(dataDir, { logRequests: true, deliveryBuckets: [LOCAL_DELIVERY_BUCKET, MISSING_BUCKET] }),
    { onRequest: (line) => written.push(line), retryIntervalOverrides: NO_RETRY_WAIT },
  );
  await stack.adapters.clients.s3.send(new DeleteBucketCommand({ Bucket: MISSING_BUCKET }));
  await asAdmin('POST', '/v1/events', { events: Array.from({ length: 5 }, decisionEvent) });
  fixtures.exportId = await completedExport();
  fixtures.deletableExportId = await completedExport();
  fixtures.undeliveredExportId = await completedExport(MISSING_BUCKET);
  fixtures.cancellableExportId = await queuedExport();
  await asAdmin('POST', '/v1/export-schedules', scheduleBody(fixtures.schedule));
  fixtures.tokenId = (
    await asAdmin<{ id: string }>('POST', '/v1/tokens', { name: 'to-revoke', scopes: ['exports:read'] })
  ).id;

  for (const scope of SCOPES) {
    const created = await asAdmin<{ token: string }>('POST', '/v1/tokens', {
      name: `only-${scope.replace(':', '-')}`,
      scopes: [scope],
    });
    callers.push({ kind: 'scope', scope, token: created.token });
  }
  const other = await asAdmin<{ token: string }>('POST', '/v1/tokens', {
    name: 'other-team',
    scopes: SCOPES.filter((scope) => scope !== 'admin'),
    team: OTHER_TEAM,
  });
  callers.push({ kind: 'other team', token: other.token });
  const revoked = await asAdmin<{ token: string; id: string }>('POST', '/v1/tokens', {
    name: 'revoked',
    scopes: ['admin'],
  });
  await asAdmin('DELETE', `/v1/tokens/${revoked.id}`);
  callers.push({ kind: 'revoked', token: revoked.token });
  // An expiry cannot be set in the past through the API; the store takes any record.
  const expired = generateToken();
  await stack.adapters.tokenStore.putToken(
    newTokenRecord(expired, {
      name: 'expired',
      scopes: ['admin'],
      expiresAt: new Date(Date.now() - 1000).toISOString(),
    }),
  );
  callers.push({ kind: 'expired', token: expired });
  callers.push({ kind: 'none' });
  callers.push({ kind: 'iam', secret: stack.aws.secretAccessKey });
  callers.push({ kind: 'iam, wrong secret', secret: 'x'.repeat(40) });
  await stack.workflow.idle();
}, 120_000);

afterAll(async () => {
  restoreWrites?.();
  await stack?.workflow.idle();
  await stack?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('the scope matrix', () => {
  it('has a case for every route of the API router, and no other', () => {
    expect(Object.keys(CASES).sort()).toEqual(ROUTES.map((route) => `${route.method} ${route.path}`).sort());
  });

  it.each(ROUTES.map((route) => [`${route.method} ${route.path}`, route.method] as const))(
    '%s answers 2xx only where the scope allows it, and a refusal writes nothing',
    async (key, method) => {
      const routeCase = CASES[key];
      if (routeCase === undefined) throw new Error(`no matrix case for ${key}`);
      const outcomes: string[] = [];
      const wanted: string[] = [];
      for (const caller of callers) {
        const expected = expectedStatus(routeCase, caller);
        const request = await routeCase.request(
          expected === '2xx' || (typeof expected === 'number' && expected < 300),
        );
        const before = await footprint();
        const response = await sendAs(caller, method, request.path, request.body);
        const text = await response.text();
        await stack.workflow.idle();
        const got =
          response.status >= 200 && response.status < 300 && expected === '2xx' ? '2xx' : response.status;
        outcomes.push(`${callerName(caller)}: ${got}`);
        wanted.push(`${callerName(caller)}: ${expected}`);
        if (response.status >= 400) {
          expect({ caller: callerName(caller), footprint: await footprint() }).toEqual({
            caller: callerName(caller),
            footprint: before,
          });
        }
        if (caller.kind === 'scope' && expected === 403) {
          // The one guard's words, naming the scope that is missing.
          expect(JSON.parse(text)).toMatchObject({
            status: 403,
            detail: `This action needs a token with the ${routeCase.need} scope (or admin).`,
          });
        }
      }
      expect(outcomes).toEqual(wanted);
    },
    60_000,
  );

  it('shows another team only its own team in lists', async () => {
    const other = callers.find((caller) => caller.kind === 'other team');
    if (other === undefined || !('token' in other)) throw new Error('no other-team caller');
    const exports = (await (await send('GET', '/v1/exports', other.token)).json()) as { exports: unknown[] };
    expect(exports.exports).toEqual([]);
    const schedules = (await (await send('GET', '/v1/export-schedules', other.token)).json()) as {
      schedules: unknown[];
    };
    expect(schedules.schedules).toEqual([]);
  });

  it('never wrote a token secret (or the SigV4 secret) to a log line', () => {
    const secrets = [
      stack.admin.token,
      stack.aws.secretAccessKey,
      ...callers.flatMap((caller) => ('token' in caller ? [caller.token] : [])),
    ];
    const log = written.join('');
    expect(log.length).toBeGreaterThan(0);
    for (const secret of secrets) expect(log.includes(secret)).toBe(false);
  });
});
