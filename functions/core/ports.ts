import type { AuditEntry, AuditHead, AuditRecord } from './audit/audit-chain.ts';
import type { DecisionEvent } from './events/decision-event.ts';
import type { EventFilter } from './events/event-filter.ts';
import type { EventIdClaim, EventIdRecord } from './events/event-identity.ts';
import type { StoredEvent } from './events/stored-event.ts';
import type { EvidenceSignature, PublicKeyInfo } from './evidence/signing.ts';
import type { UploadedPart } from './export/export-checkpoint.ts';
import type { TokenRecord } from './auth/token-record.ts';
import type { ExportJob } from './export/export-job.ts';
import type { ExportSchedule } from './schedules/schedule.ts';

/**
 * What the core needs from the outside world. Adapters in functions/adapters implement these
 * against AWS (or the embedded local servers); tests may implement them in memory.
 */

export interface EventPage {
  readonly events: readonly DecisionEvent[];
  /** Present when more events may follow; pass it back to continue after the last one. */
  readonly cursor?: string;
}

/** Outcome of writing a batch: every id is in exactly one of the two lists. */
export interface PutEventsResult {
  readonly written: readonly string[];
  readonly failed: readonly { readonly id: string; readonly reason: string }[];
}

export interface EventStore {
  /**
   * Records each id with its digest unless the id is recorded already, one conditional write per
   * id (functions/core/events/event-identity.ts). Returns one claim per record, in order: safe
   * under concurrent writers of the same id, of which exactly one claims it.
   */
  claimEventIds(records: readonly EventIdRecord[]): Promise<readonly EventIdClaim[]>;
  /** Writes the items of events whose ids the caller has claimed (or found recorded identically). */
  putEvents(events: readonly DecisionEvent[]): Promise<PutEventsResult>;
  /**
   * How many events match, counted by the store alone (a count-only query over the same days and
   * partitions): the completeness check compares it with what an export wrote.
   */
  countEvents(filter: EventFilter): Promise<number>;
  /**
   * Streams matching events in (timestamp, id) order, starting after `afterSortKey` when given.
   * Reads only the days in range, and only matching events when a filter is set.
   */
  streamEvents(filter: EventFilter, options?: { readonly afterSortKey?: string }): AsyncIterable<StoredEvent>;
  /** One page of matching events, in order; `cursor` continues a previous page. */
  queryEvents(filter: EventFilter, options: { readonly limit: number; readonly cursor?: string }): Promise<EventPage>;
}

export interface TokenStore {
  /** Stores a new token; a ConflictError if its hash or its id is taken. */
  putToken(record: TokenRecord): Promise<void>;
  getTokenByHash(tokenHash: string): Promise<TokenRecord | undefined>;
  /** The token with this id (`tok_…`), or undefined. */
  getTokenById(tokenId: string): Promise<TokenRecord | undefined>;
  /** Tokens newest first, without a scan; `cursor` continues a previous page. */
  listTokens(options: { readonly limit: number; readonly cursor?: string }): Promise<{
    readonly tokens: readonly TokenRecord[];
    readonly cursor?: string;
  }>;
  /**
   * Marks the token revoked at `revokedAt` unless it is revoked already; returns the stored record
   * (with the first revocation's time when it was). A NotFoundError when there is no such token.
   */
  revokeToken(tokenHash: string, revokedAt: string): Promise<TokenRecord>;
}

/**
 * Where artifacts live (the artifact bucket). Artifacts are written as multipart uploads so an
 * export can upload part by part across invocations; a part may be uploaded again with the same
 * bytes (a retried invocation), which replaces it.
 */
