import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApiError, AuthError, exitCodeFor, NetworkError, UsageError } from '../../../cli/errors.ts';
import {
  ApiClient,
  BearerSigner,
  backoffDelay,
  createApiClient,
  DEFAULT_API_URL,
  errorForResponse,
  type FetchLike,
  parseProblem,
  renderProblem,
  resolveApiConfig,
  retryAfterMs,
} from '../../../cli/http-client.ts';
import { rejection } from './helpers.ts';

const TOKEN = 'kt_test_token_123';

describe('problem+json rendering', () => {
  const problem = {
    type: 'https://keeptrusts.dev/problems/validation',
    title: 'Invalid request',
    status: 400,
    detail: '3 of 500 events are invalid; nothing was stored.',
    errors: [
      {
        field: 'events[3].timestamp',
        rule: 'must be an ISO 8601 UTC timestamp such as 2026-04-20T09:15:32Z',
      },
      { field: 'events[7].tokens', rule: 'is required' },
      { field: 'events[9]', rule: 'must be a JSON object' },
    ],
  };

  it('names the first offending field and counts the rest', () => {
    expect(renderProblem(parseProblem(problem), 400)).toBe(
      'events[3].timestamp must be an ISO 8601 UTC timestamp such as 2026-04-20T09:15:32Z (and 2 more problems)',
    );
    expect(renderProblem(parseProblem({ ...problem, errors: problem.errors.slice(0, 2) }), 400)).toMatch(
      / \(and 1 more problem\)$/,
    );
    expect(renderProblem(parseProblem({ ...problem, errors: problem.errors.slice(0, 1) }), 400)).not.toMatch(
      /more/,
    );
  });

  it('falls back to detail, then title, then the status', () => {
    expect(
      renderProblem(parseProblem({ title: 'Not Found', detail: 'export exp_1 was not found' }), 404),
    ).toBe('export exp_1 was not found');
    expect(renderProblem(parseProblem({ title: 'Conflict' }), 409)).toBe('Conflict (409)');
    expect(renderProblem(parseProblem('<html>bad gateway</html>'), 502)).toBe(
      'the API answered 502 Bad Gateway',
    );
    expect(renderProblem(parseProblem(undefined), 418)).toBe('the API answered 418');
  });

  it('keeps a hostile server message on one line, without control characters, and bounded', () => {
    const line = renderProblem(
      parseProblem({ detail: `line one\n\u001b[2Jline two ${'x'.repeat(1000)}` }),
      400,
    );
    expect(line).not.toContain('\n');
    expect(line).not.toContain('\u001b');
    expect(line.startsWith('line one [2Jline two')).toBe(true);
    expect(line.length).toBeLessThanOrEqual(400);
  });

  it('ignores malformed entries in errors[]', () => {
    expect(
      parseProblem({ errors: [null, 'x', { field: 3, rule: 'is odd' }, { field: 'a' }] }).errors,
    ).toEqual([{ field: '', rule: 'is odd' }]);
  });

  it('turns 401 and 403 into AuthError (exit 4) and the rest into ApiError (exit 1)', () => {
    const unauthorized = errorForResponse(401, {
      title: 'Unauthorized',
      status: 401,
      detail: 'The API token is missing, malformed, unknown or revoked.',
    });
    expect(unauthorized).toBeInstanceOf(AuthError);
    expect(unauthorized.message).toBe(
      'the API refused the token (401): The API token is missing, malformed, unknown or revoked. Check KEEPTRUSTS_API_TOKEN.',
    );
    const forbidden = errorForResponse(403, { detail: 'The token lacks the events:write scope' });
    expect(forbidden).toBeInstanceOf(AuthError);
    expect(forbidden.message).toMatch(
      /^the API refused the token \(403\): The token lacks the events:write scope\. /,
    );
    expect(exitCodeFor(forbidden)).toBe(4);

    const invalid = errorForResponse(400, problem);
    expect(invalid).toBeInstanceOf(ApiError);
    expect(exitCodeFor(invalid)).toBe(1);
    expect((invalid as ApiError).errors).toHaveLength(3);
    expect((invalid as ApiError).title).toBe('Invalid request');
  });
});

