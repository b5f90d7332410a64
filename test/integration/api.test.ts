import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { generateToken, newTokenRecord } from '../../functions/core/auth/tokens.ts';
import { ROUTES } from '../../functions/handlers/api.ts';
import type { ProblemDetails } from '../../functions/handlers/http/problem.ts';
import { QUERY_ROUTES } from '../../functions/handlers/http/query-rule.ts';
import { type PublicKeyInfo, verifyEvidenceSignature } from '../../functions/core/evidence/signing.ts';
import { countItems } from '../support/count-items.ts';
import { type LocalStack, LOCAL_RESOURCES, startLocalStack } from '../../infra/local/local-stack.ts';
import { testStackConfig } from '../support/local-stack-config.ts';

/** The API through the local HTTP front: the same authorizer and API handlers Lambda runs. */
describe('API over the local stack', () => {
  let stack: LocalStack;
  let dataDir: string;

  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'kt-api-'));
    stack = await startLocalStack(testStackConfig(dataDir));
  });

  afterAll(async () => {
    await stack?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const event = (n: number, overrides: Record<string, unknown> = {}) => ({
    id: `evt_api${String(n).padStart(5, '0')}`,
    timestamp: `2026-04-${String(1 + (n % 20)).padStart(2, '0')}T08:00:${String(n % 60).padStart(2, '0')}Z`,
    model: 'gpt-4o-mini',
    policy: 'pii-redaction',
    action: 'redact',
    result: 'modified',
    tokens: 100 + n,
    latency_ms: 250,
    team: n % 2 === 0 ? 'engineering' : 'support',
    ...overrides,
  });

  // `null` sends no Authorization header at all.
  const post = (body: unknown, token: string | null = stack.admin.token) =>
    fetch(`${stack.apiUrl}/v1/events`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(token === null ? {} : { authorization: `Bearer ${token}` }),
      },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });

  const storedCount = () => countItems(stack.adapters.clients.dynamodb, LOCAL_RESOURCES.eventsTable, 'D#');

  it('stores a batch and stores each event once when the same batch is sent again', async () => {
    const batch = { events: Array.from({ length: 120 }, (_, n) => event(n)) };
    const first = await post(batch);
    expect(first.status).toBe(200);
    expect(await first.json()).toEqual({
      received: 120,
      written: 120,
      alreadyStored: 0,
      conflicts: [],
      failed: [],
    });
    const second = await post(batch);
    expect(second.status).toBe(200);
    expect(await second.json()).toEqual({
      received: 120,
      written: 0,
      alreadyStored: 120,
      conflicts: [],
      failed: [],
    });
    expect(await storedCount()).toBe(120);
  });

  it('rejects a batch with one bad event whole, naming the event and field, and writes nothing', async () => {
    const before = await storedCount();
    const batch = {
      events: [event(1000), event(1001, { timestamp: '2026-04-20 09:15' }), event(1002, { tokens: -1 })],
    };
    const response = await post(batch);
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toBe('application/problem+json');
    const problem = (await response.json()) as ProblemDetails;
    expect(problem).toMatchObject({
      status: 400,
      title: 'Invalid request',
      type: 'urn:keeptrusts:problem:validation',
    });
    expect(problem.detail).toBe('2 of 3 events are invalid; nothing was stored.');
    expect(problem.errors).toEqual([
      {
        field: 'events[1].timestamp',
        rule: 'must be an ISO 8601 UTC timestamp such as 2026-04-20T09:15:32Z',
      },
      { field: 'events[2].tokens', rule: 'must be 0 or more' },
    ]);
    expect(await storedCount()).toBe(before);
  });

  it('refuses an unknown top-level field, naming it, and writes nothing', async () => {
    const before = await storedCount();
    const response = await post({ events: [event(1500)], mode: 'overwrite' });
    expect(response.status).toBe(400);
    expect(((await response.json()) as ProblemDetails).errors).toEqual([
      { field: 'mode', rule: 'is not a known field; the only field is events' },
    ]);
    expect(await storedCount()).toBe(before);
  });

  it('answers a body that is not JSON with a problem naming the body', async () => {
    const response = await post('{"events": [', stack.admin.token);
    expect(response.status).toBe(400);
    expect(((await response.json()) as ProblemDetails).errors).toEqual([
      { field: 'body', rule: 'must be valid JSON' },
    ]);
  });

  it('refuses a wrong token with a problem+json 401 and a request without one with 401', async () => {
    const wrong = await post({ events: [event(2000)] }, generateToken());
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('content-type')).toBe('application/problem+json');
    expect(await wrong.json()).toMatchObject({
      status: 401,
      detail: 'The API token is missing, malformed, unknown, expired or revoked.',
    });
    const malformed = await post({ events: [event(2000)] }, 'not-a-token');
    expect(malformed.status).toBe(401);
    // No Authorization at all: on AWS the gateway answers it with its own body; locally it is a
    // problem like every other refusal.
    const missing = await post({ events: [event(2000)] }, null);
    expect(missing.status).toBe(401);
    expect(missing.headers.get('content-type')).toBe('application/problem+json');
    expect(await missing.json()).toMatchObject({ type: 'urn:keeptrusts:problem:unauthenticated', status: 401 });
  });

  it('refuses a token without the events:write scope, and a team token writing another team', async () => {
    const reader = generateToken();
    await stack.adapters.tokenStore.putToken(
      newTokenRecord(reader, { name: 'reader', scopes: ['exports:read'] }),
    );
    const denied = await post({ events: [event(3000)] }, reader);
    expect(denied.status).toBe(403);
    expect(((await denied.json()) as ProblemDetails).detail).toContain('events:write');

    const support = generateToken();
    await stack.adapters.tokenStore.putToken(
      newTokenRecord(support, { name: 'support gateway', scopes: ['events:write'], team: 'support' }),
    );
    const before = await storedCount();
    const foreign = await post({ events: [event(3001), event(3002)] }, support);
    expect(foreign.status).toBe(403);
    expect(await storedCount()).toBe(before);
    const own = await post({ events: [event(3001)] }, support);
    expect(own.status).toBe(200);
  });

  it('refuses a query string on a route that takes none, naming each parameter, and serves those that take one', async () => {
    const admin = { authorization: `Bearer ${stack.admin.token}` };
    const keys = await fetch(`${stack.apiUrl}/v1/keys?format=csv&limit=5`, { headers: admin });
    expect(keys.status).toBe(400);
    expect(keys.headers.get('content-type')).toBe('application/problem+json');
    expect(((await keys.json()) as ProblemDetails).errors).toEqual([
      { field: 'format', rule: 'is not a parameter of this route, which takes none' },
      { field: 'limit', rule: 'is not a parameter of this route, which takes none' },
    ]);
    expect((await fetch(`${stack.apiUrl}/v1/keys`, { headers: admin })).status).toBe(200);
    expect((await fetch(`${stack.apiUrl}/v1/exports?limit=5`, { headers: admin })).status).toBe(200);
    // Every route named as taking a query is a route: a typo there would refuse a real route's query.
    const routeKeys = new Set(ROUTES.map((route) => `${route.method} ${route.path}`));
    for (const key of QUERY_ROUTES) expect(routeKeys).toContain(key);
  });

  it('answers an unknown route with a problem+json 404', async () => {
    const response = await fetch(`${stack.apiUrl}/v1/nothing-here`, {
      headers: { authorization: `Bearer ${stack.admin.token}` },
    });
    expect(response.status).toBe(404);
    expect(response.headers.get('content-type')).toBe('application/problem+json');
  });

  it('lists the public signing keys to any valid token, and the listed key verifies what the stack signs', async () => {
    const getKeys = (token: string | null) =>
      fetch(`${stack.apiUrl}/v1/keys`, {
        headers: token === null ? {} : { authorization: `Bearer ${token}` },
      });
    // Public keys are public: a token with no export or audit scope at all may read them.
    const gateway = generateToken();
    await stack.adapters.tokenStore.putToken(
      newTokenRecord(gateway, { name: 'gateway', scopes: ['events:write'] }),
    );
    const response = await getKeys(gateway);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/json');
    const { keys } = (await response.json()) as { keys: PublicKeyInfo[] };
    expect(keys).toEqual([
      {
        keyId: expect.stringMatching(/^kt-local-[0-9a-f]{16}$/),
        algorithm: 'ECDSA_P256_SHA256',
        publicKeyPem: expect.stringMatching(/^-----BEGIN PUBLIC KEY-----\n/),
        current: true,
        createdAt: expect.any(String),
      },
    ]);
    const message = Buffer.from('{"manifest":"exp_0123456789abcdefghjk"}');
    const signature = await stack.adapters.signer.sign(message);
    expect(signature.keyId).toBe(keys[0]!.keyId);
    expect(verifyEvidenceSignature(keys[0]!.publicKeyPem, message, signature.signature)).toBe(true);

    expect((await getKeys(generateToken())).status).toBe(401);
    expect((await getKeys(null)).status).toBe(401);
  });
});
