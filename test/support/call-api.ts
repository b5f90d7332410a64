import type { ProblemDetails } from '../../functions/handlers/http/problem.ts';

/** What a request to a started stack's API may carry besides its method and route. */
export interface CallOptions {
  /** A string is sent as it is (for malformed-body tests); anything else as JSON. */
  readonly body?: unknown;
  /** @default the stack's admin token */
  readonly token?: string;
  readonly headers?: Record<string, string>;
}

/** One request to an in-process stack's API (infra/local/local-stack.ts), with a Bearer token. */
export function callApi(
  stack: { readonly apiUrl: string; readonly admin: { readonly token: string } },
  method: string,
  route: string,
  options: CallOptions = {},
): Promise<Response> {
  const { body, token = stack.admin.token, headers = {} } = options;
  return fetch(`${stack.apiUrl}${route}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...headers,
    },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
}

/** Expects an RFC 9457 answer with `status` (in the status line and the body); returns its details. */
export async function problem(response: Response, status: number): Promise<ProblemDetails> {
  expect(response.status).toBe(status);
  expect(response.headers.get('content-type')).toBe('application/problem+json');
  const details = (await response.json()) as ProblemDetails;
  expect(details.status).toBe(status);
  return details;
}
