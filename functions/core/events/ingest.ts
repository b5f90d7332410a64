import type { AuditRecord } from '../audit/audit-chain.ts';
import type { Principal } from '../auth/token-record.ts';
import { requireScope } from '../auth/tokens.ts';
import { ForbiddenError } from '../errors.ts';
import type { AuditLog, EventStore } from '../ports.ts';
import { parseEventBatch } from './event-batch.ts';
import type { ConflictKind } from './event-identity.ts';
import { type RefusedEvent, storeEvents } from './store-events.ts';

/** What ingest needs; the composition root provides it. */
export interface IngestDeps {
  readonly events: EventStore;
  readonly audit: AuditLog;
  readonly now: () => Date;
}

/** An offered event whose id is stored with other content or at another time: nothing changed. */
export interface EventConflict {
  readonly id: string;
  /** Its position in the request's `events` array. */
  readonly index: number;
  readonly conflict: ConflictKind;
  readonly reason: string;
}

export interface IngestResult {
  /** Distinct events in the request (identical repeats count once). */
  readonly received: number;
  /** Events stored by this request for the first time. */
  readonly written: number;
  /** Events already stored with the same content and time (an idempotent repeat). */
  readonly alreadyStored: number;
  /** Events refused because their id is stored with different content or time; each is audited. */
  readonly conflicts: readonly EventConflict[];
  /** Events the store could not write even after retries; resending them is safe. */
  readonly failed: readonly { readonly id: string; readonly reason: string }[];
}

/**
 * Validates the whole batch first (nothing is written if any event is bad), then stores each event
 * once by id (store-events.ts). A token restricted to one team may only write that team's events;
 * since a stored event never changes, it cannot take over another team's event either.
 */
export async function ingestEvents(
  deps: IngestDeps,
  body: unknown,
  principal: Principal,
): Promise<IngestResult> {
  requireScope(principal, 'events:write');
  const events = parseEventBatch(body);
  const foreign = principal.team === undefined ? undefined : events.find((e) => e.team !== principal.team);
  if (foreign !== undefined) {
    throw new ForbiddenError(
      `This token may only write events of team ${principal.team}; event ${foreign.id} belongs to ${foreign.team}.`,
    );
  }
  const outcome = await storeEvents(deps.events, events);
  // One entry per refused event, in request order, so the trail shows every attempted change.
  for (const refused of outcome.conflicts) {
    await deps.audit.append(conflictAuditRecord(refused, principal, deps.now()));
  }
  return {
    received: events.length,
    written: outcome.written.length,
    alreadyStored: outcome.alreadyStored.length,
    conflicts: outcome.conflicts.map((refused) => ({
      id: refused.offered.id,
      index: refused.index,
      conflict: refused.conflict,
      reason: conflictReason(refused, principal),
    })),
    failed: outcome.failed,
  };
}

function conflictReason({ conflict, stored }: RefusedEvent, principal: Principal): string {
  // A team-restricted caller learns nothing of another team's event beyond that the id is taken.
  if (principal.team !== undefined && stored.team !== principal.team) {
    return 'the id is already stored for another event; stored events never change';
  }
  return conflict === 'time'
    ? `the id is already stored with timestamp ${stored.timestamp}; stored events never change`
    : 'the id is already stored with different content; stored events never change';
}

function conflictAuditRecord(refused: RefusedEvent, principal: Principal, now: Date): AuditRecord {
  const { stored, offered } = refused;
  return {
    action: 'event.conflict',
    subject: offered.id,
    actor: principal.tokenId,
    at: now.toISOString(),
    details: {
      conflict: refused.conflict,
      storedDigest: stored.digest,
      offeredDigest: offered.digest,
      storedTimestamp: stored.timestamp,
      offeredTimestamp: offered.timestamp,
      ...(stored.team === offered.team ? {} : { storedTeam: stored.team, offeredTeam: offered.team }),
    },
  };
}
