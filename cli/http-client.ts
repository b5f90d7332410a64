import {
  ApiError,
  AuthError,
  NetworkError,
  oneLine,
  type ProblemDetails,
  type ProblemFieldError,
  UsageError,
} from './errors.ts';

/**
 * A small client for the Keeptrusts API over global fetch: base URL, auth headers, JSON bodies,
 * RFC 9457 problem+json errors mapped to CliErrors, and jittered retries for idempotent calls.
 */

export const DEFAULT_API_URL = 'http://localhost:8080';

export type AuthMode = 'bearer' | 'sigv4';
export const AUTH_MODES: readonly AuthMode[] = ['bearer', 'sigv4'];

/** Where and how to call the API, from flags over environment over defaults. */
export interface ApiConfig {
  readonly apiUrl: string;
  readonly token: string | undefined;
  readonly auth: AuthMode;
}

export interface ApiFlags {
  readonly apiUrl?: string | undefined;
  readonly token?: string | undefined;
  readonly auth?: string | undefined;
}

/** `--api-url` / `--token` / `--auth` override KEEPTRUSTS_API_URL / KEEPTRUSTS_API_TOKEN / KEEPTRUSTS_AUTH. */
export function resolveApiConfig(
  flags: ApiFlags,
  env: Readonly<Record<string, string | undefined>>,
): ApiConfig {
  const apiUrl = nonEmpty(flags.apiUrl) ?? nonEmpty(env.KEEPTRUSTS_API_URL) ?? DEFAULT_API_URL;
  const source = nonEmpty(flags.apiUrl) ? '--api-url' : 'KEEPTRUSTS_API_URL';
  let url: URL;
  try {
    url = new URL(apiUrl);
  } catch {
    throw new UsageError(
      `${source} must be an http(s) URL such as ${DEFAULT_API_URL} (got "${oneLine(apiUrl)}")`,
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UsageError(
      `${source} must be an http(s) URL such as ${DEFAULT_API_URL} (got "${oneLine(apiUrl)}")`,
    );
  }
  if (url.username || url.password) {
    throw new UsageError(`${source} must not contain credentials; use KEEPTRUSTS_API_TOKEN`);
  }
  const auth = (nonEmpty(flags.auth) ?? nonEmpty(env.KEEPTRUSTS_AUTH) ?? 'bearer').toLowerCase();
  if (!(AUTH_MODES as readonly string[]).includes(auth)) {
    throw new UsageError(`KEEPTRUSTS_AUTH must be one of ${AUTH_MODES.join(', ')} (got "${oneLine(auth)}")`);
  }
  return {
    apiUrl: url.href.replace(/\/+$/, ''),
    token: nonEmpty(flags.token) ?? nonEmpty(env.KEEPTRUSTS_API_TOKEN),
    auth: auth as AuthMode,
  };
}

function nonEmpty(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  return trimmed ? trimmed : undefined;
}

// ---------------------------------------------------------------------------------------------
// Signing: the seam where SigV4 (`--auth sigv4`) plugs in later.

export interface SignableRequest {
  readonly method: string;
  readonly url: URL;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string | undefined;
}

/** Adds authentication to a request; returns the headers to send with it. */
export interface RequestSigner {
  sign(request: SignableRequest): Promise<Record<string, string>>;
}

/** `Authorization: Bearer <token>`. The token is held privately and never rendered. */
export class BearerSigner implements RequestSigner {
  readonly #token: string;

  constructor(token: string) {
    this.#token = token;
  }

  async sign(request: SignableRequest): Promise<Record<string, string>> {
    return { ...request.headers, authorization: `Bearer ${this.#token}` };
  }

  toJSON(): string {
    return 'BearerSigner(***)';
  }
}

/** Tokens go into an HTTP header: visible ASCII only, which also keeps them out of fetch errors. */
const TOKEN_SHAPE = /^[\x21-\x7e]+$/;

/** The signer for a configuration; throws AuthError when no usable token is configured. */
export function createSigner(config: ApiConfig): RequestSigner {
  if (config.auth === 'sigv4') {
    throw new UsageError('--auth sigv4 is not available in this version of kt yet; use an API token');
  }
  if (config.token === undefined) {
    throw new AuthError('no API token: set KEEPTRUSTS_API_TOKEN (or pass --token)');
  }
  if (!TOKEN_SHAPE.test(config.token)) {
    throw new AuthError(
      'the API token contains spaces or characters a token cannot have; check KEEPTRUSTS_API_TOKEN',
    );
  }
  return new BearerSigner(config.token);
}

// ---------------------------------------------------------------------------------------------
// Problem details.

/** Reads an error body as RFC 9457 problem details, tolerating missing or odd fields. */
export function parseProblem(body: unknown): ProblemDetails {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return {};
  const raw = body as Record<string, unknown>;
  const text = (value: unknown) => (typeof value === 'string' && value.trim() ? value : undefined);
  const errors: ProblemFieldError[] = Array.isArray(raw.errors)
    ? raw.errors.flatMap((entry): ProblemFieldError[] => {
        if (entry === null || typeof entry !== 'object') return [];
        const { field, rule } = entry as Record<string, unknown>;
        if (typeof rule !== 'string') return [];
        return [{ field: typeof field === 'string' ? field : '', rule }];
      })
    : [];
  return {
    ...(text(raw.type) !== undefined && { type: text(raw.type) }),
    ...(text(raw.title) !== undefined && { title: text(raw.title) }),
    ...(typeof raw.status === 'number' && { status: raw.status }),
    ...(text(raw.detail) !== undefined && { detail: text(raw.detail) }),
    ...(errors.length > 0 && { errors }),
  };
}

const MAX_MESSAGE = 400;

/**
 * One line for a problem: the first offending field and how many more, else the detail, else
 * the title. `fieldLabel` lets a caller rename fields (e.g. `events[3]` → `line 1504`).
 */
export function renderProblem(
  problem: ProblemDetails,
  status: number,
  fieldLabel: (field: string) => string = (field) => field,
): string {
  const errors = problem.errors ?? [];
  const first = errors[0];
  let message: string;
  if (first !== undefined) {
    const field = first.field ? fieldLabel(first.field) : '';
    message = field ? `${field} ${first.rule}` : first.rule;
    const more = errors.length - 1;
    if (more > 0) message += ` (and ${more} more problem${more === 1 ? '' : 's'})`;
  } else if (problem.detail !== undefined) {
    message = problem.detail;
  } else if (problem.title !== undefined) {
    message = `${problem.title} (${status})`;
  } else {
    message = `the API answered ${status}${STATUS_TEXT[status] ? ` ${STATUS_TEXT[status]}` : ''}`;
  }
  message = oneLine(message);
  return message.length > MAX_MESSAGE ? `${message.slice(0, MAX_MESSAGE - 1)}…` : message;
}

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  404: 'Not Found',
  409: 'Conflict',
  413: 'Content Too Large',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

/** The CliError for a non-2xx answer: AuthError for 401/403, ApiError otherwise. */
export function errorForResponse(status: number, body: unknown): ApiError | AuthError {
  const problem = parseProblem(body);
  if (status === 401 || status === 403) {
    const reason = sentence(
      problem.detail ??
        problem.title ??
        (status === 401
          ? 'The API token is missing, malformed, unknown or revoked'
          : 'The token is not allowed to do this'),
    );
    const hint =
      status === 401
        ? 'Check KEEPTRUSTS_API_TOKEN.'
        : 'Use a token with the needed scope (check KEEPTRUSTS_API_TOKEN).';
    return new AuthError(`the API refused the token (${status}): ${reason} ${hint}`, status);
  }
  return new ApiError(renderProblem(problem, status), status, problem);
}

function sentence(text: string): string {
  const line = oneLine(text);
  return /[.!?]$/.test(line) ? line : `${line}.`;
}

// ---------------------------------------------------------------------------------------------
// Transport errors.

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CLOSED',
]);