describe('resolveApiConfig', () => {
  it('uses flags over environment over the default', () => {
    expect(resolveApiConfig({}, {})).toEqual({ apiUrl: DEFAULT_API_URL, token: undefined, auth: 'bearer' });
    expect(
      resolveApiConfig(
        {},
        { KEEPTRUSTS_API_URL: 'https://api.example.com/', KEEPTRUSTS_API_TOKEN: 'env-token' },
      ),
    ).toEqual({ apiUrl: 'https://api.example.com', token: 'env-token', auth: 'bearer' });
    expect(
      resolveApiConfig(
        { apiUrl: 'http://127.0.0.1:9000/base/', token: 'flag-token' },
        { KEEPTRUSTS_API_URL: 'https://api.example.com', KEEPTRUSTS_API_TOKEN: 'env-token' },
      ),
    ).toEqual({ apiUrl: 'http://127.0.0.1:9000/base', token: 'flag-token', auth: 'bearer' });
  });

  it('rejects URLs that are not http(s) or that embed credentials as usage errors', () => {
    expect(() => resolveApiConfig({ apiUrl: 'localhost:8080' }, {})).toThrow(UsageError);
    expect(() => resolveApiConfig({}, { KEEPTRUSTS_API_URL: 'ftp://x' })).toThrow(
      /KEEPTRUSTS_API_URL must be/,
    );
    expect(() => resolveApiConfig({ apiUrl: 'https://u:p@x.example' }, {})).toThrow(UsageError);
  });

  it('keeps the sigv4 seam but refuses it until it exists', () => {
    const config = resolveApiConfig({}, { KEEPTRUSTS_AUTH: 'sigv4' });
    expect(config.auth).toBe('sigv4');
    expect(() => createApiClient(config)).toThrow(UsageError);
    expect(() => resolveApiConfig({ auth: 'basic' }, {})).toThrow(UsageError);
  });
});

describe('backoff', () => {
  const policy = { attempts: 4, baseDelayMs: 100, maxDelayMs: 1000 };

  it('draws full-jitter delays under an exponentially growing, capped ceiling', () => {
    expect(backoffDelay(0, policy, () => 0)).toBe(0);
    expect(backoffDelay(0, policy, () => 0.999)).toBe(99);
    expect(backoffDelay(2, policy, () => 0.5)).toBe(200);
    expect(backoffDelay(10, policy, () => 0.999)).toBe(999);
  });

  it('reads Retry-After in seconds or as a date, capped at 30 s', () => {
    expect(retryAfterMs(null)).toBeUndefined();
    expect(retryAfterMs('2')).toBe(2000);
    expect(retryAfterMs('3600')).toBe(30_000);
    expect(retryAfterMs(new Date(Date.UTC(2026, 0, 1, 0, 0, 5)).toUTCString(), Date.UTC(2026, 0, 1))).toBe(
      5000,
    );
    expect(retryAfterMs('soon')).toBeUndefined();
  });
});

/** A fake fetch that answers from a script and records what it was sent. */
function scriptedFetch(answers: (Response | Error)[]) {
  const calls: { url: string; init: RequestInit }[] = [];
  const fetch: FetchLike = async (url, init) => {
    calls.push({ url, init });
    const next = answers.shift();
    if (next === undefined) throw new Error('no more scripted answers');
    if (next instanceof Error) throw next;
    return next;
  };
  return { fetch, calls };
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });

function refused(): Error {
  return new TypeError('fetch failed', {
    cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:8080'), { code: 'ECONNREFUSED' }),
  });
}

function client(fetch: FetchLike, sleeps: number[] = []) {
  return new ApiClient({
    baseUrl: 'http://localhost:8080/',
    signer: new BearerSigner(TOKEN),
    fetch,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    random: () => 0.5,
    userAgent: 'kt/test',
  });
}