export interface ArtifactStore {
  /** Starts a multipart upload of `key`; returns its upload id. */
  startUpload(key: string, contentType: string): Promise<string>;
  /** Uploads one part (every part but the last must be at least 5 MiB); returns its ETag. */
  uploadPart(key: string, uploadId: string, partNumber: number, body: Uint8Array): Promise<string>;
  /** Assembles the parts, in part-number order, into the object `key`. */
  completeUpload(key: string, uploadId: string, parts: readonly UploadedPart[]): Promise<void>;
  /** Discards an upload and its parts; an upload that no longer exists is not an error. */
  abortUpload(key: string, uploadId: string): Promise<void>;
  /** The stored object's size, or undefined when there is none. */
  artifactSize(key: string): Promise<number | undefined>;
  /** A short-lived URL that downloads the object, named `filename` for the browser/CLI. */
  downloadUrl(key: string, options: { readonly expiresInSeconds: number; readonly filename: string }): Promise<string>;
  /** Deletes the object; deleting a missing object is not an error. */
  deleteArtifact(key: string): Promise<void>;
  /** Writes a small document (a manifest) whole, replacing any object at `key`. */
  putDocument(key: string, body: string, contentType: string): Promise<void>;
  /** A small document's text, or undefined when there is none. */
  getDocument(key: string): Promise<string | undefined>;
  /** Multipart uploads not yet completed or aborted, under `prefix` (operations and tests). */
  openUploads(prefix: string): Promise<readonly { readonly key: string; readonly uploadId: string }[]>;
}

/** A stored value and the revision it was read at, for conditional (optimistic) writes. */
export interface Revisioned<T> {
  readonly value: T;
  readonly revision: number;
}

/** An idempotency key as recorded: which export it created, for which request. */
export interface IdempotencyClaim {
  /** Whose key it is (a token id): two callers' keys never collide. */
  readonly scope: string;
  readonly key: string;
  /** A digest of the request the key was first used with. */
  readonly fingerprint: string;
  readonly exportId: string;
}

export interface ExportJobStore {
  /** Stores a new job; a ConflictError if the id exists. */
  createJob(job: ExportJob): Promise<void>;
  getJob(id: string): Promise<Revisioned<ExportJob> | undefined>;
  /**
   * Replaces the job if it is still at `revision` and returns the new revision; a ConflictError
   * when someone else saved it first (the caller re-reads and decides again).
   */
  saveJob(job: ExportJob, revision: number): Promise<number>;
  /** Jobs newest first; `cursor` continues a previous page. */
  listJobs(options: { readonly limit: number; readonly cursor?: string }): Promise<{
    readonly jobs: readonly ExportJob[];
    readonly cursor?: string;
  }>;
  /**
   * Records the claim unless its scope and key were claimed before; returns the earlier claim in
   * that case (and writes nothing).
   */
  claimIdempotencyKey(claim: IdempotencyClaim): Promise<IdempotencyClaim | undefined>;
  /** The claim of `key` in `scope`, if one was recorded; reads only. */
  findIdempotencyKey(scope: string, key: string): Promise<IdempotencyClaim | undefined>;
}

/** One of a principal's running-export slots, held by one export (functions/core/export/export-limits.ts). */
export interface RunningExportSlot {
  /** 0 to the limit minus 1. */
  readonly index: number;
  readonly exportId: string;
  /** When the export claimed it (ISO 8601 UTC). */
  readonly claimedAt: string;
}

/**
 * A fixed number of slots per principal, each held by at most one export: the limit on exports
 * queued or running at once. Claims are conditional single-item writes, so concurrent creates can
 * never hold more slots than there are.
 */
export interface RunningExportSlots {
  /** The principal's taken slots, read consistently. */
  takenSlots(owner: string): Promise<readonly RunningExportSlot[]>;
  /**
   * Takes `slot.index` for `slot.exportId` if it is free, or still held by `replacing` (a holder
   * found finished); false when another export holds it.
   */
  claimSlot(owner: string, slot: RunningExportSlot, replacing?: string): Promise<boolean>;
  /** Frees the slot `exportId` holds, if it holds one. */
  releaseSlot(owner: string, exportId: string): Promise<void>;
}

/**
 * Starts the export workflow for a job (a Step Functions execution named after the export id),
 * and stops it again when the export is cancelled.
 */
