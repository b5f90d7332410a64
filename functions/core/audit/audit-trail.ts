import { type FieldIssue, ValidationError } from '../errors.ts';
import type { AuditLog } from '../ports.ts';
import { type AppendOptions, appendEntry } from './append-entry.ts';
import type { AuditEntry, AuditHead, AuditRecord } from './audit-chain.ts';
import { type AuditChainStore, MAX_AUDIT_SEQ } from './audit-chain-store.ts';
import { type CheckpointWriterDeps, writeCheckpointIfDue } from './checkpoint.ts';

export const MAX_ENTRIES_LIMIT = 1000;

export interface AuditTrailOptions extends AppendOptions {
  /** When set, appends write signed checkpoints of the head when one is due (checkpoint.ts). */
  readonly checkpoints?: CheckpointWriterDeps;
  /**
   * A checkpoint that could not be written: the append it followed has succeeded all the same
   * (its entry is in the chain), and the next append tries again, so this only reports it.
   */
  readonly onCheckpointError?: (error: unknown) => void;
}

/**
 * The AuditLog the rest of the code uses: the append rules (append-entry.ts) and reads over an
 * AuditChainStore, and signed checkpoints of the head when configured.
 */
export class AuditTrail implements AuditLog {
  constructor(
    private readonly store: AuditChainStore,
    private readonly options: AuditTrailOptions = {},
  ) {}

  async append(record: AuditRecord): Promise<AuditEntry> {
    const entry = await appendEntry(this.store, record, this.options);
    const { checkpoints } = this.options;
    if (checkpoints !== undefined) {
      try {
        await writeCheckpointIfDue(checkpoints, entry);
      } catch (error) {
        this.options.onCheckpointError?.(error);
      }
    }
    return entry;
  }

  async entries(
    options: {
      readonly subject?: string;
      readonly afterSeq?: number;
      readonly toSeq?: number;
      readonly limit?: number;
    } = {},
  ): Promise<readonly AuditEntry[]> {
    const { subject, afterSeq = 0, toSeq, limit } = options;
    const issues: FieldIssue[] = [];
    if (subject !== undefined && (typeof subject !== 'string' || subject.length === 0)) {
      issues.push({ field: 'subject', rule: 'must be a non-empty string' });
    }
    if (!Number.isSafeInteger(afterSeq) || afterSeq < 0 || afterSeq > MAX_AUDIT_SEQ) {
      issues.push({ field: 'afterSeq', rule: 'must be a whole number of 0 or more' });
    }
    if (toSeq !== undefined && (!Number.isSafeInteger(toSeq) || toSeq < 1 || toSeq > MAX_AUDIT_SEQ)) {
      issues.push({ field: 'toSeq', rule: 'must be a whole number of 1 or more' });
    }
    if (limit !== undefined && (!Number.isInteger(limit) || limit < 1 || limit > MAX_ENTRIES_LIMIT)) {
      issues.push({ field: 'limit', rule: `must be a whole number from 1 to ${MAX_ENTRIES_LIMIT}` });
    }
    if (issues.length > 0) throw new ValidationError('The audit query is invalid.', issues);
    if (afterSeq === MAX_AUDIT_SEQ || (toSeq !== undefined && toSeq <= afterSeq)) return [];

    const entries: AuditEntry[] = [];
    let after = afterSeq;
    for (;;) {
      const want = limit === undefined ? MAX_ENTRIES_LIMIT : limit - entries.length;
      const page = await this.store.query({
        afterSeq: after,
        limit: want,
        ...(toSeq === undefined ? {} : { toSeq }),
        ...(subject === undefined ? {} : { subject }),
      });
      entries.push(...page);
      const last = page.at(-1);
      if (page.length < want || last === undefined || limit !== undefined) return entries;
      after = last.seq;
    }
  }

  /**
   * The last entry of the chain. The stored head can lag behind an appender that crashed between
   * writing its entry and moving the head (the next append moves it); the entries after it are
   * looked up so the answer is the chain's real end. Nothing is written.
   */
  async head(): Promise<AuditHead | undefined> {
    let head: AuditHead | undefined = await this.store.readHead();
    for (let step = 0; step < 16; step++) {
      const next = await this.store.readEntry((head?.seq ?? 0) + 1);
      if (next === undefined) break;
      head = { seq: next.entry.seq, hash: next.entry.hash };
    }
    return head;
  }
}
