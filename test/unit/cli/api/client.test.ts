import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApiClient, createApiClient, type FetchLike, retryWaitLine } from '../../../../cli/api/client.ts';
import { resolveApiConfig } from '../../../../cli/api/config.ts';
import { BearerSigner } from '../../../../cli/api/signing.ts';
import { ApiError, AuthError, errorLine, NetworkError } from '../../../../cli/errors.ts';
import { type BodyServer, startBodyServer } from '../../../support/body-server.ts';
import { rejection } from '../helpers.ts';

const TOKEN = 'kt_test_token_123';

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

  describe('a limit answered 429 with Retry-After (POST /v1/exports beyond the running exports allowed)', () => {
    const limited = () =>
      json(
        429,
        {
          type: 'urn:keeptrusts:problem:rate_limited',
          title: 'Too many requests',
          status: 429,
          detail: '5 exports of this token are already queued or running (the limit is 5 at a time)',
          retryAfter: 30,
        },
        { 'content-type': 'application/problem+json', 'retry-after': '30' },
      );

    function limitedClient(fetch: FetchLike, sleeps: number[], lines: string[]) {
      return new ApiClient({
        baseUrl: 'http://localhost:8080',
        signer: new BearerSigner(TOKEN),
        fetch,
        sleep: async (ms) => void sleeps.push(ms),
        onRetryWait: (wait) => void lines.push(retryWaitLine(wait)),
      });
    }

    it('waits as Retry-After says, saying why on one line per wait, and then succeeds', async () => {
      const sleeps: number[] = [];
      const lines: string[] = [];
      const { fetch, calls } = scriptedFetch([limited(), json(202, { id: 'exp_1', status: 'queued' })]);
      const response = await limitedClient(fetch, sleeps, lines).post('/v1/exports', {}, { idempotencyKey: 'k-1' });
      expect(response.status).toBe(202);
      expect(sleeps).toEqual([30_000]);
      expect(lines).toEqual([
        'Waiting 30 s: 5 exports of this token are already queued or running (the limit is 5 at a time)…',
      ]);
      // The same request again: the same Idempotency-Key, so a repeat never makes a second export.
      expect(calls.map((call) => (call.init.headers as Record<string, string>)['idempotency-key'])).toEqual([
        'k-1',
        'k-1',
      ]);
    });

    it('waits at most a minute in all, then fails with one line naming the limit and when to try again', async () => {
      const sleeps: number[] = [];
      const lines: string[] = [];
      const { fetch, calls } = scriptedFetch([limited(), limited(), limited(), limited()]);
      const error = await rejection(
        limitedClient(fetch, sleeps, lines).post('/v1/exports', {}, { idempotencyKey: 'k-2' }),
      );
      expect(error).toBeInstanceOf(ApiError);
      expect((error as ApiError).status).toBe(429);
      expect(errorLine(error)).toBe(
        'error: 5 exports of this token are already queued or running (the limit is 5 at a time); try again in 30 s',
      );
      expect(sleeps).toEqual([30_000, 30_000]);
      expect(calls).toHaveLength(3);
      expect(lines).toHaveLength(2);
    });

    it('fails at once, saying when, when Retry-After asks for longer than it waits', async () => {
      const sleeps: number[] = [];
      const lines: string[] = [];
      const long = json(429, { detail: 'The hourly quota is used up.', retryAfter: 3600 }, { 'retry-after': '3600' });
      const { fetch, calls } = scriptedFetch([long]);
      const error = await rejection(limitedClient(fetch, sleeps, lines).get('/v1/exports'));
      expect(error.message).toBe('The hourly quota is used up; try again in 3600 s');
      expect(calls).toHaveLength(1);
      expect(sleeps).toEqual([]);
      expect(lines).toEqual([]);
    });

    it('a request that may not be repeated is not: the 429 says when to try again', async () => {
      const sleeps: number[] = [];
      const { fetch, calls } = scriptedFetch([limited()]);
      const error = await rejection(limitedClient(fetch, sleeps, []).post('/v1/exports', {}));
      expect(error.message).toBe(
        '5 exports of this token are already queued or running (the limit is 5 at a time); try again in 30 s',
      );
      expect(calls).toHaveLength(1);
      expect(sleeps).toEqual([]);
    });
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
  let server: BodyServer;
  let baseUrl: string;
  const seen: { method?: string; url?: string; authorization?: string; body: string }[] = [];
  let handler: (req: IncomingMessage, res: ServerResponse, body: string) => void = () => undefined;

  beforeAll(async () => {
    server = await startBodyServer((req, res, body) => {
      seen.push({ method: req.method, url: req.url, authorization: req.headers.authorization, body });
      handler(req, res, body);
    });
    baseUrl = server.url;
  });

  afterAll(() => server.close());

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
