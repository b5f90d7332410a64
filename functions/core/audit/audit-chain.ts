import { createHash } from 'node:crypto';
import { AppError, type FieldIssue, ValidationError } from '../errors.ts';
import { isoUtcTimestamp } from '../events/decision-event.ts';
import { canonicalJson, isWellFormed, toWellFormed } from './canonical-json.ts';

/**
 * The tamper-evident audit trail: a hash chain of entries, one per export action.
 *
 * Entry n carries `prevHash` = the `hash` of entry n - 1 (64 zeros for entry 1), and
 *
 *   hash = lowercase hex SHA-256 of the UTF-8 bytes of canonicalJson(entry without its `hash` member)
 *
 * where canonicalJson sorts keys and writes no whitespace (canonical-json.ts; README.md in this
 * folder shows how to check a trail offline). Editing any entry changes its hash; removing,
 * inserting or reordering entries breaks the seq sequence or a prevHash link. The chain alone does
 * not stop someone who rewrites every entry from the edit onwards: the signed export manifests
 * record the audit head hash at the time, which anchors the chain outside the table.
 */

export const AUDIT_ACTIONS = [
  'export.created',
  'export.completed',
  'export.failed',
  'export.cancelled',
  'export.downloaded',
  'export.deleted',
  'export.delivered',
  'export.delivery_failed',
  'event.conflict',
  'key.created',
  'schedule.created',
  'schedule.deleted',
  'schedule.paused',
  'schedule.resumed',
  'token.created',
  'token.revoked',
] as const;

export type AuditAction = (typeof AUDIT_ACTIONS)[number];

export interface AuditRecord {
  readonly action: AuditAction;
  /** What the action is about: an export id, an event id (event.conflict), later a schedule or key. */
  readonly subject: string;
  /** The tokenId of the caller, or 'workflow' for the export workflow itself. */
  readonly actor: string;
  /** When it happened: an ISO 8601 UTC timestamp (e.g. `new Date().toISOString()`). */
  readonly at: string;
  /**
   * Small facts worth keeping (format, records, bytes, sha256, reason...): at most 32, named with
   * letters, digits, `_ . -`; numbers must be safe integers; text at most 2000 characters (a lone
   * surrogate in it is stored as U+FFFD).
   */
  readonly details?: Readonly<Record<string, string | number>>;
}

export interface AuditEntry extends AuditRecord {
  /** Position in the chain, from 1. */
  readonly seq: number;
  /** The previous entry's hash; GENESIS_HASH for seq 1. */
  readonly prevHash: string;
  /** SHA-256 hex of the canonical JSON of every other member. */
  readonly hash: string;
}

/** The last entry of a chain: what the next entry links to. */
export interface AuditHead {
  readonly seq: number;
  readonly hash: string;
}

export type ChainVerification =
  | { readonly ok: true; readonly count: number }
  | { readonly ok: false; readonly seq: number; readonly reason: string };

/** prevHash of the first entry. */
export const GENESIS_HASH = '0'.repeat(64);

export const MAX_DETAILS = 32;
export const MAX_DETAIL_CHARS = 2000;
export const MAX_ID_CHARS = 256;
const DETAIL_KEY = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/;
const HEX_HASH = /^[0-9a-f]{64}$/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f]/;
const ENTRY_MEMBERS = new Set(['seq', 'prevHash', 'action', 'subject', 'actor', 'at', 'details', 'hash']);

/**
 * The audit chain is broken or its stored state is inconsistent (an entry or the head edited,
 * removed or unreadable). Retrying does not help; it needs a person to look at it.
 */
export class AuditChainError extends AppError {
  readonly code = 'internal';
}

/** The hash an entry must carry: over every member except `hash` itself. */
export function auditEntryHash(entry: Omit<AuditEntry, 'hash'> | Readonly<Record<string, unknown>>): string {
  const { hash: _ignored, ...rest } = entry as Record<string, unknown>;
  return createHash('sha256').update(canonicalJson(rest), 'utf8').digest('hex');
}

/**
 * The entry that follows `head` (undefined: the chain is empty) and records `record`.
 * Throws a ValidationError naming each offending field of the record, and a RangeError for a head
 * that is not one (which would mean corrupt storage, not a bad caller).
 */