/** The first system error code (ECONNREFUSED, ...) in an error's cause chain. */
export function networkErrorCode(error: unknown): string | undefined {
  const seen = new Set<unknown>();
  const queue: unknown[] = [error];
  while (queue.length > 0) {
    const current = queue.shift();
    if (current === null || typeof current !== 'object' || seen.has(current)) continue;
    seen.add(current);
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && NETWORK_CODES.has(code)) return code;
    queue.push((current as { cause?: unknown }).cause);
    const nested = (current as { errors?: unknown }).errors;
    if (Array.isArray(nested)) queue.push(...nested);
  }
  return undefined;
}

/** One line for a failed connection, naming the API URL and what to do. */
export function describeNetworkError(baseUrl: string, error: unknown, timeoutMs: number): NetworkError {
  if (isTimeout(error)) {
    return new NetworkError(
      `the Keeptrusts API at ${baseUrl} did not answer within ${formatDuration(timeoutMs)}`,
      baseUrl,
      { cause: error },
    );
  }
  const code = networkErrorCode(error);
  if (code === 'ECONNREFUSED') {
    return new NetworkError(
      `cannot reach the Keeptrusts API at ${baseUrl} (connection refused). Is it running? Start the local stack with \`npm start\`, or set KEEPTRUSTS_API_URL.`,
      baseUrl,
      { cause: error },
    );
  }
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    return new NetworkError(
      `cannot reach the Keeptrusts API at ${baseUrl} (host not found). Check KEEPTRUSTS_API_URL.`,
      baseUrl,
      { cause: error },
    );
  }
  const reason = code ?? innermostMessage(error);
  return new NetworkError(`cannot reach the Keeptrusts API at ${baseUrl} (${reason})`, baseUrl, {
    cause: error,
  });
}

