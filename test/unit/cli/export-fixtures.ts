import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { CliContext, GlobalOptions } from '../../../cli/context.ts';
import { type BodyServer, startBodyServer } from '../../support/body-server.ts';
import { memoryIo } from './helpers.ts';

/** Shared pieces of the `kt export` tests: a job view, a fake exports API, a command context. */

export const TOKEN = 'kt_export_test_token';
export const ID = 'exp_01jq8m3k7b5x9c2d4f6h';

export function sha256(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** A completed job as the tutorial shows it (1,247 records, 2.3 MB), times carrying milliseconds. */
export function jobView(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: ID,
    status: 'completed',
    format: 'json',
    range: { from: '2026-04-16T00:00:00Z', to: '2026-04-23T23:59:59Z' },
    filters: {},
    records: 1247,
    bytes: 2_300_000,
    sha256: 'a'.repeat(64),
    created: '2026-04-23T14:30:00.123Z',
    started: '2026-04-23T14:30:01.000Z',
    completed: '2026-04-23T14:30:12.999Z',
    ...overrides,
  };
}

/**
 * A manifest as GET /v1/exports/{id}/manifest returns it, describing an artifact of these bytes.
 * Its signature is well-formed base64 but signs nothing: download checks shapes and digests only.
 */
export function manifestView(
  artifact: { bytes: number; sha256: string },
  overrides: Record<string, unknown> = {},
) {
  return {
    schema: 'keeptrusts.export-manifest/1',
    exportId: ID,
    range: { from: '2026-04-16T00:00:00Z', to: '2026-04-23T23:59:59Z' },
    filters: {},
    format: 'json',
    records: 130,
    sourceCount: 130,
    artifact: { name: `${ID}.json`, bytes: artifact.bytes, sha256: artifact.sha256 },
    recordsDigest: { algorithm: 'sha256-records-v1', sha256: 'b'.repeat(64) },
    generatedAt: '2026-04-23T14:30:12Z',
    auditHead: { seq: 41, hash: 'c'.repeat(64) },
    keyId: 'kt-local-3f9a0c1d2e4b5a69',
    algorithm: 'ECDSA_P256_SHA256',
    signature: 'MEUCIQDtestsignature',
    ...overrides,
  };
}

export interface SeenRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
}

type Route = (req: IncomingMessage, res: ServerResponse, body: string) => void;

/** A loopback server with routes keyed `METHOD /path` (query ignored), recording every request. */
export interface FakeApi {
  readonly url: string;
  readonly seen: SeenRequest[];
  route(key: string, handler: Route): void;
  reset(): void;
  close(): Promise<void>;
}

export async function startFakeApi(): Promise<FakeApi> {
  const routes = new Map<string, Route>();
  const seen: SeenRequest[] = [];
  const server: BodyServer = await startBodyServer((req, res, body) => {
    const url = req.url ?? '/';
    seen.push({ method: req.method ?? '', url, headers: req.headers, body });
    const handler = routes.get(`${req.method} ${url.split('?')[0]}`);
    if (handler === undefined) {
      sendJson(res, 404, { title: 'Not Found', status: 404 }, 'application/problem+json');
      return;
    }
    handler(req, res, body);
  });
  return {
    url: server.url,
    seen,
    route: (key, handler) => routes.set(key, handler),
    reset: () => {
      routes.clear();
      seen.length = 0;
    },
    close: () => server.close(),
  };
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  type = 'application/json',
): void {
  res.writeHead(status, { 'content-type': type });
  res.end(JSON.stringify(body));
}

export function problem(res: ServerResponse, status: number, fields: Record<string, unknown>): void {
  sendJson(res, status, { type: 'about:blank', status, ...fields }, 'application/problem+json');
}

/** What a command action needs, pointed at `apiUrl`; no retries so failures show at once. */
export function exportContext(
  apiUrl: string,
  outputFormat: 'human' | 'json' = 'human',
  tty = false,
): { context: CliContext; globals: GlobalOptions; io: ReturnType<typeof memoryIo> } {
  const io = memoryIo({}, tty);
  return {
    io,
    context: {
      io,
      version: 'test',
      secrets: new Set([TOKEN]),
      http: { retry: { attempts: 1 }, sleep: async () => undefined },
    },
    globals: { apiUrl, token: TOKEN, outputFormat },
  };
}