describe('ApiClient', () => {
  it('sends JSON with the bearer token and parses the JSON answer', async () => {
    const { fetch, calls } = scriptedFetch([json(200, { received: 1, written: 1, failed: [] })]);
    const response = await client(fetch).post('/v1/events', { events: [{ id: 'evt_1' }] });
    expect(response).toMatchObject({ status: 200, body: { received: 1, written: 1, failed: [] } });
    expect(calls).toHaveLength(1);
    const { url, init } = calls[0]!;
    expect(url).toBe('http://localhost:8080/v1/events');
    expect(init.method).toBe('POST');
    expect(init.body).toBe('{"events":[{"id":"evt_1"}]}');
    expect(init.headers).toMatchObject({
      authorization: `Bearer ${TOKEN}`,
      'content-type': 'application/json',
      'user-agent': 'kt/test',
    });
  });

  it('builds query strings and skips undefined parameters', () => {
    const url = client(scriptedFetch([]).fetch).url('/v1/exports', { limit: 10, cursor: undefined });
    expect(url.href).toBe('http://localhost:8080/v1/exports?limit=10');
  });

  it('retries idempotent requests on 429/5xx with backoff, honouring Retry-After', async () => {
    const sleeps: number[] = [];
    const { fetch, calls } = scriptedFetch([
      json(503, { title: 'Unavailable' }),
      json(429, { title: 'Slow down' }, { 'retry-after': '1' }),
      json(200, { ok: true }),
    ]);
    const response = await client(fetch, sleeps).get('/v1/exports/exp_1');
    expect(response.body).toEqual({ ok: true });
    expect(calls).toHaveLength(3);
    expect(sleeps).toEqual([125, 1000]); // 0.5 × 250 ms, then Retry-After
  });

  it('gives up after the last attempt with the last problem', async () => {
    const sleeps: number[] = [];
    const { fetch, calls } = scriptedFetch(
      Array.from({ length: 4 }, () =>
        json(503, { title: 'Service Unavailable', detail: 'DynamoDB is throttling' }),
      ),
    );
    const error = await rejection(client(fetch, sleeps).get('/v1/exports'));
    expect(error).toBeInstanceOf(ApiError);
    expect(error.message).toBe('DynamoDB is throttling');
    expect(calls).toHaveLength(4);
    expect(sleeps).toEqual([125, 250, 500]);
  });

  it('does not retry a POST unless it is idempotent', async () => {
    const once = scriptedFetch([json(503, {}), json(200, {})]);
    await expect(client(once.fetch).post('/v1/exports', {})).rejects.toBeInstanceOf(ApiError);
    expect(once.calls).toHaveLength(1);

    const keyed = scriptedFetch([json(503, {}), json(202, { id: 'exp_1' })]);
    const response = await client(keyed.fetch).post('/v1/exports', {}, { idempotencyKey: 'k-1' });
    expect(response.status).toBe(202);
    expect(keyed.calls).toHaveLength(2);
    expect(keyed.calls[0]!.init.headers).toMatchObject({ 'idempotency-key': 'k-1' });
  });

  it('does not retry client errors', async () => {
    const { fetch, calls } = scriptedFetch([json(400, { errors: [{ field: 'from', rule: 'is required' }] })]);
    const error = await rejection(client(fetch).get('/v1/exports'));
    expect(error.message).toBe('from is required');
    expect(calls).toHaveLength(1);
  });

  it('retries network errors, then names the URL and suggests npm start', async () => {
    const sleeps: number[] = [];
    const { fetch, calls } = scriptedFetch([refused(), refused(), refused(), refused()]);
    const error = await rejection(
      client(fetch, sleeps).post('/v1/events', { events: [] }, { idempotent: true }),
    );
    expect(error).toBeInstanceOf(NetworkError);
    expect(error.message).toBe(
      'cannot reach the Keeptrusts API at http://localhost:8080 (connection refused). Is it running? Start the local stack with `npm start`, or set KEEPTRUSTS_API_URL.',
    );
    expect(calls).toHaveLength(4);
  });

  it('recovers when the network comes back', async () => {
    const { fetch } = scriptedFetch([refused(), json(200, { ok: 1 })]);
    expect((await client(fetch).get('/v1/keys')).body).toEqual({ ok: 1 });
  });

  it('never puts the token in an error message', async () => {
    const { fetch } = scriptedFetch([json(401, { detail: `token ${TOKEN} is revoked` })]);
    const error = await rejection(client(fetch).get('/v1/keys'));
    expect(error).toBeInstanceOf(AuthError);
    // The server echoed it; main() masks registered secrets, but the client must not add it.
    expect(JSON.stringify(client(fetch))).not.toContain(TOKEN);
    expect(JSON.stringify(new BearerSigner(TOKEN))).not.toContain(TOKEN);
  });
});