export function chainNext(head: AuditHead | undefined, record: AuditRecord): AuditEntry {
  if (head !== undefined) {
    if (!Number.isSafeInteger(head.seq) || head.seq < 1 || head.seq >= Number.MAX_SAFE_INTEGER) {
      throw new RangeError(`The audit head seq must be a positive safe integer, not ${head.seq}`);
    }
    if (typeof head.hash !== 'string' || !HEX_HASH.test(head.hash)) {
      throw new RangeError('The audit head hash must be 64 lowercase hex characters');
    }
  }
  const issues = auditRecordIssues(record);
  if (issues.length > 0) throw new ValidationError('The audit record is invalid.', issues);
  // Text cut to a length may end in half a surrogate pair: it becomes U+FFFD rather than an error.
  const details = Object.fromEntries(
    Object.entries(record.details ?? {}).map(([key, value]) => [
      key,
      typeof value === 'string' ? toWellFormed(value) : value,
    ]),
  );
  // Built member by member: nothing but the record's own fields reaches the hash.
  const unhashed = {
    seq: head === undefined ? 1 : head.seq + 1,
    prevHash: head === undefined ? GENESIS_HASH : head.hash,
    action: record.action,
    subject: record.subject,
    actor: record.actor,
    at: record.at,
    // No details and empty details are one thing, spelled one way: absent.
    ...(Object.keys(details).length === 0 ? {} : { details }),
  };
  return { ...unhashed, hash: auditEntryHash(unhashed) };
}

/** What is wrong with a record, field by field (empty when it may be appended). */
export function auditRecordIssues(record: unknown): FieldIssue[] {
  if (typeof record !== 'object' || record === null || Array.isArray(record)) {
    return [{ field: '(record)', rule: 'must be an object' }];
  }
  const r = record as Record<string, unknown>;
  const issues: FieldIssue[] = [];
  if (!(AUDIT_ACTIONS as readonly unknown[]).includes(r.action)) {
    issues.push({ field: 'action', rule: `must be one of ${AUDIT_ACTIONS.join(', ')}` });
  }
  for (const field of ['subject', 'actor'] as const) {
    const value = r[field];
    if (
      typeof value !== 'string' ||
      value.length === 0 ||
      value.length > MAX_ID_CHARS ||
      CONTROL.test(value) ||
      !isWellFormed(value)
    ) {
      issues.push({ field, rule: `must be 1 to ${MAX_ID_CHARS} characters without control characters` });
    }
  }
  if (typeof r.at !== 'string' || !isoUtcTimestamp.safeParse(r.at).success) {
    issues.push({ field: 'at', rule: 'must be an ISO 8601 UTC timestamp such as 2026-04-20T09:15:32Z' });
  }
  if (r.details !== undefined) issues.push(...detailsIssues(r.details));
  return issues;
}

function detailsIssues(details: unknown): FieldIssue[] {
  if (typeof details !== 'object' || details === null || Array.isArray(details)) {
    return [{ field: 'details', rule: 'must be an object' }];
  }
  const prototype = Object.getPrototypeOf(details);
  if (prototype !== Object.prototype && prototype !== null) {
    return [{ field: 'details', rule: 'must be a plain object' }];
  }
  const entries = Object.entries(details);
  if (entries.length > MAX_DETAILS) {
    return [{ field: 'details', rule: `must have at most ${MAX_DETAILS} members` }];
  }
  const issues: FieldIssue[] = [];
  for (const [key, value] of entries) {
    if (!DETAIL_KEY.test(key)) {
      issues.push({
        field: `details.${key}`,
        rule: 'the name must start with a letter and have at most 64 letters, digits, _ . or -',
      });
    } else if (typeof value === 'number') {
      if (!Number.isSafeInteger(value)) {
        issues.push({
          field: `details.${key}`,
          rule: 'a number must be a safe integer (write others as text)',
        });
      }
    } else if (typeof value !== 'string' || value.length > MAX_DETAIL_CHARS) {
      issues.push({
        field: `details.${key}`,
        rule: `must be a safe integer or text of at most ${MAX_DETAIL_CHARS} characters`,
      });
    }
  }
  return issues;
}

