import type { Principal } from '../auth/token-record.ts';
import { requireScope } from '../auth/tokens.ts';
import { z } from 'zod';
import { type FieldIssue, ForbiddenError, NotFoundError } from '../errors.ts';
import { isoUtcTimestamp } from '../events/decision-event.ts';
import type { AuditLog } from '../ports.ts';
import { checkQuery, MAX_CURSOR_CHARS, parseQuery, queryObject } from '../request-schema.ts';
import { AUDIT_ACTIONS, type AuditEntry, type AuditHead, GENESIS_HASH, MAX_ID_CHARS } from './audit-chain.ts';
import { MAX_AUDIT_SEQ } from './audit-chain-store.ts';
import { MAX_ENTRIES_LIMIT } from './audit-trail.ts';
import { type AuditCheckpoint, type CheckpointObjects, readLatestCheckpoint } from './checkpoint.ts';

/** What the audit trail's API operations need; the composition root provides it. */
export interface AuditReadDeps {
  readonly audit: Pick<AuditLog, 'entries' | 'head'>;
  readonly checkpoints: Pick<CheckpointObjects, 'getDocument'>;
}

export const DEFAULT_AUDIT_LIMIT = 100;
export const MAX_AUDIT_LIMIT = MAX_ENTRIES_LIMIT;
/** Store reads one request may make while filters skip entries; then it answers with a cursor. */
const MAX_READS_PER_REQUEST = 5;

export type AuditQueryParameters = Readonly<Partial<Record<string, string | undefined>>>;

export interface AuditPage {
  readonly entries: readonly AuditEntry[];
  /** Present when more entries may follow: pass it back with the same filters. */
  readonly cursor?: string;
  /** The chain's last entry when the page was read; seq 0 and the genesis hash while it is empty. */
  readonly head: AuditHead;
}

/**
 * GET /v1/audit: entries in chain order, filtered by seq range, time range (on `at`), action (or
 * an action prefix such as `export.`) and subject. A filter that skips many entries may return a
 * page with fewer than `limit` entries, or none, with a cursor: keep following it until there is
 * no cursor. A filtered listing is for reading; verifying needs every entry (no filters but the
 * seq range), as `kt audit verify` fetches it.
 */
export async function listAuditEntries(
  deps: Pick<AuditReadDeps, 'audit'>,
  parameters: AuditQueryParameters,
  principal: Principal,
): Promise<AuditPage> {
  requireAuditReader(principal);
  const query = parseAuditQuery(parameters);
  const head = (await deps.audit.head()) ?? { seq: 0, hash: GENESIS_HASH };
  const matches = (entry: AuditEntry) =>
    (query.since === undefined || Date.parse(entry.at) >= query.since) &&
    (query.until === undefined || Date.parse(entry.at) <= query.until) &&
    (query.action === undefined ||
      (query.action.endsWith('.') ? entry.action.startsWith(query.action) : entry.action === query.action));
  const skips = query.since !== undefined || query.until !== undefined || query.action !== undefined;

  const entries: AuditEntry[] = [];
  let after = query.afterSeq;
  let exhausted = false;
  for (let reads = 0; entries.length < query.limit && reads < MAX_READS_PER_REQUEST; reads++) {
    const want = skips ? MAX_ENTRIES_LIMIT : query.limit - entries.length;
    const page = await deps.audit.entries({
      afterSeq: after,
      limit: want,
      ...(query.toSeq === undefined ? {} : { toSeq: query.toSeq }),
      ...(query.subject === undefined ? {} : { subject: query.subject }),
    });
    let consumed = 0;
    for (const entry of page) {
      consumed++;
      after = entry.seq;
      if (matches(entry)) entries.push(entry);
      if (entries.length === query.limit) break;
    }
    if (page.length < want && consumed === page.length) {
      exhausted = true;
      break;
    }
  }
  return { entries, ...(exhausted ? {} : { cursor: encodeCursor(after) }), head };
}

/** GET /v1/audit/checkpoint: the latest signed checkpoint of the chain head. */
export async function latestAuditCheckpoint(
  deps: Pick<AuditReadDeps, 'checkpoints'>,
  principal: Principal,
): Promise<AuditCheckpoint> {
  requireAuditReader(principal);
  const checkpoint = await readLatestCheckpoint(deps.checkpoints);
  if (checkpoint === undefined) throw new NotFoundError('Audit checkpoint', 'latest');
  return checkpoint;
}

/**
 * The audit trail is one chain over every team's exports and every refused event write, and it
 * verifies only whole: a team-restricted token is refused rather than shown a filtered slice
 * whose gaps would look like tampering and whose entries could still name other teams' work.
 */
export function requireAuditReader(principal: Principal): void {
  requireScope(principal, 'audit:read');
  if (principal.team !== undefined) {
    throw new ForbiddenError(
      `The audit trail covers every team, so a token restricted to team ${principal.team} cannot read it; ` +
        'use a token with the audit:read scope and no team restriction.',
    );
  }
}

interface AuditQuery {
  readonly afterSeq: number;
  readonly toSeq?: number;
  readonly since?: number;
  readonly until?: number;
  readonly action?: string;
  readonly subject?: string;
  readonly limit: number;
}

