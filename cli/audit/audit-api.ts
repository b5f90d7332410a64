import type { AuditEntry, AuditHead } from '../../functions/core/audit/audit-chain.ts';
import type { ApiClient } from '../api/client.ts';
import { withFlagNames } from '../api/problems.ts';
import { ApiError } from '../errors.ts';

/**
 * `GET /v1/audit` and `GET /v1/audit/checkpoint` as the CLI reads them. Entries are passed on as
 * received (verification must see exactly what the API sent, not a cleaned copy); only the
 * envelope is checked here, and field errors are named by the flag that set them.
 */

export interface AuditQuery {
  readonly fromSeq?: number;
  readonly toSeq?: number;
  readonly since?: string;
  readonly until?: string;
  readonly action?: string;
  readonly subject?: string;
  readonly limit?: number;
  readonly cursor?: string;
}

export interface AuditPageView {
  /** As the API sent them: checked by verifyChain, never trusted by shape. */
  readonly entries: readonly AuditEntry[];
  readonly cursor?: string;
  readonly head: AuditHead;
}

export interface AuditApi {
  page(query: AuditQuery): Promise<AuditPageView>;
  /** The latest signed checkpoint as sent (parse it before use), or undefined when none was signed. */
  latestCheckpoint(): Promise<unknown | undefined>;
}

/** The API's query parameter → the `kt audit` flag that sets it. */
export const FLAG_FOR_FIELD: Readonly<Record<string, string>> = {
  fromSeq: '--from-seq',
  toSeq: '--to-seq',
  since: '--since',
  until: '--until',
  action: '--action',
  subject: '--subject',
  limit: '--limit',
  cursor: '--cursor',
};

export function auditApi(client: ApiClient): AuditApi {
  return {
    async page(query) {
      const response = await withFlagNames(FLAG_FOR_FIELD, client.get('/v1/audit', { query: { ...query } }));
      return readAuditPage(response.body, response.status);
    },
    async latestCheckpoint() {
      try {
        return (await client.get('/v1/audit/checkpoint')).body;
      } catch (error) {
        if (error instanceof ApiError && error.status === 404) return undefined;
        throw error;
      }
    },
  };
}

/** Checks the envelope of a `GET /v1/audit` answer; an ApiError (exit 1) naming what is wrong otherwise. */
export function readAuditPage(body: unknown, status = 200): AuditPageView {
  const fail = (problem: string) =>
    new ApiError(`the API sent an audit page the CLI cannot read (${problem})`, status);
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw fail('not a JSON object');
  const page = body as Record<string, unknown>;
  if (!Array.isArray(page.entries)) throw fail('no "entries" array');
  const head = page.head as Record<string, unknown> | undefined;
  if (
    typeof head !== 'object' ||
    head === null ||
    !Number.isSafeInteger(head.seq) ||
    typeof head.hash !== 'string'
  ) {
    throw fail('no "head" with seq and hash');
  }
  if (page.cursor !== undefined && (typeof page.cursor !== 'string' || page.cursor === '')) {
    throw fail('"cursor" is not text');
  }
  return body as AuditPageView;
}