export interface WorkflowStarter {
  /** Starting an export that is already started is not an error. */
  startExport(exportId: string): Promise<void>;
  /**
   * Stops the export's execution (the one named after its id). An execution that does not exist
   * (never started) or has already ended is not an error. A task already running when it stops
   * runs on to its end; the steps find their job cancelled and publish nothing.
   */
  stopExport(exportId: string): Promise<void>;
  /**
   * Runs the workflow's Deliver step (then RecordAudit) again for a completed export, as an
   * execution named `executionName` (the export's own name is taken).
   */
  redeliverExport?(exportId: string, executionName: string): Promise<void>;
}

/** The tamper-evident audit trail: a hash chain of export actions (functions/core/audit/audit-chain.ts). */
export interface AuditLog {
  /** Appends a record as the next entry of the chain; safe under concurrent appenders. */
  append(
    record: AuditRecord,
  ): Promise<AuditEntry>;
  /**
   * Entries in chain order (seq > afterSeq, and <= toSeq when given), optionally only those about
   * one subject (an export id, say).
   */
  entries(options?: {
    readonly subject?: string;
    readonly afterSeq?: number;
    readonly toSeq?: number;
    readonly limit?: number;
  }): Promise<readonly AuditEntry[]>;
  /** The last entry linked into the chain (seq and hash), or undefined while it is empty. */
  head(): Promise<AuditHead | undefined>;
}

/**
 * Signs evidence (export manifests, audit checkpoints): a KMS asymmetric key on AWS, a P-256 key
 * pair kept in the data folder on the local stack (functions/core/evidence/signing.ts).
 */
export interface EvidenceSigner {
  /** Signs `message` with the current key. */
  sign(message: Uint8Array): Promise<EvidenceSignature>;
}

/** The public keys evidence is verified with: the current one and every retired one. */
export interface PublicKeyDirectory {
  publicKeys(): Promise<readonly PublicKeyInfo[]>;
}

/** Where one object of a delivery goes in a customer's bucket. */
export interface DeliveryDestination {
  readonly bucket: string;
  readonly key: string;
  /** The account that must own the bucket: every call to it carries it as ExpectedBucketOwner. */
  readonly account: string;
  /** @default - the deployment's own region */
  readonly region?: string;
  readonly contentType: string;
}

/**
 * Delivery to customer buckets on the deployment's allow-list (functions/core/export/delivery.ts).
 * A refusal that retrying cannot fix (no such bucket, access denied, another owner) is a
 * DeliveryRefusedError; a transient failure a DependencyError.
 */
export interface DeliveryStore {
  /**
   * Copies the artifact-bucket object `sourceKey` to `destination`, streamed part by part (an
   * artifact may be gigabytes), replacing any object at that key.
   */
  copyToCustomer(sourceKey: string, destination: DeliveryDestination): Promise<void>;
}

/** Recurring export schedules in the ExportControl table (functions/core/schedules/schedule.ts). */
export interface ScheduleStore {
  /** Stores a new schedule; a ConflictError if the name is taken. */
  createSchedule(schedule: ExportSchedule): Promise<void>;
  getSchedule(name: string): Promise<Revisioned<ExportSchedule> | undefined>;
  /** Replaces the schedule if it is still at `revision`; a ConflictError otherwise. */
  saveSchedule(schedule: ExportSchedule, revision: number): Promise<number>;
  deleteSchedule(name: string): Promise<void>;
  /** Every schedule, by name (there are at most a few hundred). */
  listSchedules(): Promise<readonly ExportSchedule[]>;
  countSchedules(): Promise<number>;
}

/** What fires a schedule: EventBridge Scheduler on AWS, croner on the local stack. */
export interface ScheduleTrigger {
  /** Creates the trigger, or updates it to this expression, time zone and state. */
  putTrigger(schedule: {
    readonly name: string;
    readonly expression: string;
    readonly timezone: string;
    readonly enabled: boolean;
  }): Promise<void>;
  /** Removes the trigger; removing one that does not exist is not an error. */
  deleteTrigger(name: string): Promise<void>;
}
