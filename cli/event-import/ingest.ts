import type { ApiClient } from '../api/client.ts';
import { ApiError } from '../errors.ts';

export interface IngestConflict {
  readonly id: string;
  readonly conflict: string;
  readonly reason: string;
}

export interface IngestResponse {
  readonly received: number;
  /** Stored by this request for the first time. */
  readonly written: number;
  /** Already stored, identically (a repeat). */
  readonly alreadyStored: number;
  /** Refused: the id is stored with other content or at another time. Never resent. */
  readonly conflicts: readonly IngestConflict[];
  /** Not written this time; safe to resend. */
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
  const isIdList = (list: unknown): list is { id: string; reason?: unknown; conflict?: unknown }[] =>
    Array.isArray(list) &&
    list.every((f) => f !== null && typeof f === 'object' && typeof (f as { id?: unknown }).id === 'string');
  if (
    value === null ||
    typeof value !== 'object' ||
    typeof value.received !== 'number' ||
    typeof value.written !== 'number' ||
    !isIdList(value.failed) ||
    // Older APIs had neither field; a repeat was then counted as written.
    (value.alreadyStored !== undefined && typeof value.alreadyStored !== 'number') ||
    (value.conflicts !== undefined && !isIdList(value.conflicts))
  ) {
    throw new ApiError(
      `the API answered POST /v1/events with ${status} but not with {"received","written","failed"}`,
      status,
    );
  }
  const text = (v: unknown, fallback: string) => (typeof v === 'string' ? v : fallback);
  return {
    received: value.received,
    written: value.written,
    alreadyStored: typeof value.alreadyStored === 'number' ? value.alreadyStored : 0,
    conflicts: ((value.conflicts ?? []) as { id: string; reason?: unknown; conflict?: unknown }[]).map((c) => ({
      id: c.id,
      conflict: text(c.conflict, 'content'),
      reason: text(c.reason, 'the id is already stored with other content'),
    })),
    failed: value.failed.map((f) => ({ id: f.id, reason: text(f.reason, 'not stored') })),
  };
}