const SEQ_RULE = `must be a whole number from 1 to ${MAX_AUDIT_SEQ}`;
const TIME_RULE = 'must be an ISO 8601 UTC timestamp such as 2026-04-20T09:15:32Z';
const ACTION_RULE = `must be one of ${AUDIT_ACTIONS.join(', ')}, or a prefix ending in "." such as export.`;
/** The rules between two parameters, exported so kt can name both of its flags instead. */
export const SEQ_ORDER_RULE = 'must not be greater than toSeq';
export const TIME_ORDER_RULE = 'must not be later than until';
const SUBJECT_RULE = `must be 1 to ${MAX_ID_CHARS} characters without control characters`;
// biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
const CONTROL = /[\u0000-\u001f\u007f]/;

const seqParameter = z
  .string({ error: SEQ_RULE })
  .refine((raw) => /^\d{1,12}$/.test(raw) && Number(raw) >= 1, { error: SEQ_RULE });
const timeParameter = z.string({ error: TIME_RULE }).refine((raw) => isoUtcTimestamp.safeParse(raw).success, {
  error: TIME_RULE,
});

/** `GET /v1/audit?fromSeq=&toSeq=&since=&until=&action=&subject=&limit=&cursor=`. */
export const auditQuerySchema = queryObject(
  {
    fromSeq: seqParameter.optional(),
    toSeq: seqParameter.optional(),
    since: timeParameter.optional(),
    until: timeParameter.optional(),
    action: z.string({ error: ACTION_RULE }).refine(isActionFilter, { error: ACTION_RULE }).optional(),
    subject: z
      .string({ error: SUBJECT_RULE })
      .refine((subject) => subject.length <= MAX_ID_CHARS && !CONTROL.test(subject), { error: SUBJECT_RULE })
      .optional(),
    limit: z
      .string({ error: `must be a whole number from 1 to ${MAX_AUDIT_LIMIT}` })
      .refine((raw) => /^\d{1,4}$/.test(raw) && Number(raw) >= 1 && Number(raw) <= MAX_AUDIT_LIMIT, {
        error: `must be a whole number from 1 to ${MAX_AUDIT_LIMIT}`,
      })
      .optional(),
    cursor: z
      .string({ error: 'must be a cursor returned by a previous page' })
      .refine((cursor) => cursor.length <= MAX_CURSOR_CHARS && decodeCursor(cursor) !== undefined, {
        error: 'must be a cursor returned by a previous page',
      })
      .optional(),
  },
  'the audit listing',
).superRefine(
  (query, ctx) => {
    if (query === null || typeof query !== 'object') return;
    const { fromSeq, toSeq, since, until } = query as Record<string, unknown>;
    const seq = (raw: unknown) => (seqParameter.safeParse(raw).success ? Number(raw) : undefined);
    const time = (raw: unknown) => (timeParameter.safeParse(raw).success ? Date.parse(raw as string) : undefined);
    const [from, to] = [seq(fromSeq), seq(toSeq)];
    if (from !== undefined && to !== undefined && from > to) {
      ctx.addIssue({ code: 'custom', path: ['fromSeq'], message: SEQ_ORDER_RULE });
    }
    const [after, before] = [time(since), time(until)];
    if (after !== undefined && before !== undefined && after > before) {
      ctx.addIssue({ code: 'custom', path: ['since'], message: TIME_ORDER_RULE });
    }
  },
  // Beside the parameters' own issues: every problem of the query is reported at once.
  { when: () => true },
);

/** The query's issues, each naming its parameter and rule; empty when it is valid (kt checks its flags with it). */
export function auditQueryIssues(parameters: Readonly<Record<string, string | undefined>>): FieldIssue[] {
  const checked = checkQuery(auditQuerySchema, parameters);
  return checked.ok ? [] : checked.issues;
}

function parseAuditQuery(parameters: AuditQueryParameters): AuditQuery {
  const query = parseQuery(auditQuerySchema, parameters, 'The audit query is invalid.');
  const fromSeq = query.fromSeq === undefined ? undefined : Number(query.fromSeq);
  const cursorAfter = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
  return {
    afterSeq: Math.max(fromSeq === undefined ? 0 : fromSeq - 1, cursorAfter ?? 0),
    limit: query.limit === undefined ? DEFAULT_AUDIT_LIMIT : Number(query.limit),
    ...(query.toSeq === undefined ? {} : { toSeq: Number(query.toSeq) }),
    ...(query.since === undefined ? {} : { since: Date.parse(query.since) }),
    ...(query.until === undefined ? {} : { until: Date.parse(query.until) }),
    ...(query.action === undefined ? {} : { action: query.action }),
    ...(query.subject === undefined ? {} : { subject: query.subject }),
  };
}

function isActionFilter(action: string): boolean {
  if ((AUDIT_ACTIONS as readonly string[]).includes(action)) return true;
  return action.endsWith('.') && AUDIT_ACTIONS.some((known) => known.startsWith(action));
}

/** A cursor is the seq of the last entry a page looked at, wrapped so nobody builds one by hand. */
function encodeCursor(afterSeq: number): string {
  return Buffer.from(JSON.stringify({ after: afterSeq }), 'utf8').toString('base64url');
}

function decodeCursor(cursor: string): number | undefined {
  try {
    const value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { after?: unknown };
    const after = value?.after;
    return Number.isSafeInteger(after) && (after as number) >= 0 && (after as number) <= MAX_AUDIT_SEQ
      ? (after as number)
      : undefined;
  } catch {
    return undefined;
  }
}
