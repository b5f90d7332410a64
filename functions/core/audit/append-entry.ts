import { randomUUID } from 'node:crypto';
import { DependencyError, ValidationError } from '../errors.ts';
import {
  type AuditEntry,
  AuditChainError,
  type AuditHead,
  type AuditRecord,
  auditEntryHash,
  auditRecordIssues,
  chainNext,
  GENESIS_HASH,
} from './audit-chain.ts';
import type { AuditChainStore } from './audit-chain-store.ts';

export interface AppendOptions {
  /** Appends that lose a race retry; this bounds the tries (first included) before giving up. */
  readonly maxAttempts?: number;
  /** Backoff base and cap between tries; the delay is drawn uniformly below the capped exponential. */
  readonly retryBaseDelayMs?: number;
  readonly retryMaxDelayMs?: number;
  /** Tests replace these. */
  readonly newWriterId?: () => string;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly random?: () => number;
}

export const DEFAULT_APPEND_OPTIONS = {
  maxAttempts: 50,
  retryBaseDelayMs: 10,
  retryMaxDelayMs: 500,
} as const;

/**
 * Appends `record` as the next entry of the chain kept in `store`, with conditional single-item
 * writes only:
 *
 *   read the head (seq n) → put entry n + 1 if its slot is empty → move the head from n to n + 1
 *   if it is still at n.
 *
 * Losing either race is safe:
 * - the slot is taken: another appender won, or one crashed after its entry and before moving the
 *   head. Either way the entry there is checked (it must link to entry n and match its hash), the
 *   head is moved past it on the writer's behalf, and the append retries on top of it. So the chain
 *   never forks, never skips a seq, and a crash leaves nothing for an operator to repair;
 * - the head moved already: someone moved it past our entry for us, which is what we wanted.
 *
 * Each append writes a random writer id beside its entry (outside the hashed entry), so a put
 * whose response was lost and that the store sent again is recognised as our own entry rather
 * than appended twice. An append that fails with a DependencyError may still have written its
 * entry (it is then linked by the next append); a caller that retries should first look for it.
 */
export async function appendEntry(
  store: AuditChainStore,
  record: AuditRecord,
  options: AppendOptions = {},
): Promise<AuditEntry> {
  const issues = auditRecordIssues(record);
  if (issues.length > 0) throw new ValidationError('The audit record is invalid.', issues);
  const maxAttempts = options.maxAttempts ?? DEFAULT_APPEND_OPTIONS.maxAttempts;
  const sleep = options.sleep ?? defaultSleep;
  const writer = (options.newWriterId ?? randomUUID)();
  let lostRaces = 0;
  let head = await store.readHead();
  for (;;) {
    const entry = chainNext(head, record);
    if (await store.putEntryIfAbsent(entry, writer)) {
      await store.moveHead(head, entry);
      return entry;
    }
    const occupant = await store.readEntry(entry.seq);
    if (occupant !== undefined) {
      checkOccupant(occupant.entry, head);
      const moved = await store.moveHead(head, occupant.entry);
      if (occupant.writer === writer) return occupant.entry;
      if (moved) {
        // We moved the head for a writer that had not (it crashed, or is slow): catching up is
        // progress, not contention, so the next slot is tried at once.
        head = occupant.entry;
        continue;
      }
    }
    lostRaces++;
    if (lostRaces >= maxAttempts) {
      throw new DependencyError(
        `Appending to the audit trail lost the race to other writers ${lostRaces} times; retrying later may succeed.`,
      );
    }
    await sleep(backoffMs(lostRaces, options));
    head = await store.readHead();
  }
}

/**
 * An entry found in the slot after `head` must be the one a correct appender would have written
 * there: linked to the head and matching its own hash. Anything else means the chain was altered,
 * and building on it would hide that, so appending stops.
 */
function checkOccupant(occupant: AuditEntry, head: AuditHead | undefined): void {
  if (occupant.prevHash !== (head?.hash ?? GENESIS_HASH)) {
    throw new AuditChainError(
      `Audit entry ${occupant.seq} does not link to entry ${occupant.seq - 1}: ` +
        'the chain was altered; appending stops until it is investigated.',
    );
  }
  if (!hashMatches(occupant)) {
    throw new AuditChainError(
      `Audit entry ${occupant.seq} does not match its hash: the entry was altered; ` +
        'appending stops until it is investigated.',
    );
  }
}

function hashMatches(entry: AuditEntry): boolean {
  try {
    return auditEntryHash(entry) === entry.hash;
  } catch {
    return false; // a member canonical JSON cannot spell (e.g. a fraction written into the store)
  }
}

function backoffMs(attempt: number, options: AppendOptions): number {
  const base = options.retryBaseDelayMs ?? DEFAULT_APPEND_OPTIONS.retryBaseDelayMs;
  const cap = options.retryMaxDelayMs ?? DEFAULT_APPEND_OPTIONS.retryMaxDelayMs;
  // Full jitter: appenders that collided do not retry in lockstep.
  return (options.random ?? Math.random)() * Math.min(cap, base * 2 ** attempt);
}

function defaultSleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