/**
 * Walks `entries` in order and checks that they form a chain: seq counts up by one from 1 (or from
 * `options.after.seq + 1`), each prevHash is the previous hash (GENESIS_HASH first, or
 * `options.after.hash`), and each hash matches its entry's contents. Reports the first break: an
 * edited entry (hash mismatch), a broken link (prevHash mismatch), a gap (missing seqs), a
 * duplicate, a reordering, a wrong genesis, or a malformed entry; each reason says which.
 *
 * Accepts untrusted input (an offline file, say); `seq` in a failure is the position in the chain
 * where the break was found.
 */
export function verifyChain(
  entries: readonly AuditEntry[],
  options: { readonly after?: AuditHead } = {},
): ChainVerification {
  let seq = options.after === undefined ? 1 : options.after.seq + 1;
  let prevHash = options.after === undefined ? GENESIS_HASH : options.after.hash;
  for (const [index, entry] of (entries as readonly unknown[]).entries()) {
    const fail = (reason: string): ChainVerification => ({ ok: false, seq, reason });
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry))
      return fail('the entry is not an object');
    const e = entry as Record<string, unknown>;
    if (e.seq !== seq) {
      return fail(
        typeof e.seq === 'number' && Number.isSafeInteger(e.seq)
          ? seqProblem(seq, e.seq, entries.slice(index + 1))
          : 'the entry has no whole-number seq',
      );
    }
    const malformed = entryShapeProblem(e);
    if (malformed !== undefined) return fail(`the entry is malformed: ${malformed}`);
    if (e.prevHash !== prevHash) {
      return fail(
        seq === 1 && options.after === undefined
          ? `the first entry's prevHash must be ${GENESIS_HASH} (genesis)`
          : `prevHash does not match the hash of entry ${seq - 1}`,
      );
    }
    let expected: string;
    try {
      expected = auditEntryHash(e);
    } catch (error) {
      return fail(`the entry cannot be hashed: ${(error as Error).message}`);
    }
    if (e.hash !== expected) return fail("hash does not match the entry's contents (the entry was altered)");
    prevHash = expected;
    seq++;
  }
  return { ok: true, count: entries.length };
}

/**
 * Names the break when entry `expected` was due and `found` came instead, so an auditor knows what
 * to look for: a gap (entries removed), a duplicate, or a reordering. Looking at the entries that
 * follow tells a gap from a reordering: when the missing seq turns up later, it was moved, not removed.
 */
function seqProblem(expected: number, found: number, rest: readonly unknown[]): string {
  if (found === expected - 1) return `found seq ${found} again after seq ${found}: a duplicate entry`;
  if (found < expected) return `found seq ${found} after seq ${expected - 1}: entries are out of order`;
  const comesLater = rest.some((entry) => {
    const seq = (entry as { seq?: unknown } | null)?.seq;
    return typeof seq === 'number' && seq >= expected && seq < found;
  });
  if (comesLater) {
    return `expected seq ${expected}, found seq ${found} (seq ${expected} comes later): entries are out of order`;
  }
  const missing = found - expected;
  const which = missing === 1 ? `${expected}` : `${expected}..${found - 1}`;
  return `expected seq ${expected}, found seq ${found}: a gap, ${missing} ${missing === 1 ? 'entry' : 'entries'} missing (${which})`;
}

/** Why an entry's members do not have the types an AuditEntry has, if they do not. */
function entryShapeProblem(e: Record<string, unknown>): string | undefined {
  const unexpected = Object.keys(e).filter((key) => !ENTRY_MEMBERS.has(key));
  if (unexpected.length > 0) return `unexpected member(s) ${unexpected.join(', ')}`;
  if (!(AUDIT_ACTIONS as readonly unknown[]).includes(e.action)) return 'unknown action';
  for (const field of ['prevHash', 'hash'] as const) {
    if (typeof e[field] !== 'string' || !HEX_HASH.test(e[field] as string)) {
      return `${field} is not 64 lowercase hex characters`;
    }
  }
  for (const field of ['subject', 'actor', 'at'] as const) {
    if (typeof e[field] !== 'string') return `${field} is not a string`;
  }
  if (e.details !== undefined) {
    const d = e.details;
    if (typeof d !== 'object' || d === null || Array.isArray(d)) return 'details is not an object';
    for (const [key, value] of Object.entries(d)) {
      if (typeof value !== 'string' && typeof value !== 'number')
        return `details.${key} is not text or a number`;
    }
  }
  return undefined;
}
