import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SigV4Signer } from '../../cli/api/sigv4-signer.ts';
import type { AuditEntry } from '../../functions/core/audit/audit-chain.ts';
import type { ProblemDetails } from '../../functions/handlers/http/problem.ts';
import { LOCAL_IAM_USER_ARN } from '../../infra/local/local-aws-credentials.ts';
import { type LocalStack, startLocalStack } from '../../infra/local/local-stack.ts';
import { SigV4Verifier } from '../../infra/local/sigv4-verifier.ts';
import { testStackConfig } from '../support/local-stack-config.ts';

/**
 * SigV4 through the local HTTP front, for real: requests signed by the CLI's signer with the
 * stack's own credential pair reach the API as the IAM caller; a wrong secret, a stale date, an
 * edited body, query or path, an unknown key or another region's scope is refused with a 403
 * problem, before the API runs (a refused POST creates no export).
 */

let stack: LocalStack;
let dataDir: string;

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(tmpdir(), 'kt-sigv4-'));
  stack = await startLocalStack(testStackConfig(dataDir));
}, 60_000);

afterAll(async () => {
  await stack?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

const EXPORT = { from: '2026-04-16T00:00:00Z', to: '2026-04-23T23:59:59Z', format: 'json' };

interface Signed {
  readonly method?: string;
  readonly route: string;
  readonly body?: string;
  readonly secret?: string;
  readonly accessKeyId?: string;
  readonly region?: string;
  readonly at?: Date;
}

/** Signs a request as `kt --auth sigv4` does; `send` changes what is actually sent afterwards. */
async function signed(
  request: Signed,
  send: { route?: string; body?: string; headers?: Record<string, string> } = {},
): Promise<Response> {
  const signer = new SigV4Signer({
    credentials: async () => ({
      accessKeyId: request.accessKeyId ?? stack.aws.accessKeyId,
      secretAccessKey: request.secret ?? stack.aws.secretAccessKey,
    }),
    region: request.region ?? stack.aws.region,
    ...(request.at === undefined ? {} : { now: () => request.at as Date }),
  });
  const method = request.method ?? (request.body === undefined ? 'GET' : 'POST');
  const headers = await signer.sign({
    method,
    url: new URL(`${stack.apiUrl}${request.route}`),
    headers: request.body === undefined ? {} : { 'content-type': 'application/json' },
    body: request.body,
  });
  const body = send.body ?? request.body;
  return fetch(`${stack.apiUrl}${send.route ?? request.route}`, {
    method,
    headers: { ...headers, ...send.headers },
    ...(body === undefined ? {} : { body }),
  });
}

async function problem(response: Response): Promise<ProblemDetails> {
  expect(response.status).toBe(403);
  expect(response.headers.get('content-type')).toBe('application/problem+json');
  const body = (await response.json()) as ProblemDetails;
  expect(body).toMatchObject({ type: 'urn:keeptrusts:problem:forbidden', title: 'Forbidden', status: 403 });
  return body;
}

const jobCount = async () => (await stack.adapters.jobStore.listJobs({ limit: 100 })).jobs.length;

async function auditEntries(): Promise<AuditEntry[]> {
  const response = await fetch(`${stack.apiUrl}/v1/audit?limit=100`, {
    headers: { authorization: `Bearer ${stack.admin.token}` },
  });
  expect(response.status).toBe(200);
  return ((await response.json()) as { entries: AuditEntry[] }).entries;
}

describe('the local credential pair', () => {
  it('is AWS-shaped and kept in the data dir, owner-only, as a shared credentials profile', async () => {
    expect(stack.aws.accessKeyId).toMatch(/^KTLOCAL[A-Z2-7]{13}$/);
    expect(stack.aws.secretAccessKey).toMatch(/^[A-Za-z0-9+/]{40}$/);
    expect(stack.aws.region).toBe('us-east-1');
    expect(stack.aws.source).toBe('created');
    const text = await readFile(stack.aws.file, 'utf8');
    expect(text).toContain(`[keeptrusts-local]\naws_access_key_id = ${stack.aws.accessKeyId}\n`);
    expect(text).toContain(`aws_secret_access_key = ${stack.aws.secretAccessKey}\n`);
    expect(statSync(stack.aws.file).mode & 0o077).toBe(0);
  });
});

describe('SigV4 through the local front', () => {
  it('lets a correctly signed request through as the IAM caller, with a query', async () => {
    const response = await signed({ route: '/v1/exports?limit=5' });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ exports: [] });
  });

  it('records the IAM caller as the actor and owner of an export it creates', async () => {
    const response = await signed({ route: '/v1/exports', body: JSON.stringify(EXPORT) });
    expect(response.status).toBe(202);
    const { id } = (await response.json()) as { id: string };
    const created = (await auditEntries()).find((entry) => entry.action === 'export.created' && entry.subject === id);
    expect(created?.actor).toBe(`iam:${LOCAL_IAM_USER_ARN}`);
    expect((await stack.adapters.jobStore.getJob(id))?.value.createdBy).toBe(`iam:${LOCAL_IAM_USER_ARN}`);
  });

  it('refuses a wrong secret, and the refused POST creates nothing', async () => {
    const before = await jobCount();
    const auditBefore = (await auditEntries()).length;
    const body = await problem(
      await signed({ route: '/v1/exports', body: JSON.stringify(EXPORT), secret: 'x'.repeat(40) }),
    );
    expect(body.detail).toMatch(/^Signature mismatch/);
    expect(await jobCount()).toBe(before);
    expect((await auditEntries()).length).toBe(auditBefore);
  });

  it('refuses a date more than 5 minutes old or ahead', async () => {
    const stale = await problem(await signed({ route: '/v1/exports', at: new Date(Date.now() - 6 * 60_000) }));
    expect(stale.detail).toMatch(/^Request time too skewed/);
    const ahead = await problem(await signed({ route: '/v1/exports', at: new Date(Date.now() + 6 * 60_000) }));
    expect(ahead.detail).toMatch(/^Request time too skewed/);
    // Within the window is fine, as on AWS.
    expect((await signed({ route: '/v1/exports', at: new Date(Date.now() - 4 * 60_000) })).status).toBe(200);
  });

  it('refuses an edited body, whether or not x-amz-content-sha256 was edited with it, and writes nothing', async () => {
    const before = await jobCount();
    const original = JSON.stringify(EXPORT);
    const edited = JSON.stringify({ ...EXPORT, from: '2026-01-01T00:00:00Z' });
    const kept = await problem(await signed({ route: '/v1/exports', body: original }, { body: edited }));
    expect(kept.detail).toMatch(/^Body hash mismatch/);
    const rehashed = await problem(
      await signed(
        { route: '/v1/exports', body: original },
        {
          body: edited,
          headers: { 'x-amz-content-sha256': createHash('sha256').update(edited).digest('hex') },
        },
      ),
    );
    expect(rehashed.detail).toMatch(/^Signature mismatch/);
    const unsigned = await problem(
      await signed({ route: '/v1/exports', body: original }, { headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } }),
    );
    expect(unsigned.detail).toMatch(/^Body hash mismatch/);
    expect(await jobCount()).toBe(before);
  });

  it('refuses an edited query', async () => {
    const body = await problem(await signed({ route: '/v1/exports?limit=5' }, { route: '/v1/exports?limit=50' }));
    expect(body.detail).toMatch(/^Signature mismatch/);
    await problem(await signed({ route: '/v1/exports?limit=5' }, { route: '/v1/exports?limit=5&status=failed' }));
  });

  it('refuses a signature replayed on another path or method', async () => {
    const response = await signed({ route: '/v1/exports' });
    expect(response.status).toBe(200);
    const replayed = await problem(await signed({ route: '/v1/exports' }, { route: '/v1/tokens' }));
    expect(replayed.detail).toMatch(/^Signature mismatch/);
    const before = await jobCount();
    const headers = await new SigV4Signer({
      credentials: async () => stack.aws,
      region: stack.aws.region,
    }).sign({ method: 'GET', url: new URL(`${stack.apiUrl}/v1/exports`), headers: {}, body: undefined });
    await problem(
      await fetch(`${stack.apiUrl}/v1/exports`, {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/json' },
        body: '',
      }),
    );
    expect(await jobCount()).toBe(before);
  });

  it('refuses an unknown access key and a scope for another region or service', async () => {
    const unknown = await problem(await signed({ route: '/v1/exports', accessKeyId: 'AKIAIOSFODNN7EXAMPLE' }));
    expect(unknown.detail).toBe('Unknown access key: AKIAIOSFODNN7EXAMPLE is not a key this API knows.');
    const region = await problem(await signed({ route: '/v1/exports', region: 'eu-west-1' }));
    expect(region.detail).toMatch(/^Wrong credential scope: eu-west-1\/execute-api\/aws4_request/);
  });

  it('refuses a malformed signature header without reaching the token authorizer', async () => {
    const response = await fetch(`${stack.apiUrl}/v1/exports`, {
      headers: { authorization: 'AWS4-HMAC-SHA256 Credential=nonsense' },
    });
    expect((await problem(response)).detail).toMatch(/not a well-formed AWS4-HMAC-SHA256 signature/);
  });

  it('still serves Bearer tokens beside it', async () => {
    const response = await fetch(`${stack.apiUrl}/v1/exports`, {
      headers: { authorization: `Bearer ${stack.admin.token}` },
    });
    expect(response.status).toBe(200);
  });
});

