import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ScanCommand } from '@aws-sdk/client-dynamodb';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { hashToken } from '../../functions/core/auth/tokens.ts';
import { handler as api } from '../../functions/handlers/api.ts';
import { handler as authorizer } from '../../functions/handlers/authorizer.ts';
import { type LocalStack, LOCAL_RESOURCES, startLocalStack } from '../../infra/local/local-stack.ts';
import { countItems } from '../support/count-items.ts';
import { testStackConfig } from '../support/local-stack-config.ts';
import { callApi } from '../support/call-api.ts';

/** Token management over the local stack: POST/GET /v1/tokens, DELETE /v1/tokens/{id}. */
let stack: LocalStack;
let dataDir: string;

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(tmpdir(), 'kt-tokens-'));
  stack = await startLocalStack(testStackConfig(dataDir));
}, 60_000);

afterAll(async () => {
  await stack?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

const call = (method: string, route: string, body?: unknown, token = stack.admin.token) =>
  callApi(stack, method, route, { body, token });

interface Created {
  token: string;
  id: string;
  name: string;
  scopes: string[];
  team?: string;
  expires?: string;
  created: string;
  status: string;
}

describe('token management', () => {
  it('creates a token and shows its secret once, uncached; lists it without secret or hash', async () => {
    const response = await call('POST', '/v1/tokens', {
      name: 'reader',
      scopes: ['exports:read'],
      team: 'engineering',
      expiresIn: '90d',
    });
    expect(response.status).toBe(201);
    expect(response.headers.get('cache-control')).toBe('no-store');
    const created = (await response.json()) as Created;
    expect(created).toEqual({
      token: expect.stringMatching(/^kt_[A-Za-z0-9_-]{43}$/),
      id: expect.stringMatching(/^tok_[0-9a-f]{12}$/),
      name: 'reader',
      scopes: ['exports:read'],
      team: 'engineering',
      created: expect.any(String),
      expires: expect.any(String),
      status: 'active',
    });
    const days = (Date.parse(created.expires!) - Date.parse(created.created)) / 86_400_000;
    expect(days).toBe(90);

    const listText = await (await call('GET', '/v1/tokens')).text();
    expect(listText).not.toContain(created.token);
    expect(listText).not.toContain(hashToken(created.token));
    const list = JSON.parse(listText) as { tokens: { id: string; name: string }[] };
    // Newest first; the local admin token is listed too.
    expect(list.tokens[0]).toMatchObject({ id: created.id, name: 'reader' });
    expect(list.tokens.map((t) => t.name)).toContain('local admin (created)');

    // The secret is stored nowhere: not in the table (only its hash), not in the audit entry.
    const items = await stack.adapters.clients.dynamodb.send(
      new ScanCommand({ TableName: LOCAL_RESOURCES.controlTable }),
    );
    expect(JSON.stringify(items.Items)).not.toContain(created.token);
    const audit = (await (await call('GET', `/v1/audit?subject=${created.id}`)).json()) as {
      entries: { action: string; subject: string; actor: string }[];
    };
    expect(audit.entries).toEqual([
      expect.objectContaining({
        action: 'token.created',
        subject: created.id,
        actor: expect.stringMatching(/^tok_/),
      }),
    ]);
    expect(JSON.stringify(audit)).not.toContain(created.token);
  });

  it('refuses an unknown field, a bad name, scope or expiry, naming each, and writes nothing', async () => {
    const before = await countItems(stack.adapters.clients.dynamodb, LOCAL_RESOURCES.controlTable);
    const response = await call('POST', '/v1/tokens', {
      name: 'bad name',
      scopes: ['exports:read', 'root'],
      expiresIn: 'forever',
      secret: 'mine',
    });
    expect(response.status).toBe(400);
    const problem = (await response.json()) as { errors: { field: string }[] };
    expect(problem.errors.map((e) => e.field).sort()).toEqual(['expiresIn', 'name', 'scopes[1]', 'secret']);
    expect(await countItems(stack.adapters.clients.dynamodb, LOCAL_RESOURCES.controlTable)).toBe(before);
  });

  it('revokes a token: its next request is a 401, revoking again answers the same, both audited once', async () => {
    const created = (await (
      await call('POST', '/v1/tokens', { name: 'short-lived', scopes: ['exports:read'] })
    ).json()) as Created;
    expect((await call('GET', '/v1/exports', undefined, created.token)).status).toBe(200);
    const revoked = await call('DELETE', `/v1/tokens/${created.id}`);
    expect(revoked.status).toBe(200);
    const view = (await revoked.json()) as { status: string; revoked: string };
    expect(view.status).toBe('revoked');
    const refused = await call('GET', '/v1/exports', undefined, created.token);
    expect(refused.status).toBe(401);
    expect(((await refused.json()) as { detail: string }).detail).toBe(
      'The API token is missing, malformed, unknown, expired or revoked.',
    );
    const again = await call('DELETE', `/v1/tokens/${created.id}`);
    expect(again.status).toBe(200);
    expect(((await again.json()) as { revoked: string }).revoked).toBe(view.revoked);
    const audit = (await (await call('GET', `/v1/audit?subject=${created.id}`)).json()) as {
      entries: { action: string }[];
    };
    expect(audit.entries.map((e) => e.action)).toEqual(['token.created', 'token.revoked']);
    expect((await call('DELETE', '/v1/tokens/tok_000000000000')).status).toBe(404);
  });

  it('refuses a revoked token in the API Lambda even when the authorizer answer was cached', async () => {
    const created = (await (
      await call('POST', '/v1/tokens', { name: 'cached', scopes: ['exports:read'] })
    ).json()) as Created;
    const event = {
      version: '2.0',
      routeKey: '$default',
      rawPath: '/v1/exports',
      rawQueryString: '',
      headers: { authorization: `Bearer ${created.token}` },
      isBase64Encoded: false,
      requestContext: { http: { method: 'GET', path: '/v1/exports' }, requestId: 'r1' },
    } as unknown as APIGatewayProxyEventV2;
    // What API Gateway would keep for up to its cache TTL: the answer while the token was live.
    const cached = await authorizer({ headers: event.headers } as never);
    const withCachedAnswer = () =>
      ({
        ...event,
        requestContext: { ...event.requestContext, authorizer: { lambda: { ...cached.context } } },
      }) as unknown as APIGatewayProxyEventV2;
    const context = {} as Context;
    const before = (await api(withCachedAnswer(), context)) as APIGatewayProxyStructuredResultV2;
    expect(before.statusCode).toBe(200);
    expect((await call('DELETE', `/v1/tokens/${created.id}`)).status).toBe(200);
    const after = (await api(withCachedAnswer(), context)) as APIGatewayProxyStructuredResultV2;
    expect(after.statusCode).toBe(401);
  });

  it("narrows a team token's unfiltered export to its team, and refuses one filtered to another team", async () => {
    const created = (await (
      await call('POST', '/v1/tokens', {
        name: 'support-exporter',
        scopes: ['exports:write'],
        team: 'support',
      })
    ).json()) as Created;
    const range = { from: '2026-04-01T00:00:00Z', to: '2026-04-02T00:00:00Z', format: 'json' };
    const narrowed = await call('POST', '/v1/exports', range, created.token);
    expect(narrowed.status).toBe(202);
    expect(((await narrowed.json()) as { filters: { team?: string } }).filters.team).toBe('support');
    const other = await call(
      'POST',
      '/v1/exports',
      { ...range, filters: { team: 'engineering' } },
      created.token,
    );
    expect(other.status).toBe(403);
    await stack.workflow.idle();
  });

  it('pages the list through gsi1 with a cursor, and refuses a made-up cursor or limit', async () => {
    const all = ((await (await call('GET', '/v1/tokens')).json()) as { tokens: { id: string }[] }).tokens;
    const paged: string[] = [];
    let cursor: string | undefined;
    do {
      const page = (await (
        await call('GET', `/v1/tokens?limit=2${cursor === undefined ? '' : `&cursor=${cursor}`}`)
      ).json()) as { tokens: { id: string }[]; cursor?: string };
      paged.push(...page.tokens.map((t) => t.id));
      cursor = page.cursor;
    } while (cursor !== undefined);
    expect(paged).toEqual(all.map((t) => t.id));
    expect((await call('GET', '/v1/tokens?cursor=abc')).status).toBe(400);
    expect((await call('GET', '/v1/tokens?limit=0')).status).toBe(400);
    const unknown = await call('GET', '/v1/tokens?limit=2&scope=admin');
    expect(unknown.status).toBe(400);
    expect(((await unknown.json()) as { errors: unknown }).errors).toEqual([
      { field: 'scope', rule: 'is not a parameter of the token listing (limit, cursor)' },
    ]);
  });

  it("keeps the token out of the Lambda logger's line for a failed request", async () => {
    const lines: string[] = [];
    const keep = (chunk: unknown) => {
      lines.push(String(chunk));
      return true;
    };
    // The logger writes errors to stderr and the rest to stdout: both are searched.
    const writes = [
      jest.spyOn(process.stdout, 'write').mockImplementation(keep),
      jest.spyOn(process.stderr, 'write').mockImplementation(keep),
    ];
    const fault = jest
      .spyOn(stack.adapters.jobStore, 'listJobs')
      .mockRejectedValue(new Error('the store broke while listing'));
    try {
      expect((await call('GET', '/v1/exports')).status).toBe(500);
    } finally {
      fault.mockRestore();
      for (const write of writes) write.mockRestore();
    }
    const logged = lines.join('');
    expect(logged).toContain('request failed');
    expect(logged).toContain('/v1/exports');
    expect(logged).not.toContain(stack.admin.token);
  });

  it("says where the local admin token is kept: the data folder's admin-token file", () => {
    expect(stack.admin.source).toBe('created');
    expect(stack.admin.file).toBe(path.join(dataDir, 'admin-token'));
  });
});