describe('createApiClient', () => {
  it('refuses to build a client without a token, before any request', () => {
    let called = false;
    const fetch: FetchLike = async () => {
      called = true;
      return json(200, {});
    };
    const config = resolveApiConfig({}, {});
    expect(() => createApiClient(config, { fetch })).toThrow(AuthError);
    expect(() => createApiClient(config, { fetch })).toThrow(
      'no API token: set KEEPTRUSTS_API_TOKEN (or pass --token)',
    );
    expect(called).toBe(false);
  });

  it('refuses a token that cannot be sent in a header, without echoing it', () => {
    const config = resolveApiConfig({ token: 'abc def\nxyz' }, {});
    const error = (() => {
      try {
        createApiClient(config);
      } catch (e) {
        return e as Error;
      }
      throw new Error('expected a throw');
    })();
    expect(error).toBeInstanceOf(AuthError);
    expect(error.message).not.toContain('abc');
  });
});

describe('ApiClient over real HTTP', () => {
  let server: Server;
  let baseUrl: string;
  const seen: { method?: string; url?: string; authorization?: string; body: string }[] = [];
  let handler: (req: IncomingMessage, res: ServerResponse, body: string) => void = () => undefined;

  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => {
        body += chunk.toString();
      });
      req.on('end', () => {
        seen.push({ method: req.method, url: req.url, authorization: req.headers.authorization, body });
        handler(req, res, body);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  it('posts JSON and reads a problem+json answer into an ApiError', async () => {
    handler = (_req, res) => {
      res.writeHead(400, { 'content-type': 'application/problem+json' });
      res.end(
        JSON.stringify({
          type: 'about:blank',
          title: 'Bad Request',
          status: 400,
          detail: 'x',
          errors: [
            {
              field: 'events[3].timestamp',
              rule: 'must be an ISO 8601 UTC timestamp such as 2026-04-20T09:15:32Z',
            },
            { field: 'events[4].id', rule: 'is required' },
            { field: 'events[5].id', rule: 'is required' },
          ],
        }),
      );
    };
    const api = createApiClient(resolveApiConfig({ apiUrl: baseUrl, token: TOKEN }, {}));
    const error = await rejection(api.post('/v1/events', { events: [1] }, { idempotent: true }));
    expect(error).toBeInstanceOf(ApiError);
    expect(`error: ${error.message}`).toBe(
      'error: events[3].timestamp must be an ISO 8601 UTC timestamp such as 2026-04-20T09:15:32Z (and 2 more problems)',
    );
    expect(seen.at(-1)).toEqual({
      method: 'POST',
      url: '/v1/events',
      authorization: `Bearer ${TOKEN}`,
      body: '{"events":[1]}',
    });
  });

  it('recognises a refused connection from the real fetch', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const api = createApiClient(resolveApiConfig({ apiUrl: `http://127.0.0.1:${port}`, token: TOKEN }, {}), {
      sleep: async () => undefined,
    });
    const error = await rejection(api.get('/v1/exports'));
    expect(error).toBeInstanceOf(NetworkError);
    expect(error.message).toContain(`http://127.0.0.1:${port} (connection refused)`);
    expect(error.message).toContain('npm start');
  });

  it('times out a request that never answers', async () => {
    handler = () => undefined; // never respond
    const api = createApiClient(resolveApiConfig({ apiUrl: baseUrl, token: TOKEN }, {}), {
      timeoutMs: 200,
      retry: { attempts: 1 },
    });
    const error = await rejection(api.get('/v1/slow'));
    expect(error).toBeInstanceOf(NetworkError);
    expect(error.message).toBe(`the Keeptrusts API at ${baseUrl} did not answer within 200 ms`);
  });
});