describe('SigV4Verifier', () => {
  const key = { accessKeyId: 'KTLOCALAAAAAAAAAAAAA', secretAccessKey: 's'.repeat(40), caller: { userArn: 'arn:x' } };
  const at = new Date('2026-04-20T09:15:32Z');
  const verifier = new SigV4Verifier({ keys: [key], region: 'us-east-1', now: () => at });
  const sign = (headers: Record<string, string> = {}) =>
    new SigV4Signer({ credentials: async () => key, region: 'us-east-1', now: () => at }).sign({
      method: 'GET',
      url: new URL('http://localhost:8080/v1/keys'),
      headers,
      body: undefined,
    });
  const arrived = (headers: Record<string, string>) => ({
    method: 'GET',
    target: '/v1/keys',
    headers: { host: 'localhost:8080', ...headers },
    body: Buffer.alloc(0),
  });

  it('returns the caller of a good signature', async () => {
    await expect(verifier.verify(arrived(await sign()))).resolves.toBe(key.caller);
  });

  it('refuses a date that does not exist, and a scope day other than the request date', async () => {
    const headers = await sign();
    await expect(verifier.verify(arrived({ ...headers, 'x-amz-date': '20261320T091532Z' }))).rejects.toThrow(
      /no valid X-Amz-Date/,
    );
    await expect(verifier.verify(arrived({ ...headers, 'x-amz-date': '20260421T091532Z' }))).rejects.toThrow(
      /credential scope's date 20260420/,
    );
  });

  it('refuses a signed header missing from the request, and a session token it did not issue', async () => {
    const headers = await sign({ 'idempotency-key': 'k' });
    const { 'idempotency-key': _dropped, ...rest } = headers;
    await expect(verifier.verify(arrived(rest))).rejects.toThrow(/signed header idempotency-key is not in the request/);
    await expect(verifier.verify(arrived({ ...headers, 'x-amz-security-token': 't' }))).rejects.toThrow(
      /Session tokens are not accepted/,
    );
  });
});
