import type { ApiClient } from '../api/client.ts';
import { ApiError } from '../errors.ts';

export interface IngestResponse {
  readonly received: number;
  readonly written: number;
  readonly failed: readonly { readonly id: string; readonly reason: string }[];
}

/** Sends one batch; the real one is `ingestVia(client)`, tests pass fakes. */
export type IngestFn = (events: readonly unknown[]) => Promise<IngestResponse>;

/** `POST /v1/events` with `{"events": [...]}`; idempotent by event id, so it is retried. */
export function ingestVia(client: ApiClient): IngestFn {
  return async (events) => {
    const response = await client.post<unknown>('/v1/events', { events }, { idempotent: true });
    return parseIngestResponse(response.status, response.body);
  };
}

export function parseIngestResponse(status: number, body: unknown): IngestResponse {
  const value = body as Partial<Record<keyof IngestResponse, unknown>> | null;
  const failed = value?.failed;
  if (
    value === null ||
    typeof value !== 'object' ||
    typeof value.received !== 'number' ||
    typeof value.written !== 'number' ||
    !Array.isArray(failed) ||
    !failed.every(
      (f) => f !== null && typeof f === 'object' && typeof (f as { id?: unknown }).id === 'string',
    )
  ) {
    throw new ApiError(
      `the API answered POST /v1/events with ${status} but not with {"received","written","failed"}`,
      status,
    );
  }
  return {
    received: value.received,
    written: value.written,
    failed: (failed as { id: string; reason?: unknown }[]).map((f) => ({
      id: f.id,
      reason: typeof f.reason === 'string' ? f.reason : 'not stored',
    })),
  };
}