/** `fetch failed` says nothing; the deepest cause (e.g. `bad port`) does. */
function innermostMessage(error: unknown): string {
  let message = 'network error';
  let current: unknown = error;
  for (let depth = 0; current !== null && typeof current === 'object' && depth < 5; depth += 1) {
    const { message: text, cause } = current as { message?: unknown; cause?: unknown };
    if (typeof text === 'string' && text) message = oneLine(text);
    current = cause;
  }
  return message;
}

// By name, not instanceof: fetch's DOMExceptions may come from another realm.
function errorName(error: unknown): unknown {
  return error !== null && typeof error === 'object' ? (error as { name?: unknown }).name : undefined;
}

function isTimeout(error: unknown): boolean {
  return errorName(error) === 'TimeoutError';
}

function isAbort(error: unknown): boolean {
  return errorName(error) === 'AbortError';
}

function formatDuration(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${Math.round(ms / 100) / 10} s`;
}

// ---------------------------------------------------------------------------------------------
// Retries.

export interface RetryPolicy {
  /** Attempts in total, the first included. */
  readonly attempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 4, baseDelayMs: 250, maxDelayMs: 5_000 };

/** Longest Retry-After the client honours; longer asks fail instead of hanging. */
const MAX_RETRY_AFTER_MS = 30_000;

export function isRetryableStatus(status: number): boolean {
  return status === 429 || (status >= 500 && status !== 501 && status !== 505);
}

/**
 * "Full jitter" exponential backoff: a random delay in [0, min(max, base·2^retry)), so many
 * clients retrying at once spread out. `retry` counts from 0 for the first retry.
 */
export function backoffDelay(retry: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** retry);
  return Math.floor(random() * ceiling);
}

/** A Retry-After header (seconds or HTTP date) in milliseconds, if present and sane. */
export function retryAfterMs(header: string | null, now: number = Date.now()): number | undefined {
  if (header === null || header.trim() === '') return undefined;
  const seconds = Number(header);
  const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(header) - now;
  if (!Number.isFinite(ms) || ms < 0) return undefined;
  return Math.min(ms, MAX_RETRY_AFTER_MS);
}

// ---------------------------------------------------------------------------------------------
// The client.

export type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

export interface ApiClientOptions {
  readonly baseUrl: string;
  readonly signer: RequestSigner;
  readonly fetch?: FetchLike;
  readonly retry?: Partial<RetryPolicy>;
  /** Per attempt (default 60 s). */
  readonly timeoutMs?: number;
  readonly userAgent?: string;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly random?: () => number;
}

export interface RequestOptions {
  /** Sent as JSON. */
  readonly body?: unknown;
  readonly query?: Readonly<Record<string, string | number | boolean | undefined>>;
  readonly headers?: Readonly<Record<string, string>>;
  /**
   * Safe to send again after a 429/5xx/network failure. GET, HEAD, PUT, DELETE and OPTIONS are
   * by default; a POST is when it carries an Idempotency-Key or the caller says so.
   */
  readonly idempotent?: boolean;
  readonly idempotencyKey?: string;
  readonly signal?: AbortSignal;
}

export interface ApiResponse<T> {
  readonly status: number;
  readonly headers: Headers;
  readonly body: T;
}

const IDEMPOTENT_METHODS = new Set(['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS']);

export class ApiClient {
  readonly baseUrl: string;
  readonly #signer: RequestSigner;
  readonly #fetch: FetchLike;
  readonly #retry: RetryPolicy;
  readonly #timeoutMs: number;
  readonly #userAgent: string;
  readonly #sleep: (ms: number) => Promise<void>;
  readonly #random: () => number;

  constructor(options: ApiClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.#signer = options.signer;
    this.#fetch = options.fetch ?? ((input, init) => fetch(input, init));
    this.#retry = { ...DEFAULT_RETRY, ...options.retry };
    this.#timeoutMs = options.timeoutMs ?? 60_000;
    this.#userAgent = options.userAgent ?? 'kt';
    this.#sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.#random = options.random ?? Math.random;
  }

  /** A request whose 2xx answer is JSON (or empty: `undefined`). */
  async request<T = unknown>(
    method: string,
    path: string,
    options: RequestOptions = {},
  ): Promise<ApiResponse<T>> {
    const response = await this.send(method, path, options);
    return { status: response.status, headers: response.headers, body: (await readBody(response)) as T };
  }

  get<T = unknown>(path: string, options?: RequestOptions): Promise<ApiResponse<T>> {
    return this.request<T>('GET', path, options);
  }

  post<T = unknown>(
    path: string,
    body: unknown,
    options?: Omit<RequestOptions, 'body'>,
  ): Promise<ApiResponse<T>> {
    return this.request<T>('POST', path, { ...options, body });
  }

  delete<T = unknown>(path: string, options?: RequestOptions): Promise<ApiResponse<T>> {
    return this.request<T>('DELETE', path, options);
  }

  /**
   * Sends a request and returns the raw 2xx Response (for streamed downloads); non-2xx answers
   * and transport failures throw CliErrors, after retries when the request is idempotent.
   */
  async send(method: string, path: string, options: RequestOptions = {}): Promise<Response> {
    const upper = method.toUpperCase();
    const url = this.url(path, options.query);
    const body = options.body === undefined ? undefined : JSON.stringify(options.body);
    const headers: Record<string, string> = {
      accept: 'application/json, application/problem+json',
      'user-agent': this.#userAgent,
      ...(body !== undefined && { 'content-type': 'application/json' }),
      ...(options.idempotencyKey !== undefined && { 'idempotency-key': options.idempotencyKey }),
      ...options.headers,
    };
    const idempotent =
      options.idempotent ?? (IDEMPOTENT_METHODS.has(upper) || options.idempotencyKey !== undefined);
    const attempts = idempotent ? Math.max(1, this.#retry.attempts) : 1;

    for (let attempt = 1; ; attempt += 1) {
      const last = attempt >= attempts;
      let response: Response;
      try {
        const signed = await this.#signer.sign({ method: upper, url, headers, body });
        const timeout = AbortSignal.timeout(this.#timeoutMs);
        response = await this.#fetch(url.href, {
          method: upper,
          headers: signed,
          ...(body !== undefined && { body }),
          signal: options.signal ? AbortSignal.any([options.signal, timeout]) : timeout,
        });
      } catch (error) {
        if (isAbort(error) || options.signal?.aborted) throw error;
        if (error instanceof UsageError || error instanceof AuthError) throw error;
        if (last) throw describeNetworkError(this.baseUrl, error, this.#timeoutMs);
        await this.#sleep(backoffDelay(attempt - 1, this.#retry, this.#random));
        continue;
      }
      if (response.ok) return response;
      if (!last && isRetryableStatus(response.status)) {
        const wait = retryAfterMs(response.headers.get('retry-after'));
        await response.body?.cancel().catch(() => undefined);
        await this.#sleep(wait ?? backoffDelay(attempt - 1, this.#retry, this.#random));
        continue;
      }
      throw errorForResponse(response.status, await readBody(response).catch(() => undefined));
    }
  }

  /** The absolute URL for an API path such as `/v1/events`. */
  url(path: string, query?: RequestOptions['query']): URL {
    const url = new URL(`${this.baseUrl}${path.startsWith('/') ? path : `/${path}`}`);
    for (const [key, value] of Object.entries(query ?? {})) {
      if (value !== undefined) url.searchParams.set(key, String(value));
    }
    return url;
  }

  toJSON(): { baseUrl: string } {
    return { baseUrl: this.baseUrl };
  }
}

/** JSON (including problem+json) bodies are parsed; anything else is returned as text. */
async function readBody(response: Response): Promise<unknown> {
  const text = await response.text();
  if (text.trim() === '') return undefined;
  const type = response.headers.get('content-type') ?? '';
  if (/\bjson\b/i.test(type)) {
    try {
      return JSON.parse(text);
    } catch {
      if (response.ok) {
        throw new ApiError(`the API answered ${response.status} with malformed JSON`, response.status);
      }
      return text;
    }
  }
  return text;
}

/** The client for resolved settings: throws AuthError (before any request) if there is no token. */
export function createApiClient(
  config: ApiConfig,
  options: Omit<ApiClientOptions, 'baseUrl' | 'signer'> = {},
): ApiClient {
  return new ApiClient({ ...options, baseUrl: config.apiUrl, signer: createSigner(config) });
}
