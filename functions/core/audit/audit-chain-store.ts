import type { AuditEntry, AuditHead } from './audit-chain.ts';

/**
 * Where the audit chain is kept: the small port the append rules (append-entry.ts) are written
 * against. An implementation only stores and reads; every rule about linking, racing and
 * recovering lives in the core. Each write is one conditional single-item write, so any store
 * with conditional puts (DynamoDB, and the local stack's dynalite) implements it directly.
 */
export interface AuditChainStore {
  /** The head as stored (the last entry linked into the chain), or undefined before the first append. */
  readHead(): Promise<AuditHead | undefined>;
  /**
   * Writes entry `entry.seq` with `writer` beside it (bookkeeping, not part of the hashed entry)
   * if that slot is empty; false when the slot is taken. A store may resend a write whose answer
   * was lost, so false can also mean "taken by this very write": the writer tells them apart.
   */
  putEntryIfAbsent(entry: AuditEntry, writer: string): Promise<boolean>;
  /** The entry stored at `seq` and who wrote it, read consistently; undefined for an empty slot. */
  readEntry(seq: number): Promise<StoredAuditEntry | undefined>;
  /**
   * Moves the head to `to` if it is still at `from` (`from` undefined: only if there is no head
   * yet); false when someone moved it first.
   */
  moveHead(from: AuditHead | undefined, to: AuditHead): Promise<boolean>;
  /**
   * Up to `limit` entries with `afterSeq < seq <= toSeq` (toSeq: no upper bound when absent), in
   * chain order, optionally only those about `subject`. Fewer than `limit` means there are no more.
   */
  query(query: AuditStoreQuery): Promise<readonly AuditEntry[]>;
}

/** An entry as stored, with the id of the append that wrote it. */
export interface StoredAuditEntry {
  readonly entry: AuditEntry;
  readonly writer: unknown;
}

export interface AuditStoreQuery {
  readonly afterSeq: number;
  readonly toSeq?: number;
  readonly subject?: string;
  readonly limit: number;
}

/** The highest seq a store can hold (12 decimal digits in its keys). */
export const MAX_AUDIT_SEQ = 10 ** 12 - 1;
