import { ApiError, AuthError, oneLine, type ProblemDetails, UsageError } from '../errors.ts';
import type { ApiConfig } from './config.ts';
import { describeNetworkError, isAbort } from './network-errors.ts';
import { errorForResponse, parseProblem } from './problems.ts';
import {
  backoffDelay,
  DEFAULT_RETRY,
  isRetryableStatus,
  MAX_RETRY_AFTER_MS,
  MAX_TOTAL_RETRY_AFTER_MS,
  type RetryPolicy,
  retryAfterMs,
} from './retry.ts';
import { createSigner, type RequestSigner } from './signing.ts';

/**
 * A small client for the Keeptrusts API over global fetch: base URL, auth headers, JSON bodies,
 * RFC 9457 problem+json errors mapped to CliErrors, and jittered retries for idempotent calls.
 */

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
  /** Called before each wait a 429's Retry-After asks for (the CLI prints why it waits). */
  readonly onRetryWait?: (wait: RetryWait) => void;
}

/** A wait the API asked for: a 429 with Retry-After, and its problem (the detail says why). */
export interface RetryWait {
  readonly status: number;
  readonly waitMs: number;
  readonly problem: ProblemDetails;
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
  readonly #onRetryWait: ((wait: RetryWait) => void) | undefined;

  constructor(options: ApiClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.#signer = options.signer;
    this.#fetch = options.fetch ?? ((input, init) => fetch(input, init));
    this.#retry = { ...DEFAULT_RETRY, ...options.retry };
    this.#timeoutMs = options.timeoutMs ?? 60_000;
    this.#userAgent = options.userAgent ?? 'kt';
    this.#sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.#random = options.random ?? Math.random;
    this.#onRetryWait = options.onRetryWait;
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
    // Milliseconds spent waiting as Retry-After headers asked, over all attempts.
    let waited = 0;

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
      const asked = retryAfterMs(response.headers.get('retry-after'));
      // A Retry-After longer than the client waits, or one that would take the request past its
      // total, fails now (the error says when to try again) rather than hang for minutes.
      const worthWaiting =
        asked === undefined || (asked <= MAX_RETRY_AFTER_MS && waited + asked <= MAX_TOTAL_RETRY_AFTER_MS);
      if (!last && isRetryableStatus(response.status) && worthWaiting) {
        if (asked !== undefined && response.status === 429 && this.#onRetryWait !== undefined) {
          // A limit the caller should know about (exports running at once, say): say why it waits.
          const problem = parseProblem(await readBody(response).catch(() => undefined));
          this.#onRetryWait({ status: response.status, waitMs: asked, problem });
        } else {
          await response.body?.cancel().catch(() => undefined);
        }
        waited += asked ?? 0;
        await this.#sleep(asked ?? backoffDelay(attempt - 1, this.#retry, this.#random));
        continue;
      }
      throw errorForResponse(
        response.status,
        await readBody(response).catch(() => undefined),
        this.#signer.auth,
      );
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

/** The one stderr line for a wait: `Waiting 30 s: 5 exports of this token are already queued or running (…)…`. */
export function retryWaitLine(wait: RetryWait): string {
  const seconds = Math.max(1, Math.round(wait.waitMs / 1000));
  const reason = oneLine(wait.problem.detail ?? wait.problem.title ?? `the API answered ${wait.status}`).replace(
    /[.…]+$/,
    '',
  );
  return `Waiting ${seconds} s: ${reason}…`;
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
